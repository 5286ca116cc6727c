"""Reading a run's records in the runner tests: journal lines, results, outcomes, verdicts."""

from __future__ import annotations

import json
import os
from contextlib import suppress
from pathlib import Path


def journal_lines(run: Path, device: str) -> list[dict]:
    out = []
    for raw in (run / "journal" / f"{device}.jsonl").read_text().splitlines():
        with suppress(ValueError):
            out.append(json.loads(raw))
    return out


def results_of(run: Path, device: str) -> list[dict]:
    return [line for line in journal_lines(run, device) if line["type"] == "result"]


def outcomes(run: Path, device: str) -> dict[str, str]:
    """The latest attempt's outcome of each test (as the results show it)."""
    latest: dict[str, tuple[int, str]] = {}
    for r in results_of(run, device):
        if r["test_id"] not in latest or r["attempt"] >= latest[r["test_id"]][0]:
            latest[r["test_id"]] = (r["attempt"], r["outcome"])
    return {t: o for t, (_, o) in latest.items()}


def verdicts(run: Path) -> dict[str, str]:
    return {d["name"]: d["verdict"] for d in json.loads((run / "results.json").read_text())["devices"]}


def no_workers_left(run: Path) -> bool:
    """No process whose command line names the run folder (the workers of a killed harness)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if str(run).encode() in cmdline:
                return False
    return True
