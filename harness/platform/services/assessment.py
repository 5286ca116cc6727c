"""A submission's verdict as the platform computes it: the requirement statuses the bundle measured
(without any waiver the lab applied locally; intake keeps the status before waivers), the vendor's
approved waivers applied by the same rule `harness run --waivers` uses, the same verdict policy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from ...results.verdict import RequirementResult as ReqResult
from ...results.verdict import Status, verdict_of
from ...waivers import DeviceFacts, Evaluation, Waiver, applied_requirements, evaluate
from ..db.models import Submission, SubmissionDevice

_OPEN = {Status.FAIL.value, Status.INCOMPLETE.value, Status.NOT_COVERED.value}


@dataclass(frozen=True)
class RequirementView:
    id: str
    level: str
    status: str  # after waivers
    measured: str  # what the bundle measured
    waiver: Evaluation | None  # the applied waiver, when status is "waived"


@dataclass(frozen=True)
class DeviceAssessment:
    device: SubmissionDevice
    verdict: str
    reasons: tuple[str, ...]
    requirements: tuple[RequirementView, ...]
    evaluations: tuple[Evaluation, ...]  # every waiver of the vendor for a requirement of this device

    @property
    def applied(self) -> list[Evaluation]:
        return [r.waiver for r in self.requirements if r.waiver is not None]

    @property
    def not_applied(self) -> list[Evaluation]:
        used = {id(e) for e in self.applied}
        return [e for e in self.evaluations if id(e) not in used]


@dataclass(frozen=True)
class SubmissionAssessment:
    devices: tuple[DeviceAssessment, ...]

    @property
    def certifiable(self) -> bool:
        return bool(self.devices) and all(d.verdict == "CERTIFIED" for d in self.devices)

    @property
    def worst(self) -> str:
        order = ("NOT CERTIFIED", "INCOMPLETE", "CONDITIONAL", "CERTIFIED")
        return min((d.verdict for d in self.devices), key=order.index, default="INCOMPLETE")


def facts_of(device: SubmissionDevice) -> DeviceFacts:
    return DeviceFacts(
        model=device.model or device.reported_model,
        soc=device.soc,
        profile=device.profile,
        os_version=device.os_version,
    )


def assess_device(device: SubmissionDevice, waivers: Sequence[Waiver], at: dt.datetime) -> DeviceAssessment:
    ids = {r.requirement_id for r in device.requirements}
    relevant = [w for w in waivers if w.requirement in ids]
    evaluations = evaluate(relevant, facts_of(device), at)
    applied = applied_requirements(evaluations)
    views, results = [], []
    for r in device.requirements:
        waiver = applied.get(r.requirement_id) if r.status in _OPEN else None
        status = Status.WAIVED.value if waiver else r.status
        views.append(RequirementView(r.requirement_id, r.level, status, r.status, waiver))
        results.append(ReqResult(id=r.requirement_id, level=r.level, status=Status(status)))
    verdict, reasons = verdict_of(results)
    if not device.reachable and verdict == "CERTIFIED":  # a device the run could not reach proves nothing
        verdict, reasons = verdict.__class__("INCOMPLETE"), ["the device was not reachable"]
    return DeviceAssessment(device, str(verdict), tuple(reasons), tuple(views), tuple(evaluations))


def assess_submission(sub: Submission, waivers: Sequence[Waiver], at: dt.datetime) -> SubmissionAssessment:
    return SubmissionAssessment(tuple(assess_device(d, waivers, at) for d in sub.devices))
