"""Accepting a bundle: the request's vendor and declarations, the intake checks, the store, the rows.

A submission row is written only after its file is complete in the store, in one transaction with
its devices, requirements and failures: a crash leaves either nothing or a whole submission (and at
worst a stored file no row points to, which the same upload, retried, simply reuses)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..auth.policy import Principal
from ..config import Limits
from ..db.engine import Database
from ..db.models import (
    ApiToken,
    Organisation,
    OrgKind,
    Product,
    RequirementResult,
    SigningKey,
    Submission,
    SubmissionDevice,
    SubmissionState,
    TestFailure,
    User,
)
from ..db.types import utcnow
from ..intake.checks import CheckedBundle, RegisteredKey, check_bundle
from ..intake.refusal import Refused, Step
from ..results_doc import DeviceSummary
from ..store.blobs import BlobStore, Incoming
from . import audit, events, lifecycle
from .errors import Conflict, Forbidden, Invalid, NotVisible

MAX_DECLARED = 4096  # characters of the declarations a publisher sends (in the query string)
_DECLARED_KEYS = {"model", "soc", "board"}
_TEXT = re.compile(r"^[^\x00-\x1f\x7f]{0,200}$")


@dataclass(frozen=True)
class Declared:
    """What the publisher's inventory says of a device (not signed: the bundle does not hold it)."""

    model: str = ""
    soc: str = ""
    board: str = ""  # the board design (motherboard), which inheritance rules compare


@dataclass(frozen=True)
class PublishRequest:
    vendor: str | None  # the vendor organisation's slug; a vendor publishing its own may leave it out
    declared: dict[str, Declared]
    answers: int | None = None  # the submission (re-test requested or rejected) this new run answers


@dataclass(frozen=True)
class PublishOutcome:
    submission_id: int
    sha256: str
    run_id: str
    created: bool  # False: this exact bundle had been published already


