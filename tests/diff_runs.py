"""Run folders for the comparison tests: journals written as the runner writes them, turned into
results.json by the real results builder, and (when asked) signed into a real bundle."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from harness.report.publish import publish
from harness.results.build import write_results
from tests.report_runs import SUITE_TOML

Metric = tuple[str, float, float | None, float | None]  # name, value, low, high
# test id -> outcome, or one outcome per repeat; metrics by test id
Plan = dict[str, str | list[str]]


def _record(device: str, test_id: str, reqs: list[str], outcome: str, repeat: int,
            metrics: list[Metric], message: str) -> dict[str, Any]:
    return {
        "type": "result",
        "test_id": test_id,
        "suite": "demo",
        "outcome": outcome,
        "device": device,
        "requirements": reqs,
        "message": message if outcome != "PASS" else "",
        "duration": 0.5,
        "started": 1_764_000_000.0,
        "ended": 1_764_000_000.5,
        "attempt": 1,
        "repeat": repeat,
        "evidence": [],
        "metrics": [{"name": n, "value": v, "unit": "MB/s", "low": lo, "high": hi} for n, v, lo, hi in metrics],
    }


def write_run(
    reports: Path,
    suites_root: Path,
    run_id: str,
    devices: dict[str, Plan],
    *,
    requirements: dict[str, list[str]] | None = None,
    metrics: dict[str, list[Metric]] | None = None,
    fingerprint: str = "openEuler/22.03/build-1",
    message: str = "assert failed",
    sign_with: Path | None = None,
) -> Path:
    """reports/<run_id> with results.json built from journals; with `sign_with` (a key folder) also
    the signed bundle reports/<run_id>.zip. Returns the run folder (or the zip when signed)."""
    (suites_root / "demo").mkdir(parents=True, exist_ok=True)
    (suites_root / "demo" / "suite.toml").write_text(SUITE_TOML, encoding="utf-8")
    (suites_root / "demo" / "test_demo.py").write_text("def test_kernel():\n    pass\n")
    run = reports / run_id
    (run / "journal").mkdir(parents=True)
    (run / "logs").mkdir()
    (run / "run.json").write_text(json.dumps({
        "run_id": run_id, "harness_version": "0.1.0", "command_line": ["harness", "run", "demo"],
        "host": "lab-a", "operator": "tester", "start": 1_764_000_000.0, "end": 1_764_000_100.0,
        "suites": [{"id": "demo", "version": "2.1.0", "content_hash": "sha256:" + "cd" * 32}],
        "suites_root": str(suites_root), "devices": list(devices),
    }), encoding="utf-8")
    reqs_of = requirements or {}
    metrics_of = metrics or {}
    for device, plan in devices.items():
        repeats = max((len(o) for o in plan.values() if isinstance(o, list)), default=1)
        lines: list[dict[str, Any]] = [
            {"type": "plan", "device": device, "kind": "board", "profile": "openeuler", "attempt": 1,
             "repeat": repeats, "tests": [{"test_id": t, "suite": "demo", "requirements": reqs_of.get(t, ["DEMO-1"])}
                                          for t in plan]},
            {"type": "device", "device": device, "identity": {
                "os_name": "openEuler", "os_version": "22.03 LTS", "kernel": "5.10", "arch": "aarch64",
                "fingerprint": f"{fingerprint}/{device}"}},
        ]
        for test_id, outcome in plan.items():
            outcomes = outcome if isinstance(outcome, list) else [outcome] * repeats
            for i, o in enumerate(outcomes):
                lines.append(_record(device, test_id, reqs_of.get(test_id, ["DEMO-1"]), o, i,
                                     metrics_of.get(test_id, []), message))
        lines.append({"type": "end", "device": device, "attempt": 1, "interrupted": False})
        text = "".join(json.dumps(line) + "\n" for line in lines)
        (run / "journal" / f"{device}.jsonl").write_text(text, encoding="utf-8")
    if sign_with is None:
        write_results(run)
        return run
    return publish(run, key_dir=sign_with, announce=io.StringIO()).bundle
