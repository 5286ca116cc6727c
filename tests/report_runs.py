"""A run folder as the runner leaves it (run.json, a suite, one journal per device), with hostile device
output in it, for the report tests. The real results builder turns it into results.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# What a serial console or a hostile device may print: NUL, ANSI colour, markup that would run if it
# were not escaped, a lone UTF-16 surrogate (valid in JSON, not encodable in UTF-8) and a noncharacter.
HOSTILE = (
    "\x00\x1b[31mred\x1b[0m <script>window.__pwned=1</script>"
    '<img src=x onerror="window.__pwned=2"> \ud800 \ufffe end'
)

SUITE_TOML = """
id = "demo"
version = "2.1.0"
title_en = "Demo suite"
title_zh = "演示套件"

[[requirements]]
id = "DEMO-1"
level = "MUST"
title_en = "Kernel version is reported"
title_zh = "内核版本可读取"
source = "oec-hardware: kernel <version & source>"

[[requirements]]
id = "DEMO-2"
level = "MUST"
title_en = "Storage is fast enough"
title_zh = "存储速度达标"
destructive = "cuts the <device's> power"

[[requirements]]
id = "DEMO-3"
level = "SHOULD"
title_en = "Optional extras"
title_zh = "可选附加项"
"""

TESTS = [  # test id, requirements, outcome on dev-a, outcome on dev-b
    ("demo/test_demo.py::test_kernel", ["DEMO-1"], "PASS", "PASS"),
    ("demo/test_demo.py::test_storage", ["DEMO-2"], "FAIL", "PASS"),
    ("demo/test_demo.py::test_link", ["DEMO-2"], "ERROR", "PASS"),
    ("demo/test_demo.py::test_extra", ["DEMO-3"], "SKIP", "PASS"),
    ("demo/sub/test_more.py::test_late", ["DEMO-3"], "NOT_RUN", "PASS"),
]
DEVICES = ("dev-a", "dev-b")
IDENTITY = {
    "os_name": "openEuler",
    "os_version": "22.03 LTS",
    "kernel": "5.10.0-136.12",
    "arch": "aarch64",
    "model": "FT-2000/4",
    "fingerprint": "openEuler/22.03/5.10.0-136.12",
    "serial": "SN\x07-0042",
}


def _evidence(outcome: str) -> list[dict[str, Any]]:
    return [
        {
            "command": "dd if=/dev/zero of=/tmp/x bs=1M count=64",
            "exit_code": None if outcome == "ERROR" else (1 if outcome == "FAIL" else 0),
            "stdout": f"probe output {HOSTILE}\n" if outcome in ("FAIL", "ERROR") else "ok\n",
            "stderr": "dd: slow device\n" if outcome == "FAIL" else "",
            "duration": 0.25,
            "started": 1_764_000_000.0,
            "truncated": outcome == "FAIL",
            "error": "CommandTimeout: no exit within 5s" if outcome == "ERROR" else None,
        }
    ]


def _result(device: str, test_id: str, reqs: list[str], outcome: str) -> dict[str, Any]:
    metrics = (
        [
            {
                "name": "write_MBps",
                "value": 31.5 if outcome == "FAIL" else 88.0,
                "unit": "MB/s",
                "low": 50.0,
                "high": None,
            }
        ]
        if test_id.endswith("test_storage")
        else []
    )
    return {
        "type": "result",
        "test_id": test_id,
        "suite": "demo",
        "outcome": outcome,
        "device": device,
        "requirements": reqs,
        "message": f"{outcome.lower()}: {HOSTILE}" if outcome != "PASS" else "",
        "duration": 0.75,
        "started": 1_764_000_000.0,
        "ended": 1_764_000_000.75,
        "attempt": 1,
        "repeat": 0,
        "evidence": _evidence(outcome),
        "metrics": metrics,
    }


def make_run(reports: Path, suites_root: Path, run_id: str = "20261127-101500-ab12") -> Path:
    """reports/<run_id> with dev-a (every outcome) and dev-b (all PASS); returns the run folder."""
    (suites_root / "demo").mkdir(parents=True, exist_ok=True)
    (suites_root / "demo" / "suite.toml").write_text(SUITE_TOML, encoding="utf-8")
    (suites_root / "demo" / "test_demo.py").write_text("def test_kernel():\n    pass\n")
    run = reports / run_id
    (run / "journal").mkdir(parents=True)
    (run / "logs" / "dev-a").mkdir(parents=True)
    (run / "logs" / "dev-a" / "commands.log").write_bytes(b"raw console bytes \x00\x1b[31m\xff\n")
    (run / "run.json").write_text(
        json.dumps(
            {
                "run_id": run_id,
                "harness_version": "0.1.0",
                "command_line": ["harness", "run", "demo", "--all"],
                "host": "lab-a",
                "operator": "tester",
                "start": 1_764_000_000.0,
                "end": 1_764_000_100.0,
                "suites": [{"id": "demo", "version": "2.1.0", "content_hash": "sha256:" + "cd" * 32}],
                "suites_root": str(suites_root),
                "devices": list(DEVICES),
            }
        ),
        encoding="utf-8",
    )
    for index, device in enumerate(DEVICES):
        planned = [t for t in TESTS]
        lines: list[dict[str, Any]] = [
            {
                "type": "plan",
                "device": device,
                "kind": "board",
                "profile": "openeuler",
                "attempt": 1,
                "repeat": 1,
                "tests": [{"test_id": t, "suite": "demo", "requirements": r} for t, r, _, _ in planned],
            },
            {
                "type": "device",
                "device": device,
                "identity": {**IDENTITY, "serial": f"{IDENTITY['serial']}{index}"},
            },
        ]
        for test_id, reqs, out_a, out_b in planned:
            outcome = out_a if device == "dev-a" else out_b
            if outcome != "NOT_RUN":  # a NOT_RUN is a planned test with no result line
                lines.append(_result(device, test_id, reqs, outcome))
        lines.append({"type": "end", "device": device, "attempt": 1, "interrupted": device == "dev-a"})
        # ensure_ascii: the lone surrogate travels as the JSON escape \\ud800, as a journal would hold it.
        text = "".join(json.dumps(line, ensure_ascii=True) + "\n" for line in lines)
        (run / "journal" / f"{device}.jsonl").write_text(text, encoding="utf-8")
    return run
