"""Request and response documents of the certification API (lifecycle, waivers, certificates,
audit, the public list)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ...waivers import instant_text
from ..db.cert_models import AuditEntry, Certificate
from ..db.cert_models import Waiver as WaiverRow
from ..services.assessment import SubmissionAssessment
from ..services.waiver_service import waiver_id

Short = Field(max_length=200)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FindingBody(Strict):
    requirement: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=4000)


class StateBody(Strict):
    state: str = Field(description="in_review | retest_requested | rejected | approved", max_length=32)
    reason: str = Field("", max_length=4000)
    findings: list[FindingBody] = Field(
        default_factory=list, max_length=200, description="per requirement; required to reject"
    )


class StateOut(BaseModel):
    submission_id: int
    before: str
    after: str
    at: dt.datetime


class CertifyBody(Strict):
    days: int = Field(365, ge=1, le=1098, description="validity (capped by the earliest waiver expiry)")


class RevokeBody(Strict):
    reason: str = Field(min_length=1, max_length=4000)


class DeriveBody(Strict):
    source: str = Field(min_length=1, max_length=40, description="the certified product's certificate ID")
    os_name: str = Field(min_length=1, max_length=200)
    os_version: str = Field(min_length=1, max_length=200)


class ListingBody(Strict):
    listed: bool


class ListingOut(BaseModel):
    product_id: int
    listed: bool


class WaiverBody(Strict):
    requirement: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=4000)
    model: str = Field("", max_length=200)
    soc: str = Field("", max_length=200)
    profile: str = Field("", max_length=64)
    os_version: str = Field("", max_length=200)
    days: int = Field(90, ge=1, le=1098)


class DecisionBody(Strict):
    approve: bool
    expires: dt.datetime | None = Field(None, description="required to approve; in the future")
    note: str = Field("", max_length=4000)


class WaiverOut(BaseModel):
    id: int
    waiver_id: str
    vendor: str
    requirement: str
    model: str
    soc: str
    profile: str
    os_version: str
    reason: str
    state: str
    requested_by: str
    requested_at: dt.datetime
    expires_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    note: str

    @classmethod
    def of(cls, w: WaiverRow) -> WaiverOut:
        return cls(
            id=w.id,
            waiver_id=waiver_id(w),
            vendor=w.vendor.slug,
            requirement=w.requirement_id,
            model=w.model,
            soc=w.soc,
            profile=w.profile,
            os_version=w.os_version,
            reason=w.reason,
            state=w.state,
            requested_by=w.requested_by.username,
            requested_at=w.requested_at,
            expires_at=w.expires_at,
            decided_by=w.decided_by.username if w.decided_by else None,
            decided_at=w.decided_at,
            note=w.decision_note,
        )


class CertificateOut(BaseModel):
    id: int
    certificate_id: str
    status: str = Field(description="valid | expired | revoked")
    vendor: str
    model: str
    os_name: str
    os_version: str
    submission_id: int
    derived_from: str | None
    issued_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    revoke_reason: str
    json_url: str
    verify_url: str

    @classmethod
    def of(cls, c: Certificate, status: str) -> CertificateOut:
        return cls(
            id=c.id,
            certificate_id=c.cert_id,
            status=status,
            vendor=c.vendor.slug,
            model=c.product.model,
            os_name=c.os_name,
            os_version=c.os_version,
            submission_id=c.submission_id,
            derived_from=c.derived_from.cert_id if c.derived_from else None,
            issued_at=c.issued_at,
            expires_at=c.expires_at,
            revoked_at=c.revoked_at,
            revoke_reason=c.revoke_reason,
            json_url=f"/public/certificates/{c.cert_id}.json",
            verify_url=f"/public/certificates/{c.cert_id}",
        )


class SignedDocument(BaseModel):
    """A document signed with the platform key (harness.envelope): check it with `harness
    verify-certificate` or `harness run --waivers`."""

    format: str
    body: dict[str, Any]
    signature: dict[str, str]


class RequirementAssessed(BaseModel):
    id: str
    level: str
    status: str = Field(description="with waivers applied")
    measured: str = Field(description="as the bundle measured it")
    waiver: str | None


class WaiverEvaluated(BaseModel):
    waiver: str
    requirement: str
    applies: str = Field(description="applied | expired | out-of-scope")
    note: str


class DeviceAssessed(BaseModel):
    name: str
    verdict: str
    reasons: list[str]
    requirements: list[RequirementAssessed]
    waivers: list[WaiverEvaluated]


class AssessmentOut(BaseModel):
    submission_id: int
    state: str
    certifiable: bool
    verdict: str
    devices: list[DeviceAssessed]

    @classmethod
    def of(cls, submission_id: int, state: str, a: SubmissionAssessment) -> AssessmentOut:
        return cls(
            submission_id=submission_id,
            state=state,
            certifiable=a.certifiable,
            verdict=a.worst,
            devices=[
                DeviceAssessed(
                    name=d.device.name,
                    verdict=d.verdict,
                    reasons=list(d.reasons),
                    requirements=[
                        RequirementAssessed(
                            id=r.id,
                            level=r.level,
                            status=r.status,
                            measured=r.measured,
                            waiver=r.waiver.waiver.id if r.waiver else None,
                        )
                        for r in d.requirements
                    ],
                    waivers=[
                        WaiverEvaluated(
                            waiver=e.waiver.id,
                            requirement=e.waiver.requirement,
                            applies=str(e.applies),
                            note=e.note,
                        )
                        for e in d.evaluations
                    ],
                )
                for d in a.devices
            ],
        )


class AuditOut(BaseModel):
    seq: int
    at: str
    actor: str
    actor_role: str
    origin: str
    action: str
    object_kind: str
    object_id: str
    organisation: str
    before: str
    after: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, e: AuditEntry) -> AuditOut:
        return cls(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            actor_role=e.actor_role,
            origin=e.origin,
            action=e.action,
            object_kind=e.object_kind,
            object_id=e.object_id,
            organisation=e.organisation,
            before=e.before,
            after=e.after,
            detail=json.loads(e.detail),
            prev_hash=e.prev_hash,
            hash=e.hash,
        )


class AuditVerified(BaseModel):
    ok: bool
    entries: int
    problems: list[str]


class PublicProduct(BaseModel):
    """Exactly what the public list shows: nothing else about the vendor or its submissions."""

    company: str
    product: str
    kind: str
    soc: str
    os_name: str
    os_version: str
    certificate_id: str
    issued: str
    expires: str
    verify_url: str


class PublicStatus(BaseModel):
    certificate_id: str
    status: str = Field(description="valid | expired | revoked")
    company: str
    product: str
    os_name: str
    os_version: str
    issued: str
    expires: str
    revoked_at: str | None
    derived_from: str | None
    json_url: str

    @classmethod
    def of(cls, c: Certificate, status: str) -> PublicStatus:
        return cls(
            certificate_id=c.cert_id,
            status=status,
            company=c.vendor.name,
            product=c.product.model,
            os_name=c.os_name,
            os_version=c.os_version,
            issued=instant_text(c.issued_at),
            expires=instant_text(c.expires_at),
            revoked_at=instant_text(c.revoked_at) if c.revoked_at else None,
            derived_from=c.derived_from.cert_id if c.derived_from else None,
            json_url=f"/public/certificates/{c.cert_id}.json",
        )
