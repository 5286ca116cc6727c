"""results.json as typed records: the run, its suites, each device with its test entries, requirement
statuses and verdict, and the summary. The builder (results/build.py) makes a ResultsDocument; the
reports, the gate and the finish step read one; `to_dict()` is the JSON form written to results.json
(schema harness/schemas/results.schema.json) and `from_dict()` reads it back, so that
`ResultsDocument.from_dict(d).to_dict() == d` for every document the builder writes.

Pure: no I/O here (reading a file against the schema is results/reader.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from .model import SCHEMA_VERSION, Outcome, TestRecord, Verdict
from .verdict import RequirementResult, Status

OUTCOMES = tuple(str(o) for o in Outcome)  # the order counts are written in
_RECORD_FIELDS = tuple(f.name for f in fields(TestRecord))


@dataclass
class TestEntry(TestRecord):
    """A planned test's final outcome on one device: the deciding record of its final attempt, with
    every record of every attempt (`attempts`)."""

    __test__ = False  # not a pytest test class

    repeats: int = 1  # the final attempt's repeats
    flaky: bool = False  # the device both passed and failed it
    attempts: list[TestRecord] = field(default_factory=list)
    waived_by: list[str] = field(default_factory=list)  # platform waivers covering its every requirement

    @classmethod
    def of(cls, record: TestRecord, **entry: Any) -> TestEntry:
        return cls(**{name: getattr(record, name) for name in _RECORD_FIELDS}, **entry)

    def to_dict(self) -> dict[str, Any]:
        d = TestRecord.to_dict(self)  # the record's own fields only
        d.update(repeats=self.repeats, flaky=self.flaky, attempts=[a.to_dict() for a in self.attempts])
        if self.waived_by:
            d["waived_by"] = list(self.waived_by)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestEntry:
        entry = super().from_dict(data)
        assert isinstance(entry, TestEntry)
        entry.attempts = [TestRecord.from_dict(a) for a in data.get("attempts") or []]
        entry.waived_by = list(data.get("waived_by") or [])
        return entry


def requirement_from_dict(data: dict[str, Any]) -> RequirementResult:
    waived = data.get("waived_status")
    return RequirementResult(
        id=data["id"],
        level=data["level"],
        status=Status(data["status"]),
        title_en=data.get("title_en", ""),
        title_zh=data.get("title_zh", ""),
        tests=list(data.get("tests") or []),
        waived_status=Status(waived) if waived else None,
        waiver=data.get("waiver"),
        implicit=bool(data.get("implicit", False)),
        defined=bool(data.get("defined", True)),
        suite=data.get("suite", ""),
        source=data.get("source", ""),
        destructive=data.get("destructive", ""),
    )


@dataclass
class WaiverEntry:
    """One waiver of the run's waiver file for a requirement of the device, and whether it applied."""

    id: str
    requirement: str
    applies: str  # applied, expired, out-of-scope
    note: str
    expires: str
    reason: str | None = None  # absent in the JSON when None
    approved_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "requirement": self.requirement, "applies": self.applies,
                             "note": self.note, "expires": self.expires}
        if self.reason is not None:
            d["reason"] = self.reason
        if self.approved_by is not None:
            d["approved_by"] = self.approved_by
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WaiverEntry:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass
class DeviceResult:
    name: str
    kind: str
    profile: str
    identity: dict[str, Any] | None  # what the device reported last (None: it never answered)
    identity_changed: bool
    reachable: bool
    interrupted: bool
    attempts: list[int]
    journal_bad_lines: int
    verdict: Verdict
    verdict_reasons: list[str]
    summary: dict[str, int]  # outcome -> count, and "total"
    requirements: list[RequirementResult]
    tests: list[TestEntry]
    waivers: list[WaiverEntry] | None = None  # None: the run had no waiver file (absent in the JSON)

    @property
    def os_text(self) -> str:
        ident = self.identity or {}
        return " ".join(str(ident.get(k) or "") for k in ("os_name", "os_version")).strip()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "profile": self.profile,
            "identity": self.identity,
            "identity_changed": self.identity_changed,
            "reachable": self.reachable,
            "interrupted": self.interrupted,
            "attempts": list(self.attempts),
            "journal_bad_lines": self.journal_bad_lines,
            "verdict": str(self.verdict),
            "verdict_reasons": list(self.verdict_reasons),
            "summary": dict(self.summary),
            "requirements": [r.to_dict() for r in self.requirements],
            "tests": [t.to_dict() for t in self.tests],
        }
        if self.waivers is not None:
            d["waivers"] = [w.to_dict() for w in self.waivers]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceResult:
        waivers = data.get("waivers")
        return cls(
            name=data["name"],
            kind=data.get("kind", ""),
            profile=data.get("profile", ""),
            identity=data.get("identity"),
            identity_changed=bool(data.get("identity_changed", False)),
            reachable=data.get("reachable", True) is not False,
            interrupted=bool(data.get("interrupted", False)),
            attempts=list(data.get("attempts") or []),
            journal_bad_lines=int(data.get("journal_bad_lines", 0)),
            verdict=Verdict(data["verdict"]),
            verdict_reasons=list(data.get("verdict_reasons") or []),
            summary=dict(data.get("summary") or {}),
            requirements=[requirement_from_dict(r) for r in data.get("requirements") or []],
            tests=[TestEntry.from_dict(t) for t in data.get("tests") or []],
            waivers=None if waivers is None else [WaiverEntry.from_dict(w) for w in waivers],
        )


