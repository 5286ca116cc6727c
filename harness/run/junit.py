"""junit.xml for CI: one <testsuite> per device and suite, one <testcase> per test (its latest attempt),
<failure>/<error>/<skipped> by outcome. Device text is untrusted: characters XML 1.0 forbids are
removed before they reach the document."""

from __future__ import annotations

import re
from pathlib import Path

from junit_xml import TestCase, TestSuite, to_xml_report_string

from ..results.model import Outcome, TestRecord
from .state import DeviceState

_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
MESSAGE_LIMIT = 4000


def xml_safe(text: str) -> str:
    return _ILLEGAL_XML.sub("", text)[:MESSAGE_LIMIT]


def _case(device: str, test_id: str, rec: TestRecord | None, history: list[TestRecord]) -> TestCase:
    path, _, name = test_id.partition("::")
    classname = f"{device}." + path.removesuffix(".py").replace("/", ".")
    case = TestCase(xml_safe(name or test_id), classname=xml_safe(classname), file=xml_safe(path),
                    elapsed_sec=rec.duration if rec else 0.0)
    if len(history) > 1:
        case.stdout = xml_safe("\n".join(
            f"attempt {r.attempt}{f' repeat {r.repeat}' if r.repeat else ''}: {r.outcome} {r.message}"
            .rstrip() for r in history))
    message = xml_safe(rec.message) if rec else "planned, never finished"
    outcome = rec.outcome if rec else Outcome.NOT_RUN
    if outcome == Outcome.FAIL:
        case.add_failure_info(message=message or "failed", failure_type="FAIL")
    elif outcome == Outcome.ERROR:
        case.add_error_info(message=message or "error", error_type="ERROR")
    elif outcome == Outcome.NOT_RUN:
        # Not "skipped": CI must not read an interrupted test as harmless.
        case.add_error_info(message=message or "not run", error_type="NOT_RUN")
    elif outcome == Outcome.SKIP:
        case.add_skipped_info(message=message or "skipped")
    return case


def junit_xml(states: list[DeviceState]) -> str:
    suites: list[TestSuite] = []
    for state in states:
        latest = state.latest()
        by_suite: dict[str, list[TestCase]] = {}
        for test_id, rec in latest.items():
            history = [r for r in state.results if r.test_id == test_id]
            suite = state.planned[test_id].suite if test_id in state.planned else test_id.split("/", 1)[0]
            by_suite.setdefault(suite, []).append(_case(state.device, test_id, rec, history))
        for suite, cases in by_suite.items():
            suites.append(TestSuite(xml_safe(f"{state.device}/{suite}"), cases,
                                    properties={"device": state.device, "suite": suite}))
    return to_xml_report_string(suites, prettyprint=True, encoding="utf-8")


def write_junit(states: list[DeviceState], *paths: Path) -> None:
    text = junit_xml(states)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
