"""Synthetic results documents for the report tests and the 100k benchmarks, made by the real builder:
journal lines (plan, device, one result per test, end) folded by DeviceJournal and built by
results.build.build_device against in-memory suites, so outcomes, requirement statuses and verdicts
follow the harness's own rules, not a copy of them.

Deterministic: test i of device d gets its outcome from a fixed pattern, so counts are known in
advance (a NOT_RUN test is one with no result line). `hostile` is put into the stdout of every failing
test's evidence (XSS, control characters)."""

from __future__ import annotations

from pathlib import Path

from harness import __version__
from harness.results.build import build_device
from harness.results.document import OUTCOMES, ResultsDocument, RunSection, SuiteEntry, Summary
from harness.results.journal import DeviceJournal
from harness.results.journal_records import DeviceLine, EndLine, PlanLine, PlannedTest, ResultLine
from harness.results.model import Evidence, Metric, Outcome, TestRecord
from harness.suites import Requirement, Suite

OUTCOME_CYCLE = ("PASS",) * 14 + ("FAIL", "ERROR", "SKIP", "NOT_RUN") + ("PASS",) * 2  # 20 long
SUITES = ("kernel", "security", "performance", "stability", "hardware")
HASH = "sha256:" + "ab" * 32
START = 1_700_000_000.0
MESSAGES = {
    "FAIL": "assert 1 == 0: value out of range",
    "ERROR": "CommandTimeout after 5s",
    "SKIP": "not applicable to this profile",
}


def outcome_of(index: int) -> str:
    return OUTCOME_CYCLE[index % len(OUTCOME_CYCLE)]


def requirement_of(i: int, requirements_per_suite: int) -> str:
    suite = SUITES[i % len(SUITES)]
    return f"{suite.upper()[:4]}-{(i // len(SUITES)) % requirements_per_suite + 1:03d}"


def _suites(requirements_per_suite: int) -> dict[str, Suite]:
    suites = {}
    for s in SUITES:
        reqs = {}
        for n in range(1, requirements_per_suite + 1):
            rid = f"{s.upper()[:4]}-{n:03d}"
            level = "SHOULD" if rid.endswith("7") else "MUST"
            reqs[rid] = Requirement(rid, level, f"Requirement {rid} holds", f"需求 {rid} 成立", suite=s)
        suites[s] = Suite(s, "1.0.0", f"{s.title()} suite", f"{s} 套件", Path("/nonexistent") / s, reqs)
    return suites


def _evidence(i: int, outcome: str, hostile: str) -> Evidence:
    stdout = f"line of output {i}\n" * 3
    if outcome in ("FAIL", "ERROR"):
        stdout += hostile
    return Evidence(
        command=f"cat /proc/sys/kernel/probe_{i}",
        exit_code=None if outcome == "ERROR" else (1 if outcome == "FAIL" else 0),
        stdout=stdout,
        stderr="permission denied\n" if outcome == "FAIL" else "",
        duration=0.01 + (i % 7) * 0.003,
        started=START + i,
        truncated=False,
        error="CommandTimeout: no exit within 5s" if outcome == "ERROR" else None,
    )


def _journal(device: str, tests: int, requirements_per_suite: int, hostile: str, evidence: bool) -> DeviceJournal:
    journal = DeviceJournal(device)
    planned = []
    for i in range(tests):
        suite = SUITES[i % len(SUITES)]
        planned.append(PlannedTest(f"{suite}/test_{suite}.py::test_case_{i}", suite,
                                   (requirement_of(i, requirements_per_suite),)))
    journal.add(PlanLine(device, tests=planned, kind="board", profile="openeuler", at=START))
    n = int(device.rsplit("-", 1)[1])
    journal.add(DeviceLine(device, identity={
        "os_name": "openEuler", "os_version": "22.03 LTS", "kernel": "5.10.0-136", "arch": "aarch64",
        "model": "FT-2000/4", "serial": f"SN{n:06d}", "fingerprint": f"openEuler/22.03/5.10.0-136/{device}",
    }, kind="board", profile="openeuler", transport="ssh", at=START))
    for i, test in enumerate(planned):
        outcome = outcome_of(i)
        if outcome == "NOT_RUN":  # planned, never finished: no result line
            continue
        metrics = ([Metric(f"write_MBps_{i % 3}", 40.0 + (i % 50), "MB/s", 50.0, None)]
                   if test.suite == "performance" else [])
        journal.add(ResultLine(TestRecord(
            test_id=test.test_id,
            suite=test.suite,
            outcome=Outcome(outcome),
            device=device,
            requirements=list(test.requirements),
            message=MESSAGES.get(outcome, ""),
            duration=0.05 + (i % 13) * 0.01,
            started=START + i,
            ended=START + 0.1 + i,
            evidence=[_evidence(i, outcome, hostile)] if evidence else [],
            metrics=metrics,
        )))
    journal.add(EndLine(device, exit_status=1, at=START + 3600))
    return journal


def synthetic_results(
    devices: int = 2,
    tests_per_device: int = 20,
    *,
    hostile: str = "",
    evidence: bool = True,
    requirements_per_suite: int = 20,
    run_id: str = "20260101-000000-beef",
) -> ResultsDocument:
    suites = _suites(requirements_per_suite)
    built = [
        build_device(_journal(f"board-{d:02d}", tests_per_device, requirements_per_suite, hostile, evidence),
                     suites)
        for d in range(devices)
    ]
    verdicts: dict[str, int] = {}
    totals = dict.fromkeys(OUTCOMES, 0)
    for dev in built:
        verdicts[str(dev.verdict)] = verdicts.get(str(dev.verdict), 0) + 1
        for o in OUTCOMES:
            totals[o] += dev.summary[o]
    run = RunSection(
        run_id=run_id,
        harness_version=__version__,
        command_line=["harness", "run", "--all"],
        host="lab-a",
        operator="tester",
        start=START,
        end=START + 3600,
        run_json_found=True,
    )
    return ResultsDocument(
        generated=START + 3600,
        run=run,
        suites=[SuiteEntry(s.id, s.version, HASH, s.title_en, s.title_zh) for s in suites.values()],
        devices=built,
        summary=Summary(devices=devices, verdicts=dict(sorted(verdicts.items())), outcomes=totals),
    )
