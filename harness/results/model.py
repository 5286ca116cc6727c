"""Typed records of a run. The journal (one JSONL file per device) is a stream of these; results.json
is built from the journals. Every record round-trips through to_dict()/from_dict()."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, TypeVar

SCHEMA_VERSION = "1.0"


class Outcome(StrEnum):
    PASS = "PASS"  # the device conforms
    FAIL = "FAIL"  # product non-conformance
    ERROR = "ERROR"  # lab or harness trouble: the test could not decide
    SKIP = "SKIP"  # not applicable, with the reason
    NOT_RUN = "NOT_RUN"  # planned, never finished (interrupted, killed)


class Verdict(StrEnum):
    CERTIFIED = "CERTIFIED"  # every MUST passes or is waived
    CONDITIONAL = "CONDITIONAL"  # only SHOULD failures
    NOT_CERTIFIED = "NOT CERTIFIED"  # a MUST fails
    INCOMPLETE = "INCOMPLETE"  # a MUST has ERROR or NOT_RUN


T = TypeVar("T")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    # Cached: fields() is slow, and every journal line read or results entry built makes several records.
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


_FIELD_SETS: dict[type, frozenset[str]] = {}


def _from_dict(cls: type[T], data: dict[str, Any]) -> T:
    names = _FIELD_SETS.get(cls)
    if names is None:  # a set: the runner decodes every journal line as it arrives
        names = _FIELD_SETS[cls] = frozenset(_field_names(cls))
    return cls(**{k: v for k, v in data.items() if k in names})


def _flat_dict(record: Any, cls: type) -> dict[str, Any]:
    """`cls`'s fields of `record` as a dict in field order: what asdict() gives for plain values,
    without its deep copy (asdict was most of the builder's time)."""
    return {name: getattr(record, name) for name in _field_names(cls)}


@dataclass
class Evidence:
    """One command a test ran on the device, as the officer will see it."""

    command: str
    exit_code: int | None  # None: the command did not finish (timeout, link lost)
    stdout: str  # bounded excerpt; the full copy is in logs/<device>/
    stderr: str
    duration: float
    started: float  # unix time
    truncated: bool = False
    error: str | None = None  # the transport error, if any

    def to_dict(self) -> dict[str, Any]:
        return _flat_dict(self, type(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evidence:
        return _from_dict(cls, data)


@dataclass
class Metric:
    name: str
    value: float
    unit: str = ""
    # Pass bounds, when the test compares against a threshold (either may be None).
    low: float | None = None
    high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return _flat_dict(self, type(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Metric:
        return _from_dict(cls, data)


@dataclass
class TestRecord:
    """One attempt of one test on one device."""

    __test__ = False  # not a pytest test class

    test_id: str  # pytest node id relative to the suites root, e.g. "kernel/test_config.py::test_x"
    suite: str
    outcome: Outcome
    device: str
    requirements: list[str] = field(default_factory=list)
    message: str = ""  # why it failed / errored / was skipped
    duration: float = 0.0
    started: float = 0.0
    ended: float = 0.0
    attempt: int = 1  # 1 for the first run, 2.. for retries
    repeat: int = 0  # index under --repeat
    evidence: list[Evidence] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    # The device did not answer (at the first connect or after a drop, within the boot budget): this
    # test, and every later one, could not reach it. Written only when true.
    unreachable: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = _flat_dict(self, TestRecord)
        d["outcome"] = str(self.outcome)
        d["requirements"] = list(self.requirements)
        d["evidence"] = [e.to_dict() for e in self.evidence]
        d["metrics"] = [m.to_dict() for m in self.metrics]
        if not self.unreachable:
            del d["unreachable"]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestRecord:
        rec = _from_dict(cls, data)
        rec.outcome = Outcome(data["outcome"])
        rec.unreachable = data.get("unreachable") is True
        rec.evidence = [Evidence.from_dict(e) for e in data.get("evidence", [])]
        rec.metrics = [Metric.from_dict(m) for m in data.get("metrics", [])]
        return rec