@dataclass
class RunSection:
    """results.json's `run`: run.json as the runner wrote it, with defaults for what it lacked. Keys
    this version does not know are kept in `extra`, and every key keeps the place it was read at."""

    run_id: str
    harness_version: str
    command_line: list[str]
    host: str
    operator: str
    start: float | str | None
    end: float | str | None
    run_json_found: bool
    waivers: list[str] = field(default_factory=list)  # run-wide waived ids (nothing sets it any more)
    waiver_file: str | None = None
    waivers_evaluated: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    order: tuple[str, ...] = field(default=(), compare=False, repr=False)  # the keys as read

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("extra", "order")}
        values["command_line"] = list(self.command_line)
        values["waivers"] = list(self.waivers)
        values.update({k: v for k, v in self.extra.items() if k not in values})
        ordered = {k: values[k] for k in self.order if k in values}
        return {**ordered, **{k: v for k, v in values.items() if k not in ordered}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSection:
        names = {f.name for f in fields(cls)} - {"extra", "order"}
        known = {k: v for k, v in data.items() if k in names}
        return cls(
            run_id=str(known.pop("run_id")),
            harness_version=str(known.pop("harness_version", "")),
            command_line=list(known.pop("command_line", None) or []),
            host=str(known.pop("host", "")),
            operator=str(known.pop("operator", "")),
            start=known.pop("start", None),
            end=known.pop("end", None),
            run_json_found=bool(known.pop("run_json_found", False)),
            waivers=list(known.pop("waivers", None) or []),
            **known,
            extra={k: v for k, v in data.items() if k not in names},
            order=tuple(data),
        )


@dataclass
class SuiteEntry:
    id: str
    version: str = ""
    content_hash: str = ""
    title_en: str = ""
    title_zh: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "content_hash": self.content_hash,
                "title_en": self.title_en, "title_zh": self.title_zh}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SuiteEntry:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass
class Summary:
    devices: int
    verdicts: dict[str, int]  # verdict -> devices, sorted by verdict
    outcomes: dict[str, int]  # outcome -> tests, every outcome

    def to_dict(self) -> dict[str, Any]:
        return {"devices": self.devices, "verdicts": dict(self.verdicts), "outcomes": dict(self.outcomes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Summary:
        return cls(int(data["devices"]), dict(data["verdicts"]), dict(data["outcomes"]))


@dataclass
class ResultsDocument:
    generated: float
    run: RunSection
    suites: list[SuiteEntry]
    devices: list[DeviceResult]
    summary: Summary
    schema_version: str = SCHEMA_VERSION

    @property
    def run_id(self) -> str:
        return self.run.run_id

    def device(self, name: str) -> DeviceResult | None:
        return next((d for d in self.devices if d.name == name), None)

    def suite(self, suite_id: str) -> SuiteEntry | None:
        return next((s for s in self.suites if s.id == suite_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "generated": self.generated,
            "run": self.run.to_dict(),
            "suites": [s.to_dict() for s in self.suites],
            "devices": [d.to_dict() for d in self.devices],
            "summary": self.summary.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResultsDocument:
        return cls(
            schema_version=data["schema_version"],
            generated=data["generated"],
            run=RunSection.from_dict(data["run"]),
            suites=[SuiteEntry.from_dict(s) for s in data.get("suites") or []],
            devices=[DeviceResult.from_dict(d) for d in data.get("devices") or []],
            summary=Summary.from_dict(data["summary"]),
        )
