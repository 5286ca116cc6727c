"""The journal's lines as typed records: the plugin writes them and every reader (the builder, resume and
retry) decodes them through the one `to_line`/`decode_line` pair here, so the schema lives in code, not
in comments. A line is one JSON object with "type" and the record's fields (ARCHITECTURE.md, "The
journal"). Decoding is strict per line: a line that is not a known record raises ValueError, and the
reader (results/journal.py) counts it as bad and carries on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .model import TestRecord

PLAN, DEVICE, RESULT, END = "plan", "device", "result", "end"


def _int(line: dict[str, Any], key: str, default: int) -> int:
    value = line.get(key, default)
    return default if value is None else int(value)


def _str(line: dict[str, Any], key: str) -> str:
    value = line.get(key)
    return "" if value is None else str(value)


def _time(line: dict[str, Any]) -> float | None:
    value = line.get("at")
    return None if value is None else float(value)


@dataclass(frozen=True)
class PlannedTest:
    """One test a plan line announces."""

    test_id: str  # "<suite>/<module>::<test>"
    suite: str
    requirements: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"test_id": self.test_id, "suite": self.suite, "requirements": list(self.requirements)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PlannedTest:
        test_id = str(raw["test_id"])
        suite = str(raw.get("suite") or test_id.split("/", 1)[0])
        return cls(test_id, suite, tuple(str(r) for r in raw.get("requirements") or ()))


@dataclass
class PlanLine:
    """Written once collection is done: what this attempt will run."""

    TYPE: ClassVar[str] = PLAN

    device: str
    attempt: int = 1
    repeat: int = 1  # runs of each test (--harness-repeat)
    tests: list[PlannedTest] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # asked for (--only) but not collected
    kind: str = ""
    profile: str = ""
    shard: str | None = None  # "index/count"
    at: float | None = None

    def to_line(self) -> dict[str, Any]:
        return {
            "type": PLAN,
            "device": self.device,
            "kind": self.kind,
            "profile": self.profile,
            "attempt": self.attempt,
            "repeat": self.repeat,
            "shard": self.shard,
            "tests": [t.to_dict() for t in self.tests],
            "missing": list(self.missing),
            "at": self.at,
        }

    @classmethod
    def from_line(cls, line: dict[str, Any]) -> PlanLine:
        shard = line.get("shard")
        return cls(
            device=_str(line, "device"),
            attempt=_int(line, "attempt", 1),
            repeat=_int(line, "repeat", 1),
            tests=[PlannedTest.from_dict(t) for t in line.get("tests") or []],
            missing=[str(t) for t in line.get("missing") or []],
            kind=_str(line, "kind"),
            profile=_str(line, "profile"),
            shard=None if shard is None else str(shard),
            at=_time(line),
        )


@dataclass
class DeviceLine:
    """Written each time the worker (re)connects: the identity the device reported."""

    TYPE: ClassVar[str] = DEVICE

    device: str
    identity: dict[str, Any] = field(default_factory=dict)
    kind: str = ""
    profile: str = ""
    transport: str = ""  # the link kind actually used (--via)
    at: float | None = None

    def to_line(self) -> dict[str, Any]:
        return {
            "type": DEVICE,
            "device": self.device,
            "kind": self.kind,
            "profile": self.profile,
            "transport": self.transport,
            "identity": dict(self.identity),
            "at": self.at,
        }

    @classmethod
    def from_line(cls, line: dict[str, Any]) -> DeviceLine:
        return cls(
            device=_str(line, "device"),
            identity=dict(line.get("identity") or {}),
            kind=_str(line, "kind"),
            profile=_str(line, "profile"),
            transport=_str(line, "transport"),
            at=_time(line),
        )


@dataclass
class ResultLine:
    """Written after each test (each repeat): its TestRecord."""

    TYPE: ClassVar[str] = RESULT

    record: TestRecord

    def to_line(self) -> dict[str, Any]:
        return {"type": RESULT, **self.record.to_dict()}

    @classmethod
    def from_line(cls, line: dict[str, Any]) -> ResultLine:
        return cls(TestRecord.from_dict(line))


@dataclass
class EndLine:
    """Written when the worker stops (absent when it was killed)."""

    TYPE: ClassVar[str] = END

    device: str
    attempt: int = 1
    interrupted: bool = False
    exit_status: int | None = None  # pytest's
    at: float | None = None

    def to_line(self) -> dict[str, Any]:
        return {
            "type": END,
            "device": self.device,
            "attempt": self.attempt,
            "interrupted": self.interrupted,
            "exit_status": self.exit_status,
            "at": self.at,
        }

    @classmethod
    def from_line(cls, line: dict[str, Any]) -> EndLine:
        status = line.get("exit_status")
        return cls(
            device=_str(line, "device"),
            attempt=_int(line, "attempt", 1),
            interrupted=bool(line.get("interrupted", False)),
            exit_status=None if status is None else int(status),
            at=_time(line),
        )


JournalLine = PlanLine | DeviceLine | ResultLine | EndLine
_BY_TYPE: dict[str, type[PlanLine] | type[DeviceLine] | type[ResultLine] | type[EndLine]] = {
    c.TYPE: c for c in (PlanLine, DeviceLine, ResultLine, EndLine)
}


def decode_line(obj: Any) -> JournalLine:
    """One parsed journal line as its record; ValueError when it is not one (unknown type, bad field)."""
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    kind = obj.get("type")
    cls = _BY_TYPE.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown journal line type {kind!r}")
    try:
        return cls.from_line(obj)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"bad {cls.TYPE} line: {type(exc).__name__}: {exc}") from None


def decode_text(text: str) -> JournalLine:
    """One line of journal text (without its newline) as its record; ValueError if it is not one."""
    return decode_line(json.loads(text))
