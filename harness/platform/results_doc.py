"""The platform's one reader of results.json: validated against the shipped JSON Schema, then turned
into the typed summary the database keeps (devices, identity, requirement statuses, failures first).

The schema and its check are the harness's own (harness.results.schema); nothing else of the platform
reads the file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..results.schema import json_path, validator
from .intake.refusal import Refused, Step

MAX_FAILURES_KEPT = 500  # failures copied per device; the bundle holds every one
MAX_MESSAGE = 2000
MAX_FIELD = 400
VERDICT_ORDER = ("NOT CERTIFIED", "INCOMPLETE", "CONDITIONAL", "CERTIFIED")  # worst first
_FAILURE_ORDER = {"FAIL": 0, "ERROR": 1}


@dataclass(frozen=True)
class RequirementRow:
    id: str
    level: str
    status: str
    title_en: str
    title_zh: str


@dataclass(frozen=True)
class FailureRow:
    test_id: str
    suite: str
    outcome: str
    message: str
    requirements: tuple[str, ...]


@dataclass(frozen=True)
class DeviceSummary:
    name: str
    kind: str
    profile: str
    verdict: str
    verdict_reasons: tuple[str, ...]
    reachable: bool
    identity: dict[str, str]
    counts: dict[str, int]
    requirements: tuple[RequirementRow, ...]
    failures: tuple[FailureRow, ...]
    failures_total: int


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    harness_version: str
    operator: str
    host: str
    start: float | None
    end: float | None
    devices: tuple[DeviceSummary, ...] = field(default_factory=tuple)

    @property
    def verdict(self) -> str:
        verdicts = [d.verdict for d in self.devices]
        return next((v for v in VERDICT_ORDER if v in verdicts), "INCOMPLETE")


def storable(text: str) -> str:
    """Device text as both databases can keep it: a lone surrogate (valid in JSON, not in UTF-8) and
    NUL (PostgreSQL refuses it in text) become visible escapes."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _cut(value: Any, limit: int = MAX_FIELD) -> str:
    text = storable(str(value if value is not None else ""))
    return text if len(text) <= limit else text[:limit] + "…"


def _time(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _device(d: dict[str, Any]) -> DeviceSummary:
    raw = d.get("identity") or {}
    ident = {k: _cut(v) for k, v in raw.items() if isinstance(v, str)}
    ident.update({f"extra.{k}": _cut(v) for k, v in (raw.get("extra") or {}).items()})
    tests = d.get("tests") or []
    failing = [t for t in tests if t["outcome"] in _FAILURE_ORDER]
    failing.sort(key=lambda t: _FAILURE_ORDER[t["outcome"]])  # product failures before lab errors
    summary = d.get("summary") or {}
    return DeviceSummary(
        name=_cut(d["name"], 200),
        kind=_cut(d.get("kind"), 32),
        profile=_cut(d.get("profile"), 64),
        verdict=d["verdict"],
        verdict_reasons=tuple(_cut(r, MAX_MESSAGE) for r in d.get("verdict_reasons") or []),
        reachable=bool(d.get("reachable", True)),
        identity=ident,
        counts={k: int(summary.get(k, 0)) for k in ("PASS", "FAIL", "ERROR", "SKIP", "NOT_RUN")},
        requirements=tuple(
            RequirementRow(
                id=_cut(r["id"], 200),
                level=r["level"],
                # A waiver the lab applied is not the platform's: keep what was measured.
                status=(r.get("waived_status") or r["status"]) if r["status"] == "waived" else r["status"],
                title_en=_cut(r.get("title_en")),
                title_zh=_cut(r.get("title_zh")),
            )
            for r in d.get("requirements") or []
        ),
        failures=tuple(
            FailureRow(
                test_id=_cut(t["test_id"], MAX_MESSAGE),
                suite=_cut(t.get("suite"), 200),
                outcome=t["outcome"],
                message=_cut(t.get("message"), MAX_MESSAGE),
                requirements=tuple(_cut(r, 200) for r in t.get("requirements") or []),
            )
            for t in failing[:MAX_FAILURES_KEPT]
        ),
        failures_total=len(failing),
    )


def read_results(data: bytes) -> RunSummary:
    """Parse and validate results.json; Refused(Step.RESULTS) names the first violation."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(Step.RESULTS, f"results.json: not JSON ({exc})") from None
    error = next(iter(validator().iter_errors(doc)), None)
    if error is not None:
        raise Refused(Step.RESULTS, f"results.json: {json_path(error)}: {_cut(error.message, 300)}")
    run = doc["run"]
    return RunSummary(
        run_id=_cut(run["run_id"], 200),
        harness_version=_cut(run.get("harness_version"), 64),
        operator=_cut(run.get("operator"), 200),
        host=_cut(run.get("host"), 200),
        start=_time(run.get("start")),
        end=_time(run.get("end")),
        devices=tuple(_device(d) for d in doc["devices"]),
    )
