"""The platform's waivers applied to one device's results (harness run --waivers FILE): which
apply (the shared rule of harness.waivers), which requirements they cover, and the record of every
waiver that did not apply and why, for results.json, the report and JUnit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from ..envelope import EnvelopeError, read_envelope
from ..errors import ConfigError
from ..waivers import (
    DeviceFacts,
    Evaluation,
    Waiver,
    applied_requirements,
    evaluate,
    instant_text,
    waivers_of,
)
from .journal import DeviceJournal
from .run_info import RunInfo


@dataclass
class RunWaivers:
    """The run's waiver file and the moment it is evaluated at (the time results are built)."""

    waivers: list[Waiver] = field(default_factory=list)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    declared: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def at_text(self) -> str:
        return instant_text(self.at)


def load_run_waivers(run_dir: Path, info: RunInfo, at: dt.datetime | None = None) -> RunWaivers | None:
    """The waiver file named in run.json (checked against the platform key when the run started;
    here its shape only: the bundle's signature covers it from now on)."""
    name = info.waiver_file
    if not name:
        return None
    path = run_dir / str(name)
    if path.parent != run_dir:
        raise ConfigError(f"{run_dir}/run.json: waiver_file {name!r} must be a file in the run folder")
    try:
        envelope = read_envelope(path)
    except EnvelopeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    declared = info.declared if isinstance(info.declared, dict) else {}
    return RunWaivers(waivers_of(envelope, str(path)), at or dt.datetime.now(dt.UTC), declared)


def facts_of(journal: DeviceJournal, declared: dict[str, dict[str, str]]) -> DeviceFacts:
    ident = journal.identity or {}
    extra = ident.get("extra") if isinstance(ident.get("extra"), dict) else {}
    mine = declared.get(journal.device) or {}
    return DeviceFacts(
        model=str(mine.get("model") or ident.get("model") or ""),
        soc=str(mine.get("soc") or (extra or {}).get("soc") or ""),
        profile=journal.profile,
        os_version=str(ident.get("os_version") or ""),
    )


def device_evaluations(
    journal: DeviceJournal, run_waivers: RunWaivers
) -> tuple[list[Evaluation], dict[str, Evaluation]]:
    evaluations = evaluate(run_waivers.waivers, facts_of(journal, run_waivers.declared), run_waivers.at)
    return evaluations, applied_requirements(evaluations)
