"""`harness merge RUN...`: shards (and their retries) of one run, put back together in a new run dir.

Each device's journal is the inputs' journals one after another. A result for the same test, attempt
and repeat in a later input replaces the earlier one, so merging overlapping runs never counts a test
twice. Plan lines are kept as they are: the plans of the shards together are the whole plan."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..results.journal_records import ResultLine, decode_line
from ..results.run_info import RunInfo, SuiteRef
from .rundir import RunDir, create_run_dir, host_name, operator_name


def _result_key(line: dict[str, Any]) -> tuple[str, int, int] | None:
    """Which run of which test a result line records, read as the journal's reader reads it; None for
    any other line, and for one that is not a record (copied as it is: the reader counts it as bad)."""
    try:
        record = decode_line(line)
    except ValueError:
        return None
    if not isinstance(record, ResultLine):
        return None
    return record.record.test_id, record.record.attempt, record.record.repeat


def raw_lines(journal: Path) -> list[dict[str, Any]]:
    """The journal's lines as objects, to copy them as they are; a torn line is left out."""
    try:
        raw = journal.read_bytes()
    except FileNotFoundError:
        return []
    lines = []
    for text in raw.splitlines():
        with contextlib.suppress(ValueError):
            obj = json.loads(text)
            if isinstance(obj, dict):
                lines.append(obj)
    return lines


def merged_lines(journals: list[Path]) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for journal in journals:
        lines.extend(raw_lines(journal))
    last_index = {key: i for i, line in enumerate(lines) if (key := _result_key(line)) is not None}
    return [line for i, line in enumerate(lines)
            if (key := _result_key(line)) is None or last_index[key] == i]


def merged_info(run_id: str, infos: list[RunInfo], command_line: list[str]) -> RunInfo:
    first = infos[0]
    for info in infos[1:]:
        if info.suites_root != first.suites_root or info.inventory != first.inventory:
            raise ConfigError(f"runs {first.run_id} and {info.run_id} use different suites roots "
                              "or inventories")
    suites: dict[str, SuiteRef] = {}
    devices: list[str] = []
    for info in infos:
        for ref in info.suites:
            known = suites.setdefault(ref.id, ref)
            if known.content_hash != ref.content_hash:
                raise ConfigError(f"suite {ref.id!r} differs between the runs (content hash); not merging")
        devices += [d for d in info.devices if d not in devices]
    return RunInfo(
        run_id=run_id, harness_version=first.harness_version, suites=list(suites.values()),
        command_line=command_line, host=host_name(), operator=operator_name(),
        start=min(i.start for i in infos), end=None, inventory=first.inventory, devices=devices,
        suites_root=first.suites_root, keyword=first.keyword, include=first.include, exclude=first.exclude,
        repeat=first.repeat, test_timeout=first.test_timeout, strict=first.strict,
        merged_from=[i.run_id for i in infos],
    )


def merge_runs(sources: list[RunDir], reports: Path, run_id: str,
               command_line: list[str]) -> tuple[RunDir, RunInfo]:
    if not sources:
        raise ConfigError("merge: name at least one run")
    infos = [s.read_info() for s in sources]
    info = merged_info(run_id, infos, command_line)
    target = create_run_dir(reports, run_id)
    for device in info.devices:
        lines = merged_lines([s.journal(device) for s in sources])
        with open(target.journal(device), "w", encoding="utf-8") as out:
            out.writelines(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"
                           for line in lines)
    info.end = time.time()
    target.write_info(info)
    return target, info
