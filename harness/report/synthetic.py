"""Synthetic results.json documents (schema-valid) for the report tests and the 100k benchmark.

Deterministic: test i of device d gets its outcome from a fixed pattern, so counts are known in
advance. `hostile` is put into the stdout of every failing test's evidence (XSS, control characters)."""

from __future__ import annotations

import time
from typing import Any

from .. import __version__

OUTCOME_CYCLE = ("PASS",) * 14 + ("FAIL", "ERROR", "SKIP", "NOT_RUN") + ("PASS",) * 2  # 20 long
SUITES = ("kernel", "security", "performance", "stability", "hardware")
HASH = "sha256:" + "ab" * 32


def outcome_of(index: int) -> str:
    return OUTCOME_CYCLE[index % len(OUTCOME_CYCLE)]


def _evidence(i: int, outcome: str, hostile: str) -> dict[str, Any]:
    stdout = f"line of output {i}\n" * 3
    if outcome in ("FAIL", "ERROR"):
        stdout += hostile
    return {
        "command": f"cat /proc/sys/kernel/probe_{i}",
        "exit_code": None if outcome == "ERROR" else (1 if outcome == "FAIL" else 0),
        "stdout": stdout,
        "stderr": "permission denied\n" if outcome == "FAIL" else "",
        "duration": 0.01 + (i % 7) * 0.003,
        "started": 1_700_000_000.0 + i,
        "truncated": False,
        "error": "CommandTimeout: no exit within 5s" if outcome == "ERROR" else None,
    }


def _test(device: str, i: int, requirements_per_suite: int, hostile: str, evidence: bool) -> dict[str, Any]:
    outcome = outcome_of(i)
    suite = SUITES[i % len(SUITES)]
    req = f"{suite.upper()[:4]}-{(i // len(SUITES)) % requirements_per_suite + 1:03d}"
    metrics = []
    if suite == "performance":
        metrics.append(
            {
                "name": f"write_MBps_{i % 3}",
                "value": 40.0 + (i % 50),
                "unit": "MB/s",
                "low": 50.0,
                "high": None,
            }
        )
    record = {
        "test_id": f"{suite}/test_{suite}.py::test_case_{i}",
        "suite": suite,
        "outcome": outcome,
        "device": device,
        "requirements": [req],
        "message": {
            "FAIL": "assert 1 == 0: value out of range",
            "ERROR": "CommandTimeout after 5s",
            "SKIP": "not applicable to this profile",
            "NOT_RUN": "no result: the worker stopped",
        }.get(outcome, ""),
        "duration": 0.05 + (i % 13) * 0.01,
        "started": 1_700_000_000.0 + i,
        "ended": 1_700_000_000.1 + i,
        "attempt": 1,
        "repeat": 0,
        "evidence": [_evidence(i, outcome, hostile)] if evidence else [],
        "metrics": metrics,
    }
    return {**record, "repeats": 1, "flaky": False, "attempts": [dict(record)]}


def _requirements(tests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_req: dict[str, list[dict[str, Any]]] = {}
    for t in tests:
        by_req.setdefault(t["requirements"][0], []).append(t)
    out = []
    for rid, ts in by_req.items():
        outcomes = {t["outcome"] for t in ts}
        status = (
            "fail"
            if "FAIL" in outcomes
            else "incomplete"
            if outcomes & {"ERROR", "NOT_RUN"}
            else "pass"
            if "PASS" in outcomes
            else "skipped"
        )
        out.append(
            {
                "id": rid,
                "level": "SHOULD" if rid.endswith("7") else "MUST",
                "status": status,
                "title_en": f"Requirement {rid} holds",
                "title_zh": f"需求 {rid} 成立",
                "tests": [t["test_id"] for t in ts],
                "waived_status": None,
                "implicit": False,
                "defined": True,
            }
        )
    return out


def synthetic_results(
    devices: int = 2,
    tests_per_device: int = 20,
    *,
    hostile: str = "",
    evidence: bool = True,
    requirements_per_suite: int = 20,
    run_id: str = "20260101-000000-beef",
) -> dict[str, Any]:
    device_docs = []
    totals = dict.fromkeys(("PASS", "FAIL", "ERROR", "SKIP", "NOT_RUN"), 0)
    verdicts: dict[str, int] = {}
    for d in range(devices):
        name = f"board-{d:02d}"
        tests = [_test(name, i, requirements_per_suite, hostile, evidence) for i in range(tests_per_device)]
        summary = dict.fromkeys(totals, 0)
        for t in tests:
            summary[t["outcome"]] += 1
        for k, v in summary.items():
            totals[k] += v
        verdict = "NOT CERTIFIED" if summary["FAIL"] else "INCOMPLETE" if summary["ERROR"] else "CERTIFIED"
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
        device_docs.append(
            {
                "name": name,
                "kind": "board",
                "profile": "openeuler",
                "identity": {
                    "os_name": "openEuler",
                    "os_version": "22.03 LTS",
                    "kernel": "5.10.0-136",
                    "arch": "aarch64",
                    "model": "FT-2000/4",
                    "serial": f"SN{d:06d}",
                    "fingerprint": f"openEuler/22.03/5.10.0-136/board-{d:02d}",
                },
                "identity_changed": False,
                "reachable": True,
                "interrupted": False,
                "attempts": [1],
                "journal_bad_lines": 0,
                "verdict": verdict,
                "verdict_reasons": [
                    f"MUST {r['id']} is fail" for r in _requirements(tests) if r["status"] == "fail"
                ][:5],
                "summary": {**summary, "total": len(tests)},
                "requirements": _requirements(tests),
                "tests": tests,
            }
        )
    return {
        "schema_version": "1.0",
        "generated": time.time(),
        "run": {
            "run_id": run_id,
            "harness_version": __version__,
            "command_line": ["harness", "run", "--all"],
            "host": "lab-a",
            "operator": "tester",
            "start": 1_700_000_000.0,
            "end": 1_700_003_600.0,
            "run_json_found": True,
            "waivers": [],
        },
        "suites": [
            {
                "id": s,
                "version": "1.0.0",
                "content_hash": HASH,
                "title_en": f"{s.title()} suite",
                "title_zh": f"{s} 套件",
            }
            for s in SUITES
        ],
        "devices": device_docs,
        "summary": {"devices": devices, "verdicts": verdicts, "outcomes": totals},
    }
