"""Certificates: issued by an officer when every device of a submission is CERTIFIED with the
vendor's waivers applied, signed with the platform's key; derived from a certified product when the
inheritance rules hold; revoked with a reason; listed, signed, in the revocation list.

A certificate expires after its validity or at the earliest expiry of a waiver it relies on,
whichever comes first: when a waiver runs out, so does every certificate that needed it."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ...certificate import CERT_FORMAT, REVOCATIONS_FORMAT
from ...envelope import Envelope, parse_envelope, seal
from ...waivers import instant_text
from ..auth.policy import Action, Principal, Scope, visible_orgs
from ..db.cert_models import Certificate
from ..db.engine import Database
from ..db.models import Organisation, Product, Submission, User
from ..signer import PlatformSigner
from . import audit, inheritance, waiver_service
from .assessment import assess_submission
from .catalogue import check
from .errors import Conflict, Invalid, NotVisible
from .lifecycle import State, change_state

DEFAULT_DAYS = 365
MAX_DAYS = 3 * 366


def new_cert_id(at: dt.datetime) -> str:
    # Random, so that the public verification page cannot be walked to find unlisted products.
    return f"HPC-{at:%Y}-{secrets.token_hex(5).upper()}"


def _issued_body(
    cert_id: str,
    sub: Submission,
    signer: PlatformSigner,
    officer: str,
    at: dt.datetime,
    days: int,
    waivers: Sequence[Any],
    passed: list[str],
    base_url: str,
) -> tuple[dict[str, Any], dt.datetime]:
    device = sub.devices[0]
    product = device.product
    expires = at + dt.timedelta(days=days)
    waived = []
    for e in waivers:
        waived.append(
            {
                "requirement": e.waiver.requirement,
                "waiver": e.waiver.id,
                "reason": e.waiver.reason,
                "expires": e.waiver.expires,
                "approved_by": e.waiver.approved_by,
            }
        )
        expires = min(expires, e.waiver.expires_at)
    body = {
        "certificate_id": cert_id,
        "platform": {"key_id": signer.key_id, "url": base_url},
        "product": {
            "vendor": sub.vendor.slug,
            "vendor_name": sub.vendor.name,
            "model": product.model,
            "soc": product.soc,
            "board": product.board,
            "kind": product.kind,
        },
        "os": {"name": device.os_name, "version": device.os_version},
        "devices": [
            {
                "name": d.name,
                "model": d.model or d.reported_model,
                "soc": d.soc,
                "os_name": d.os_name,
                "os_version": d.os_version,
                "fingerprint": d.fingerprint,
            }
            for d in sub.devices
        ],
        "build_fingerprints": sorted({d.fingerprint for d in sub.devices if d.fingerprint}),
        "bundle": {
            "sha256": sub.sha256,
            "manifest_sha256": sub.manifest_sha256,
            "run_id": sub.run_id,
            "lab": sub.lab.slug,
            "lab_key_id": sub.signing_key.key_id,
        },
        "requirements": {
            "passed": passed,
            "waived": sorted(waived, key=lambda w: (w["requirement"], w["waiver"])),
        },
        "issued": instant_text(at),
        "expires": instant_text(expires),
        "officer": officer,
        "submission_id": sub.id,
        "derived_from": None,
    }
    return body, expires


def _store(
    db: Session,
    envelope: Envelope,
    sub: Submission,
    product: Product,
    officer_id: int,
    at: dt.datetime,
    expires: dt.datetime,
    derived_from: Certificate | None = None,
) -> Certificate:
    body = envelope.body
    row = Certificate(
        cert_id=body["certificate_id"],
        submission_id=sub.id,
        product_id=product.id,
        vendor_org_id=product.vendor_org_id,
        derived_from_id=derived_from.id if derived_from else None,
        os_name=body["os"]["name"][:200],
        os_version=body["os"]["version"][:200],
        body=envelope.text(),
        signature=envelope.to_dict()["signature"]["value"],
        key_id=envelope.key_id,
        issued_at=at,
        expires_at=expires,
        officer_user_id=officer_id,
    )
    db.add(row)
    db.flush()
    return row


def certify(
    database: Database,
    signer: PlatformSigner,
    actor: audit.Actor,
    principal: Principal,
    submission_id: int,
    days: int = DEFAULT_DAYS,
    now: dt.datetime | None = None,
    base_url: str = "",
) -> Certificate:
    """Issue the certificate and move the submission to certified, in one transaction."""
    check(principal, Action.CERTIFICATE_ISSUE)
    if not 1 <= days <= MAX_DAYS:
        raise Invalid(f"days: between 1 and {MAX_DAYS}")
    made: list[int] = []

    def issue(db: Session, sub: Submission, at: dt.datetime) -> dict[str, Any]:
        waivers = waiver_service.approved_for(db, sub.vendor_org_id)
        result = assess_submission(sub, waivers, at)
        if not result.certifiable:
            raise Conflict(
                f"submission {sub.id} is {result.worst} with the vendor's waivers applied: "
                "only a submission whose every device is CERTIFIED can be certified"
            )
        officer = db.get(User, principal.user_id) if principal.user_id else None
        applied = [e for d in result.devices for e in d.applied]
        unique = list({e.waiver.id: e for e in applied}.values())
        passed = sorted({r.id for d in result.devices for r in d.requirements if r.status == "pass"})
        cert_id = new_cert_id(at)
        body, expires = _issued_body(
            cert_id, sub, signer, officer.username if officer else "", at, days, unique, passed, base_url
        )
        envelope = seal(CERT_FORMAT, body, signer.private)
        row = _store(db, envelope, sub, sub.devices[0].product, principal.user_id or 0, at, expires)
        made.append(row.id)
        return {"certificate": cert_id, "expires": body["expires"], "waivers": [e.waiver.id for e in unique]}

    change_state(
        database, actor, principal, submission_id, State.CERTIFIED, "certified", now=now, extra=issue
    )
    with database.read() as db:
        cert = db.get(Certificate, made[0])
        assert cert is not None
        return cert


def revoke(
    database: Database,
    actor: audit.Actor,
    principal: Principal,
    cert_row_id: int,
    reason: str,
    now: dt.datetime | None = None,
) -> Certificate:
    check(principal, Action.CERTIFICATE_REVOKE)
    with database.read() as db:
        cert = get(db, principal, cert_row_id, Action.CERTIFICATE_REVOKE)
        submission_id, derived = cert.submission_id, cert.derived_from_id is not None
        if cert.revoked_at is not None:
            raise Conflict(f"certificate {cert.cert_id} is revoked already")
    if not reason.strip():
        raise Invalid("a revocation needs a reason")

    def mark(db: Session, sub: Submission, at: dt.datetime) -> dict[str, Any]:
        row = db.get(Certificate, cert_row_id)
        assert row is not None
        row.revoked_at, row.revoke_reason = at, reason.strip()[:4000]
        return {"certificate": row.cert_id}

    if derived:  # a derived certificate's submission is its source's: it stays certified
        with database.write() as db:
            row = db.get(Certificate, cert_row_id)
            assert row is not None
            at = now or dt.datetime.now(dt.UTC)
            row.revoked_at, row.revoke_reason = at, reason.strip()[:4000]
            audit.append(
                db,
                actor,
                audit.Record(
                    "certificate.revoke",
                    "certificate",
                    row.cert_id,
                    row.vendor.slug,
                    "valid",
                    "revoked",
                    {"reason": reason.strip()},
                ),
                at,
            )
    else:
        change_state(database, actor, principal, submission_id, State.REVOKED, reason, now=now, extra=mark)
    with database.read() as db:
        done = db.get(Certificate, cert_row_id)
        assert done is not None
        return done


def derive(
    database: Database,
    signer: PlatformSigner,
    actor: audit.Actor,
    principal: Principal,
    product_id: int,
    source_cert_id: str,
    os_name: str,
    os_version: str,
    now: dt.datetime | None = None,
    base_url: str = "",
) -> tuple[Certificate, list[inheritance.RuleResult]]:
    """A certificate for `product_id` inherited from a valid certificate of another product, when
    every inheritance rule holds (each rule's outcome goes into the certificate and the audit)."""
    check(principal, Action.CERTIFICATE_DERIVE)
    at = now or dt.datetime.now(dt.UTC)
    with database.write() as db:
        target = db.get(Product, product_id, options=[selectinload(Product.vendor)])
        if target is None:
            raise NotVisible()
        source = db.scalar(select(Certificate).where(Certificate.cert_id == source_cert_id.strip()[:40]))
        if source is None:
            raise Invalid(f"source certificate {source_cert_id[:40]!r}: no such certificate")
        if status_of(source, at) != "valid":
            raise Conflict(f"source certificate {source.cert_id} is {status_of(source, at)}")
        if source.product_id == target.id:
            raise Invalid("a product cannot inherit from its own certificate")
        source_body = parse_envelope(_json(source.body)).body
        results = inheritance.evaluate(
            inheritance.load_rules(),
            inheritance.facts_from_certificate(source_body),
            inheritance.Facts(
                vendor=target.vendor.slug,
                soc=target.soc,
                board=target.board,
                kind=target.kind,
                os_name=os_name.strip(),
                os_version=os_version.strip(),
            ),
        )
        failed = [r for r in results if not r.holds]
        if failed:
            raise Conflict("inheritance refused: " + "; ".join(f"{r.rule}: {r.why}" for r in failed))
        sub = db.get(Submission, source.submission_id)
        assert sub is not None
        officer = db.get(User, principal.user_id) if principal.user_id else None
        cert_id = new_cert_id(at)
        body = dict(source_body)
        body.update(
            {
                "certificate_id": cert_id,
                "platform": {"key_id": signer.key_id, "url": base_url},
                "product": {
                    "vendor": target.vendor.slug,
                    "vendor_name": target.vendor.name,
                    "model": target.model,
                    "soc": target.soc,
                    "board": target.board,
                    "kind": target.kind,
                },
                "os": {"name": os_name.strip(), "version": os_version.strip()},
                "issued": instant_text(at),
                "expires": source_body["expires"],  # never outlives its source
                "officer": officer.username if officer else "",
                "derived_from": {
                    "certificate_id": source.cert_id,
                    "rules": [{"rule": r.rule, "holds": r.holds, "why": r.why} for r in results],
                },
            }
        )
        envelope = seal(CERT_FORMAT, body, signer.private)
        row = _store(db, envelope, sub, target, principal.user_id or 0, at, source.expires_at, source)
        audit.append(
            db,
            actor,
            audit.Record(
                "certificate.derive",
                "certificate",
                cert_id,
                target.vendor.slug,
                "",
                "valid",
                {"source": source.cert_id, "product": target.id, "rules": [r.rule for r in results]},
            ),
            at,
        )
    return row, results


def _json(text: str) -> Any:
    import json

    return json.loads(text)


def envelope_of(cert: Certificate) -> Envelope:
    return parse_envelope(_json(cert.body))


def status_of(cert: Certificate, at: dt.datetime) -> str:
    if cert.revoked_at is not None:
        return "revoked"
    if cert.expires_at <= at:
        return "expired"
    if cert.derived_from is not None and status_of(cert.derived_from, at) == "revoked":
        return "revoked"  # the source was withdrawn: so is what it lent
    return "valid"


def _scope(cert: Certificate) -> Scope:
    return Scope(orgs=frozenset({cert.vendor_org_id, cert.submission.lab_org_id}))


def get(db: Session, principal: Principal, cert_row_id: int, action: Action) -> Certificate:
    cert = db.get(
        Certificate,
        cert_row_id,
        options=[selectinload(Certificate.submission), selectinload(Certificate.vendor)],
    )
    if cert is None:
        check(principal, action, Scope())
        raise NotVisible()
    check(principal, action, _scope(cert))
    return cert


def by_public_id(db: Session, cert_id: str) -> Certificate | None:
    return db.scalar(
        select(Certificate)
        .options(
            selectinload(Certificate.vendor),
            selectinload(Certificate.product),
            selectinload(Certificate.derived_from),
        )
        .where(Certificate.cert_id == cert_id[:40])
    )


def listing(db: Session, principal: Principal) -> Sequence[Certificate]:
    check(principal, Action.CERTIFICATE_LIST)
    query = select(Certificate).options(
        selectinload(Certificate.vendor),
        selectinload(Certificate.product),
        selectinload(Certificate.submission),
        selectinload(Certificate.derived_from),
    )
    orgs = visible_orgs(principal, Action.CERTIFICATE_LIST)
    if orgs is not None:
        query = query.join(Submission, Submission.id == Certificate.submission_id).where(
            (Certificate.vendor_org_id.in_(orgs)) | (Submission.lab_org_id.in_(orgs))
        )
    return db.scalars(query.order_by(Certificate.id.desc()).limit(1000)).all()


def for_submission(db: Session, submission_id: int) -> list[Certificate]:
    return list(
        db.scalars(
            select(Certificate).where(Certificate.submission_id == submission_id).order_by(Certificate.id)
        )
    )


@dataclass(frozen=True)
class Revocation:
    certificate_id: str
    revoked_at: str
    reason: str


def revocation_list(db: Session, signer: PlatformSigner, at: dt.datetime) -> Envelope:
    """Every revoked certificate (and those derived from one), signed, as of `at`."""
    rows = db.scalars(
        select(Certificate).options(selectinload(Certificate.derived_from)).order_by(Certificate.id)
    ).all()
    revoked = []
    for c in rows:
        if c.revoked_at is not None:
            revoked.append(
                {
                    "certificate_id": c.cert_id,
                    "revoked_at": instant_text(c.revoked_at),
                    "reason": c.revoke_reason,
                }
            )
        elif c.derived_from is not None and c.derived_from.revoked_at is not None:
            revoked.append(
                {
                    "certificate_id": c.cert_id,
                    "revoked_at": instant_text(c.derived_from.revoked_at),
                    "reason": f"its source {c.derived_from.cert_id} was revoked",
                }
            )
    return seal(REVOCATIONS_FORMAT, {"issued": instant_text(at), "revoked": revoked}, signer.private)


def expire_due(database: Database, at: dt.datetime) -> list[int]:
    """Move every certified submission whose certificate has run out to expired (the system's change)."""
    with database.read() as db:
        due = list(
            db.scalars(
                select(Certificate.submission_id)
                .join(Submission, Submission.id == Certificate.submission_id)
                .where(
                    Submission.state == State.CERTIFIED.value,
                    Certificate.derived_from_id.is_(None),
                    Certificate.revoked_at.is_(None),
                    Certificate.expires_at <= at,
                )
            )
        )
    moved = []
    for sid in due:
        try:
            change_state(database, audit.SYSTEM, None, sid, State.EXPIRED, "the certificate expired", now=at)
            moved.append(sid)
        except Conflict:  # another process expired it first
            pass
    return moved


__all__ = ["Organisation", "certify", "derive", "revoke"]
