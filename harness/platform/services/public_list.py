"""The public list of certified products: only products whose vendor opted in, only while they hold
a valid certificate, and only the fields a buyer needs (company, product, type, SoC/module, OS and
version, certificate ID and dates). Nothing here takes a principal: it is what anyone sees."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ...waivers import instant_text
from ..auth.policy import Action, Principal, Scope
from ..db.cert_models import Certificate, PublicListing
from ..db.models import Product
from ..db.types import utcnow
from . import audit
from .catalogue import check
from .certificates import status_of
from .errors import NotVisible


@dataclass(frozen=True)
class Listed:
    company: str
    product: str
    kind: str
    soc: str
    os_name: str
    os_version: str
    certificate_id: str
    issued: str
    expires: str


def public_products(db: Session, at: dt.datetime) -> list[Listed]:
    listed_ids = select(PublicListing.product_id).where(PublicListing.listed.is_(True))
    certs = db.scalars(
        select(Certificate)
        .options(
            selectinload(Certificate.vendor),
            selectinload(Certificate.product),
            selectinload(Certificate.derived_from),
        )
        .where(
            Certificate.product_id.in_(listed_ids),
            Certificate.revoked_at.is_(None),
            Certificate.expires_at > at,
        )
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
    ).all()
    out, seen = [], set()
    for c in certs:
        if c.product_id in seen or status_of(c, at) != "valid":
            continue
        seen.add(c.product_id)
        out.append(
            Listed(
                company=c.vendor.name,
                product=c.product.model,
                kind=c.product.kind,
                soc=c.product.soc,
                os_name=c.os_name,
                os_version=c.os_version,
                certificate_id=c.cert_id,
                issued=instant_text(c.issued_at),
                expires=instant_text(c.expires_at),
            )
        )
    out.sort(key=lambda x: (x.company.lower(), x.product.lower(), x.certificate_id))
    return out


def is_listed(db: Session, product_id: int) -> bool:
    row = db.get(PublicListing, product_id)
    return bool(row and row.listed)


def set_listing(
    db: Session,
    principal: Principal,
    actor: audit.Actor,
    product_id: int,
    listed: bool,
    now: dt.datetime | None = None,
) -> bool:
    at = now or utcnow()
    product = db.get(Product, product_id, options=[selectinload(Product.vendor)])
    if product is None:
        check(principal, Action.LISTING_SET, Scope())
        raise NotVisible()
    # Only the vendor decides (and an admin): a lab that published the product has no say.
    check(principal, Action.LISTING_SET, Scope(orgs=frozenset({product.vendor_org_id})))
    row = db.get(PublicListing, product_id)
    before = bool(row and row.listed)
    if row is None:
        row = PublicListing(product_id=product_id, listed=listed, changed_at=at)
        db.add(row)
    else:
        row.listed, row.changed_at = listed, at
    if before != listed:
        audit.append(
            db,
            actor,
            audit.Record(
                "product.listing",
                "product",
                str(product_id),
                product.vendor.slug,
                "listed" if before else "unlisted",
                "listed" if listed else "unlisted",
            ),
            at,
        )
    db.flush()
    return listed