def parse_declared(text: str | None) -> dict[str, Declared]:
    """`{"device": {"model": "...", "soc": "..."}}` from the request; Refused(PUBLISH) names the problem."""
    if not text:
        return {}
    if len(text) > MAX_DECLARED:
        raise Refused(Step.PUBLISH, f"declared: more than {MAX_DECLARED} characters")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise Refused(Step.PUBLISH, f"declared: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise Refused(Step.PUBLISH, "declared: must be an object of device name -> {model, soc}")
    out: dict[str, Declared] = {}
    for name, values in data.items():
        if not isinstance(values, dict) or set(values) - _DECLARED_KEYS:
            raise Refused(
                Step.PUBLISH,
                f"declared: device {str(name)[:80]!r}: only 'model', 'soc' and 'board' may be given",
            )
        for key, value in values.items():
            if not isinstance(value, str) or not _TEXT.match(value):
                raise Refused(
                    Step.PUBLISH, f"declared: device {str(name)[:80]!r}, key {key!r}: a line of text"
                )
        out[str(name)] = Declared(model=values.get("model", ""), soc=values.get("soc", ""),
                                  board=values.get("board", ""))
    return out


class _Keys:
    def __init__(self, db: Session) -> None:
        self.db = db

    def find(self, key_id: str) -> RegisteredKey | None:
        row = self.db.scalar(select(SigningKey).where(SigningKey.key_id == key_id))
        if row is None:
            return None
        return RegisteredKey(row.id, row.key_id, row.org_id, row.public_key, row.revoked_at is not None)


def _vendor_for(db: Session, principal: Principal, slug: str | None) -> Organisation:
    own = db.get(Organisation, principal.org_id)
    assert own is not None
    if own.kind == OrgKind.VENDOR:
        if slug and slug != own.slug:
            raise Refused(
                Step.PUBLISH, f"vendor {slug!r}: a vendor publishes only its own products ({own.slug})"
            )
        return own
    if not slug:
        raise Refused(
            Step.PUBLISH, "vendor: a lab names the vendor it publishes for (harness publish --vendor SLUG)"
        )
    vendor = db.scalar(select(Organisation).where(Organisation.slug == slug))
    if vendor is None or vendor.kind != OrgKind.VENDOR:
        raise Refused(Step.PUBLISH, f"vendor {slug!r}: no such vendor organisation on this platform")
    return vendor


def _product(db: Session, vendor_id: int, model: str, soc: str, kind: str, board: str = "") -> Product:
    query = select(Product).where(Product.vendor_org_id == vendor_id, Product.model == model)
    row = db.scalar(query)
    if row is None:
        try:
            with db.begin_nested():
                row = Product(vendor_org_id=vendor_id, model=model, soc=soc, kind=kind, board=board)
                db.add(row)
        except IntegrityError:  # another upload made it a moment ago
            row = db.scalar(query)
            assert row is not None
    else:
        if soc and not row.soc:
            row.soc = soc
        if board and not row.board:
            row.board = board
    return row


def _device_row(
    db: Session, vendor_id: int, position: int, d: DeviceSummary, declared: Declared
) -> SubmissionDevice:
    ident = d.identity
    model = declared.model or ident.get("model", "") or d.name
    soc = declared.soc or ident.get("extra.soc", "")
    product = _product(db, vendor_id, model[:200], soc[:200], d.kind, declared.board[:200])
    row = SubmissionDevice(
        position=position,
        product_id=product.id,
        name=d.name,
        kind=d.kind,
        profile=d.profile,
        model=model[:200],
        soc=soc[:200],
        os_name=ident.get("os_name", "")[:200],
        os_version=ident.get("os_version", "")[:200],
        kernel=ident.get("kernel", ""),
        arch=ident.get("arch", "")[:64],
        fingerprint=ident.get("fingerprint", ""),
        serial=ident.get("serial", "")[:200],
        security_patch=ident.get("security_patch", "")[:64],
        reported_model=ident.get("model", "")[:200],
        verdict=d.verdict,
        verdict_reasons="\n".join(d.verdict_reasons),
        reachable=d.reachable,
        n_pass=d.counts["PASS"],
        n_fail=d.counts["FAIL"],
        n_error=d.counts["ERROR"],
        n_skip=d.counts["SKIP"],
        n_not_run=d.counts["NOT_RUN"],
        failures_total=d.failures_total,
    )
    row.requirements = [
        RequirementResult(
            position=i,
            requirement_id=r.id,
            level=r.level,
            status=r.status,
            title_en=r.title_en,
            title_zh=r.title_zh,
        )
        for i, r in enumerate(d.requirements)
    ]
    row.failures = [
        TestFailure(
            position=i,
            test_id=f.test_id,
            suite=f.suite,
            outcome=f.outcome,
            message=f.message,
            requirements=" ".join(f.requirements),
        )
        for i, f in enumerate(d.failures)
    ]
    return row


def _search_text(
    checked: CheckedBundle, rows: list[SubmissionDevice], vendor: Organisation, lab: Organisation
) -> str:
    words = [checked.run_id, vendor.slug, vendor.name, lab.slug, lab.name]
    for r in rows:
        words += [r.name, r.model, r.soc, r.os_name, r.os_version, r.fingerprint, r.serial, r.kernel]
    return " ".join(w for w in words if w).lower()


def _existing(db: Session, sha256: str) -> Submission | None:
    return db.scalar(select(Submission).where(Submission.sha256 == sha256))


def _same_bundle(existing: Submission, principal: Principal, vendor_id: int) -> PublishOutcome:
    if existing.lab_org_id != principal.org_id:  # cannot happen: the key check binds the bundle to one org
        raise Refused(Step.SIGNATURE, "this bundle was published by another organisation")
    if existing.vendor_org_id != vendor_id:
        raise Refused(
            Step.PUBLISH, f"this bundle is published already, as submission {existing.id} of another vendor"
        )
    return PublishOutcome(existing.id, existing.sha256, existing.run_id, created=False)


def accept(
    database: Database,
    store: BlobStore,
    limits: Limits,
    principal: Principal,
    incoming: Incoming,
    sha256: str,
    request: PublishRequest,
) -> PublishOutcome:
    """Check the finished upload `incoming` (digest `sha256`) and keep it; Refused says why not."""
    try:
        with database.read() as db:
            vendor_id = _vendor_for(db, principal, request.vendor).id
            if request.answers is not None:
                _answerable(db, principal, vendor_id, request.answers)
            checked = check_bundle(incoming.path, principal.org_id, _Keys(db), limits)
        names = {d.name for d in checked.results.devices}
        unknown = sorted(set(request.declared) - names)
        if unknown:
            raise Refused(Step.PUBLISH, f"declared: device {unknown[0]!r} is not in the bundle")
        store.commit(incoming, sha256)
    finally:
        incoming.discard()  # a no-op once committed
    try:
        with database.write() as db:
            existing = _existing(db, sha256)
            if existing is not None:
                return _same_bundle(existing, principal, vendor_id)
            outcome = _insert(db, principal, vendor_id, sha256, incoming.size, checked, request)
            vendor_slug, who = _slug(db, vendor_id), _publisher(db, principal)
        change = events.StateChange(
            outcome.submission_id, vendor_slug, "", SubmissionState.SUBMITTED, who, "published", utcnow()
        )
        events.emit(change)
        return outcome
    except IntegrityError:  # the same bundle, published at the same moment by another request
        with database.read() as db:
            existing = _existing(db, sha256)
            if existing is None:
                raise
            return _same_bundle(existing, principal, vendor_id)


def _insert(
    db: Session,
    principal: Principal,
    vendor_id: int,
    sha256: str,
    size: int,
    checked: CheckedBundle,
    request: PublishRequest,
) -> PublishOutcome:
    vendor = db.get(Organisation, vendor_id)
    lab = db.get(Organisation, principal.org_id)
    assert vendor is not None and lab is not None
    results = checked.results
    rows = [
        _device_row(db, vendor_id, i, d, request.declared.get(d.name, Declared()))
        for i, d in enumerate(results.devices)
    ]
    now = utcnow()
    sub = Submission(
        sha256=sha256,
        size=size,
        run_id=checked.run_id,
        vendor_org_id=vendor_id,
        lab_org_id=principal.org_id,
        signing_key_id=checked.key.id,
        uploaded_by_user_id=principal.user_id,
        uploaded_by_token_id=principal.token_id,
        manifest_sha256=checked.manifest_sha256,
        verified_at=now,
        created_at=now,
        verdict=results.verdict,
        harness_version=results.harness_version,
        run_started=results.start,
        run_ended=results.end,
        operator=results.operator,
        run_host=results.host,
        search_text=_search_text(checked, rows, vendor, lab),
    )
    sub.devices = rows
    db.add(sub)
    db.flush()
    if request.answers is not None:
        try:
            lifecycle.link_answer(db, sub, request.answers, principal)
        except (Conflict, Invalid, NotVisible, Forbidden) as exc:
            why = str(exc) or f"answers={request.answers}: no such submission"
            raise Refused(Step.PUBLISH, why) from None
    audit.append(
        db,
        audit.Actor(_publisher(db, principal), principal.role.value, "api"),
        audit.Record("submission.publish", "submission", str(sub.id), vendor.slug, "",
                     SubmissionState.SUBMITTED.value,
                     {"sha256": sha256, "run_id": sub.run_id, "lab": lab.slug, "answers": request.answers}),
        now,
    )
    return PublishOutcome(sub.id, sha256, sub.run_id, created=True)


def _answerable(db: Session, principal: Principal, vendor_id: int, previous_id: int) -> None:
    """Refuse early (before storing anything) an `answers` that cannot be linked."""
    previous = db.get(Submission, previous_id)
    visible = previous is not None and principal.org_id in (previous.vendor_org_id, previous.lab_org_id)
    if previous is None or not visible:
        raise Refused(Step.PUBLISH, f"answers={previous_id}: no such submission")
    if previous.vendor_org_id != vendor_id:
        raise Refused(Step.PUBLISH, f"answers={previous_id}: a submission of another vendor")
    if previous.state not in {s.value for s in lifecycle.ANSWERABLE}:
        raise Refused(Step.PUBLISH, f"answers={previous_id}: that submission is {previous.state}, "
                      "not waiting for an answer")


def _slug(db: Session, org_id: int) -> str:
    org = db.get(Organisation, org_id)
    return org.slug if org else ""


def _publisher(db: Session, principal: Principal) -> str:
    """The login of the user behind the upload, or the shown prefix of a CI token."""
    user = db.get(User, principal.user_id) if principal.user_id else None
    if user is not None:
        return user.username
    token = db.get(ApiToken, principal.token_id) if principal.token_id else None
    return f"token:{token.prefix}" if token else "token"
