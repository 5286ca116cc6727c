"""Reading what the platform holds, as far as the asking principal may see: submissions (filtered,
searched, paginated), one submission, products, keys, organisations, tokens.

Every query takes the principal and applies the policy itself: a list holds only what the role may
read, and a single object outside the principal's reach is reported exactly as a missing one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from ..auth.policy import Action, Decision, Principal, Scope, decide, visible_orgs
from ..db.models import ApiToken, Organisation, Product, SigningKey, Submission, SubmissionDevice
from .errors import Forbidden, LoginRequired, NotVisible

T = TypeVar("T")
PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_FILTER = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class SubmissionFilter:
    vendor: str = ""  # organisation slug
    lab: str = ""  # organisation slug
    product: str = ""  # product/model, a part of it
    soc: str = ""
    os: str = ""  # OS name, a part of it
    os_version: str = ""
    verdict: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str = ""  # words that must all appear (run id, device, model, fingerprint, serial, ...)
    product_id: int | None = None

    def active(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items() if v not in ("", None)}


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = PER_PAGE

    def clamp(self) -> PageRequest:
        return PageRequest(max(1, self.page), min(max(1, self.per_page), MAX_PER_PAGE))


def check(principal: Principal | None, action: Action, scope: Scope | None = None) -> Principal:
    decision = decide(principal, action, scope)
    if decision is Decision.ALLOW:
        assert principal is not None
        return principal
    if decision is Decision.HIDE:
        raise NotVisible()
    if decision is Decision.DENY:
        raise Forbidden()
    raise LoginRequired()


def _like(text: str) -> str:
    escaped = text[:MAX_FILTER].lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    return func.lower(column).like(_like(text), escape="\\")


def _visible(query: Select[Any], principal: Principal, action: Action) -> Select[Any]:
    orgs = visible_orgs(principal, action)
    if orgs is None:
        return query
    return query.where(or_(Submission.vendor_org_id.in_(orgs), Submission.lab_org_id.in_(orgs)))


def _org_id(db: Session, slug: str) -> int:
    return db.scalar(select(Organisation.id).where(Organisation.slug == slug[:64])) or -1


def _filtered(db: Session, query: Select[Any], f: SubmissionFilter) -> Select[Any]:
    if f.vendor:
        query = query.where(Submission.vendor_org_id == _org_id(db, f.vendor))
    if f.lab:
        query = query.where(Submission.lab_org_id == _org_id(db, f.lab))
    if f.verdict:
        query = query.where(Submission.verdict == f.verdict)
    if f.date_from:
        start = dt.datetime.combine(f.date_from, dt.time(), dt.UTC)
        query = query.where(Submission.created_at >= start)
    if f.date_to:
        end = dt.datetime.combine(f.date_to + dt.timedelta(days=1), dt.time(), dt.UTC)
        query = query.where(Submission.created_at < end)
    device_terms: list[ColumnElement[bool]] = []
    if f.product:
        device_terms.append(_contains(SubmissionDevice.model, f.product))
    if f.soc:
        device_terms.append(_contains(SubmissionDevice.soc, f.soc))
    if f.os:
        device_terms.append(_contains(SubmissionDevice.os_name, f.os))
    if f.os_version:
        device_terms.append(_contains(SubmissionDevice.os_version, f.os_version))
    if f.product_id is not None:
        device_terms.append(SubmissionDevice.product_id == f.product_id)
    if device_terms:
        # One device must match every device filter (not one the OS and another the SoC).
        query = query.where(
            exists().where(SubmissionDevice.submission_id == Submission.id, and_(*device_terms))
        )
    for word in f.q.split()[:10]:
        query = query.where(Submission.search_text.like(_like(word), escape="\\"))
    return query


def list_submissions(
    db: Session, principal: Principal, f: SubmissionFilter, page: PageRequest
) -> Page[Submission]:
    check(principal, Action.SUBMISSION_LIST)
    page = page.clamp()
    base = _filtered(db, _visible(select(Submission), principal, Action.SUBMISSION_LIST), f)
    total = db.scalar(select(func.count()).select_from(base.order_by(None).subquery())) or 0
    rows = db.scalars(
        base.options(
            selectinload(Submission.devices), selectinload(Submission.vendor), selectinload(Submission.lab)
        )
        .order_by(Submission.created_at.desc(), Submission.id.desc())
        .limit(page.per_page)
        .offset((page.page - 1) * page.per_page)
    ).all()
    return Page(rows, total, page.page, page.per_page)


def submission_scope(sub: Submission) -> Scope:
    return Scope(orgs=frozenset({sub.vendor_org_id, sub.lab_org_id}))


def get_submission(db: Session, principal: Principal, submission_id: int, action: Action) -> Submission:
    sub = db.get(
        Submission,
        submission_id,
        options=[
            selectinload(Submission.devices).selectinload(SubmissionDevice.requirements),
            selectinload(Submission.devices).selectinload(SubmissionDevice.failures),
            selectinload(Submission.signing_key),
        ],
    )
    if sub is None:
        check(principal, action, Scope())  # a role that may never do it hears 403, others 404
        raise NotVisible()
    check(principal, action, submission_scope(sub))
    return sub


@dataclass(frozen=True)
class ProductView:
    product: Product
    submissions: Page[Submission]
    labs: frozenset[int] = field(default_factory=frozenset)


def product_scope(db: Session, product: Product) -> Scope:
    labs = db.scalars(
        select(Submission.lab_org_id)
        .join(SubmissionDevice, SubmissionDevice.submission_id == Submission.id)
        .where(SubmissionDevice.product_id == product.id)
        .distinct()
    ).all()
    return Scope(orgs=frozenset({product.vendor_org_id, *labs}))


def get_product(db: Session, principal: Principal, product_id: int, page: PageRequest) -> ProductView:
    product = db.get(Product, product_id, options=[selectinload(Product.vendor)])
    if product is None:
        check(principal, Action.PRODUCT_READ, Scope())
        raise NotVisible()
    scope = product_scope(db, product)
    check(principal, Action.PRODUCT_READ, scope)
    subs = list_submissions(db, principal, SubmissionFilter(product_id=product.id), page)
    return ProductView(product, subs, scope.orgs)


def list_products(db: Session, principal: Principal, vendor: str, q: str, page: PageRequest) -> Page[Product]:
    check(principal, Action.PRODUCT_LIST)
    page = page.clamp()
    query = select(Product)
    orgs = visible_orgs(principal, Action.PRODUCT_LIST)
    if orgs is not None:
        published_by = (
            select(SubmissionDevice.product_id)
            .join(Submission, SubmissionDevice.submission_id == Submission.id)
            .where(Submission.lab_org_id.in_(orgs))
        )
        query = query.where(or_(Product.vendor_org_id.in_(orgs), Product.id.in_(published_by)))
    if vendor:
        query = query.where(Product.vendor_org_id == _org_id(db, vendor))
    if q:
        query = query.where(or_(_contains(Product.model, q), _contains(Product.soc, q)))
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(
        query.options(selectinload(Product.vendor))
        .order_by(Product.model, Product.id)
        .limit(page.per_page)
        .offset((page.page - 1) * page.per_page)
    ).all()
    return Page(rows, total, page.page, page.per_page)


def list_keys(db: Session, principal: Principal) -> Sequence[SigningKey]:
    check(principal, Action.KEY_LIST)
    query = select(SigningKey).options(selectinload(SigningKey.org)).order_by(SigningKey.registered_at)
    orgs = visible_orgs(principal, Action.KEY_LIST)
    if orgs is not None:
        query = query.where(SigningKey.org_id.in_(orgs))
    return db.scalars(query).all()


def list_orgs(db: Session, principal: Principal) -> Sequence[Organisation]:
    check(principal, Action.ORG_LIST)
    query = select(Organisation).order_by(Organisation.slug)
    orgs = visible_orgs(principal, Action.ORG_LIST)
    if orgs is not None:
        query = query.where(Organisation.id.in_(orgs))
    return db.scalars(query).all()


def vendor_and_lab_choices(
    db: Session, principal: Principal
) -> tuple[list[Organisation], list[Organisation]]:
    orgs = list_orgs(db, principal)
    return [o for o in orgs if o.kind == "vendor"], [o for o in orgs if o.kind in ("lab", "vendor")]


def token_scope(row: ApiToken) -> Scope:
    return Scope(orgs=frozenset({row.org_id}), owner_user=row.user_id, owner_token=row.id)


def list_tokens(db: Session, principal: Principal) -> Sequence[ApiToken]:
    check(principal, Action.TOKEN_LIST)
    query = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if decide(principal, Action.TOKEN_LIST, Scope(orgs=frozenset({-1}))) is not Decision.ALLOW:
        mine = [ApiToken.id == principal.token_id] if principal.token_id else []
        if principal.user_id is not None:
            mine.append(ApiToken.user_id == principal.user_id)
        query = query.where(or_(*mine)) if mine else query.where(ApiToken.id == -1)
    return db.scalars(query).all()


def get_token(db: Session, principal: Principal, token_id: int, action: Action) -> ApiToken:
    row = db.get(ApiToken, token_id)
    if row is None:
        check(principal, action, Scope())
        raise NotVisible()
    check(principal, action, token_scope(row))
    return row
