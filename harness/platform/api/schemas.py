"""The API's response documents (they are the OpenAPI document's schemas, checked by schemathesis)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from ..db.models import ApiToken, Organisation, Product, SigningKey, Submission, SubmissionDevice
from ..web import views


class Problem(BaseModel):
    detail: str = Field(description="why the request was refused, in one line")
    step: str | None = Field(None, description="for a refused upload: the check that refused it")


class OrgOut(BaseModel):
    slug: str
    name: str
    kind: str

    @classmethod
    def of(cls, org: Organisation) -> OrgOut:
        return cls(slug=org.slug, name=org.name, kind=org.kind)


class WhoAmI(BaseModel):
    role: str
    organisation: OrgOut
    token: str | None = Field(None, description="the shown prefix of the token used")
    token_expires_at: dt.datetime | None = None


class DeviceOut(BaseModel):
    name: str
    kind: str
    profile: str
    product_id: int
    model: str
    soc: str
    os_name: str
    os_version: str
    kernel: str
    arch: str
    fingerprint: str
    serial: str
    security_patch: str
    reported_model: str
    verdict: str
    verdict_reasons: list[str]
    reachable: bool
    outcomes: dict[str, int]

    @classmethod
    def of(cls, d: SubmissionDevice) -> DeviceOut:
        return cls(
            name=d.name,
            kind=d.kind,
            profile=d.profile,
            product_id=d.product_id,
            model=d.model,
            soc=d.soc,
            os_name=d.os_name,
            os_version=d.os_version,
            kernel=d.kernel,
            arch=d.arch,
            fingerprint=d.fingerprint,
            serial=d.serial,
            security_patch=d.security_patch,
            reported_model=d.reported_model,
            verdict=d.verdict,
            verdict_reasons=[r for r in d.verdict_reasons.split("\n") if r],
            reachable=d.reachable,
            outcomes={
                "PASS": d.n_pass,
                "FAIL": d.n_fail,
                "ERROR": d.n_error,
                "SKIP": d.n_skip,
                "NOT_RUN": d.n_not_run,
            },
        )


class SubmissionOut(BaseModel):
    id: int
    run_id: str
    sha256: str
    size: int
    state: str
    verdict: str
    vendor: OrgOut
    lab: OrgOut
    created_at: dt.datetime
    devices: list[DeviceOut]

    @classmethod
    def of(cls, s: Submission) -> SubmissionOut:
        return cls(
            id=s.id,
            run_id=s.run_id,
            sha256=s.sha256,
            size=s.size,
            state=s.state,
            verdict=s.verdict,
            vendor=OrgOut.of(s.vendor),
            lab=OrgOut.of(s.lab),
            created_at=s.created_at,
            devices=[DeviceOut.of(d) for d in s.devices],
        )


class RequirementOut(BaseModel):
    id: str
    level: str
    title_en: str
    title_zh: str
    status: dict[str, str] = Field(description="device name -> status")


class FailureOut(BaseModel):
    device: str
    test_id: str
    suite: str
    outcome: str
    message: str
    requirements: list[str]


class KeyOut(BaseModel):
    key_id: str
    organisation: OrgOut
    label: str
    public_key: str
    registered_at: dt.datetime
    revoked_at: dt.datetime | None
    revoke_reason: str

    @classmethod
    def of(cls, k: SigningKey) -> KeyOut:
        return cls(
            key_id=k.key_id,
            organisation=OrgOut.of(k.org),
            label=k.label,
            public_key=k.public_key,
            registered_at=k.registered_at,
            revoked_at=k.revoked_at,
            revoke_reason=k.revoke_reason,
        )


class SubmissionDetail(SubmissionOut):
    manifest_sha256: str
    verified_at: dt.datetime
    signing_key: KeyOut
    harness_version: str
    operator: str
    run_host: str
    run_started: float | None
    run_ended: float | None
    requirements: list[RequirementOut] = Field(description="failures first")
    failures: list[FailureOut] = Field(description="FAIL before ERROR, per device, capped")
    failures_total: int
    verify_command: str
    bundle_url: str
    key_url: str

    @classmethod
    def detail(cls, s: Submission) -> SubmissionDetail:
        base = SubmissionOut.of(s).model_dump()
        names = [d.name for d in s.devices]
        return cls(
            **base,
            manifest_sha256=s.manifest_sha256,
            verified_at=s.verified_at,
            signing_key=KeyOut.of(s.signing_key),
            harness_version=s.harness_version,
            operator=s.operator,
            run_host=s.run_host,
            run_started=s.run_started,
            run_ended=s.run_ended,
            requirements=[
                RequirementOut(
                    id=line.id,
                    level=line.level,
                    title_en=line.title_en,
                    title_zh=line.title_zh,
                    status={n: st for n, st in zip(names, line.statuses, strict=True) if st},
                )
                for line in views.requirement_lines(s)
            ],
            failures=[
                FailureOut(
                    device=d.name,
                    test_id=f.test_id,
                    suite=f.suite,
                    outcome=f.outcome,
                    message=f.message,
                    requirements=f.requirements.split(),
                )
                for d in s.devices
                for f in d.failures
            ],
            failures_total=sum(d.failures_total for d in s.devices),
            verify_command=views.verify_command(s),
            bundle_url=f"/api/v1/submissions/{s.id}/bundle",
            key_url=f"/api/v1/submissions/{s.id}/key",
        )


class SubmissionPage(BaseModel):
    items: list[SubmissionOut]
    total: int
    page: int
    per_page: int
    pages: int


class ProductOut(BaseModel):
    id: int
    model: str
    soc: str
    kind: str
    vendor: OrgOut

    @classmethod
    def of(cls, p: Product) -> ProductOut:
        return cls(id=p.id, model=p.model, soc=p.soc, kind=p.kind, vendor=OrgOut.of(p.vendor))


class ProductPage(BaseModel):
    items: list[ProductOut]
    total: int
    page: int
    per_page: int
    pages: int


class ProductDetail(ProductOut):
    submissions: SubmissionPage


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    role: str
    organisation: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @classmethod
    def of(cls, t: ApiToken) -> TokenOut:
        return cls(
            id=t.id,
            name=t.name,
            prefix=t.prefix,
            role=t.role,
            organisation=t.org.slug,
            created_at=t.created_at,
            expires_at=t.expires_at,
            revoked_at=t.revoked_at,
            last_used_at=t.last_used_at,
        )


class Published(BaseModel):
    id: int
    sha256: str
    run_id: str
    created: bool = Field(description="false: this exact bundle had been published already")
    url: str = Field(description="the submission's page")
    api_url: str
