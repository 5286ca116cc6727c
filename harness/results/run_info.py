"""run.json, the record of who ran what, when, on which devices: written by the runner (run/rundir.py)
and read by everyone through `read_run_info` here, the runner (--resume, retry, merge) and the builder of
results.json alike. Keys this version does not know are kept as they are (`extra`), so an older harness
resuming a newer run's folder writes them back."""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..suites import Suite

RUN_JSON = "run.json"


@dataclass
class SuiteRef:
    id: str
    version: str = ""
    content_hash: str = ""

    @classmethod
    def of(cls, suite: Suite) -> SuiteRef:
        return cls(id=suite.id, version=suite.version, content_hash=suite.content_hash())


@dataclass
class Invocation:
    """One command that wrote to this run (run, resume, retry, merge)."""

    action: str
    command_line: list[str]
    start: float
    end: float | None = None
    attempt: int = 1
    devices: list[str] = field(default_factory=list)
    interrupted: bool = False


@dataclass
class RunInfo:
    """run.json. The selection fields let `--resume` and `retry` run the same thing again."""

    run_id: str
    harness_version: str
    suites: list[SuiteRef]
    command_line: list[str]
    host: str
    operator: str
    start: float
    inventory: str
    devices: list[str]
    suites_root: str
    end: float | None = None
    shard: str | None = None
    keyword: str | None = None
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    repeat: int = 1
    test_timeout: float | None = None
    strict: bool = False
    merged_from: list[str] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    waiver_file: str | None = None  # the platform's signed waiver file, copied into the run folder
    declared: dict[str, dict[str, str]] = field(default_factory=dict)  # device -> inventory model, soc
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know
    # Keys the file did not have (their values here are defaults): results.json shows only what was there.
    absent: frozenset[str] = field(default_factory=frozenset, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        del data["absent"]
        return {**data, **{k: v for k, v in extra.items() if k not in data}}

    def as_read(self) -> dict[str, Any]:
        """The keys the file had, with their values (to_dict less what was absent)."""
        return {k: v for k, v in self.to_dict().items() if k not in self.absent}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunInfo:
        """A run.json object; a key the runner always writes but this one lacks takes an empty value
        (read_run_info refuses such a file unless asked to be lenient)."""
        names = {f.name for f in fields(cls)} - {"extra", "absent"}
        known = {k: v for k, v in data.items() if k in names}
        for key in _WRITTEN_ALWAYS:
            known.setdefault(key, _EMPTY.get(key, ""))
        info = cls(**known, extra={k: v for k, v in data.items() if k not in names},
                   absent=frozenset(names - set(data)))
        info.suites = [SuiteRef(**s) for s in data.get("suites") or []]
        info.invocations = [Invocation(**i) for i in data.get("invocations") or []]
        return info


# The fields without a default: every run.json the runner writes has them.
_WRITTEN_ALWAYS = tuple(
    f.name for f in fields(RunInfo) if f.default is MISSING and f.default_factory is MISSING
)
_EMPTY: dict[str, Any] = {"suites": [], "command_line": [], "devices": [], "start": 0.0}


def read_run_info(run_dir: Path, *, lenient: bool = False) -> RunInfo:
    """The run folder's run.json. ConfigError (one line naming the file and why) when it is missing,
    not JSON, of the wrong shape or, unless `lenient` (the builder reads whatever a run left), lacks a
    key the runner always writes."""
    path = run_dir / RUN_JSON
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{run_dir}: not a run directory (no {RUN_JSON})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: unreadable: {exc}") from None
    return parse_run_info(text, str(path), lenient=lenient)


def parse_run_info(text: str | bytes, where: str, *, lenient: bool = False) -> RunInfo:
    """run.json's text (from a run folder or a bundle: `where` names it) as a RunInfo; ConfigError as
    read_run_info says."""
    try:
        data = json.loads(text)
    except ValueError as exc:  # UnicodeDecodeError too
        raise ConfigError(f"{where}: unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: unreadable: not a JSON object")
    lacking = [k for k in _WRITTEN_ALWAYS if k not in data]
    if lacking and not lenient:
        raise ConfigError(f"{where}: unreadable: no {', '.join(lacking)}")
    try:
        return RunInfo.from_dict(data)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{where}: unreadable: {exc}") from None
