"""results.json -> junit.xml for CI, valid against the Jenkins junit-10.xsd.

One <testsuite> per (device, suite) carrying the provenance as properties; one <testcase> per planned
test (its final outcome) with classname `<device>.<suite>.<module>`; FAIL -> <failure>, ERROR ->
<error>, SKIP and NOT_RUN -> <skipped> (NOT_RUN says so). Device text is untrusted: characters XML 1.0
forbids (serial consoles produce them) are removed from every string before it reaches the tree."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from junit_xml import TestCase, TestSuite

from .. import __version__
from ..atomic_file import write_atomic
from ..results.document import DeviceResult, ResultsDocument, TestEntry
from ..results.gc_pause import gc_paused
from ..results.model import Outcome, TestRecord

# C0 controls but tab/newline/CR, DEL and most C1 controls, UTF-16 surrogates, the BMP noncharacters.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
MESSAGE_LIMIT = 4000  # a failure message is a summary; the transcript goes to system-out
EXCERPT_LIMIT = 2000  # per stream of one evidence command
# Attributes the Jenkins schema knows; junit-xml writes more (disabled, file, status, ...).
_SUITE_ATTRS = {
    "name",
    "tests",
    "failures",
    "errors",
    "group",
    "time",
    "skipped",
    "timestamp",
    "hostname",
    "id",
    "package",
    "file",
    "log",
    "url",
    "version",
}
_CASE_ATTRS = {"name", "time", "classname", "group"}
_ROOT_ATTRS = {"name", "time", "tests", "failures", "errors"}
_TIME_ATTRS = ("time",)


def xml_safe(text: str) -> str:
    """`text` with every character XML 1.0 forbids removed."""
    return _ILLEGAL_XML.sub("", text)


def excerpt(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit} more characters; full output in logs/]"


@lru_cache(maxsize=4096)
def _module_of(path: str) -> str:
    path = path.removesuffix(".py")
    parts = [p for p in path.split("/") if p]
    # The suite folder is the first part; the classname adds the module path inside it.
    return ".".join(parts[1:]) or (parts[0] if parts else "tests")


def _evidence_text(test: TestEntry, full: bool) -> str:
    lines = []
    for ev in test.evidence:
        code = "did not finish" if ev.exit_code is None else f"exit {ev.exit_code}"
        lines.append(f"$ {ev.command}   [{code}, {float(ev.duration or 0):.3f}s]")
        if ev.error:
            lines.append(f"transport error: {ev.error}")
        if full:
            for stream, text in (("stdout", ev.stdout), ("stderr", ev.stderr)):
                if text:
                    note = " (truncated by the device link)" if ev.truncated else ""
                    lines.append(f"--- {stream}{note}")
                    lines.append(excerpt(str(text), EXCERPT_LIMIT))
    return "\n".join(lines)


def _attempt_text(attempt: TestRecord) -> str:
    repeat = f" repeat {attempt.repeat}" if attempt.repeat else ""
    return f"attempt {attempt.attempt}{repeat}: {attempt.outcome}"


def _system_out(test: TestEntry) -> str:
    out = [f"test: {test.test_id}"]
    if test.requirements:
        out.append("requirements: " + ", ".join(test.requirements))
    if len(test.attempts) > 1:
        out.append("history: " + "; ".join(_attempt_text(a) for a in test.attempts))
    if test.flaky:
        out.append("flaky: the device both passed and failed this test")
    for m in test.metrics:
        has_bounds = m.low is not None or m.high is not None
        bounds = f" (low {m.low}, high {m.high})" if has_bounds else ""
        out.append(f"metric {m.name} = {m.value} {m.unit or ''}{bounds}".rstrip())
    transcript = _evidence_text(test, full=test.outcome is not Outcome.PASS)
    if transcript:
        out.append("evidence:\n" + transcript)
    return "\n".join(out)


def _suite_of(test: TestEntry) -> str:
    return str(test.suite or test.test_id.split("/", 1)[0])


def _case(device: str, test: TestEntry) -> TestCase:
    test_id = str(test.test_id)
    name = test_id.partition("::")[2] or test_id
    classname = f"{device}.{_suite_of(test)}.{_module_of(test_id.partition('::')[0])}"
    case = TestCase(
        name, classname=classname, elapsed_sec=float(test.duration or 0.0), stdout=_system_out(test)
    )
    message = excerpt(str(test.message or ""), MESSAGE_LIMIT)
    outcome = test.outcome
    waived_by = test.waived_by
    if waived_by:  # the failure stands as measured; the verdict accepts it under a platform waiver
        message = f"WAIVED by {', '.join(waived_by)}: {message}"
    if outcome is Outcome.FAIL:
        case.add_failure_info(message=message or "failed", failure_type="WAIVED" if waived_by else "FAIL")
    elif outcome is Outcome.ERROR:
        case.add_error_info(message=message or "lab or harness error", error_type="ERROR")
    elif outcome is Outcome.NOT_RUN:
        why = f": {message}" if message else ""
        case.add_skipped_info(message=f"NOT_RUN: planned but never finished{why}")
    elif outcome is Outcome.SKIP:
        case.add_skipped_info(message=message or "skipped")
    return case


def _provenance(results: ResultsDocument, device: DeviceResult, suite: str) -> dict[str, str]:
    run = results.run
    ref = results.suite(suite)
    ident = device.identity or {}
    props = {
        "run_id": run.run_id,
        "harness_version": run.harness_version or __version__,
        "suite": suite,
        "suite_version": ref.version if ref else "",
        "suite_content_hash": ref.content_hash if ref else "",
        "device": device.name,
        "device_kind": device.kind,
        "profile": device.profile,
        "os_name": ident.get("os_name", ""),
        "os_version": ident.get("os_version", ""),
        "kernel": ident.get("kernel", ""),
        "arch": ident.get("arch", ""),
        "build_fingerprint": ident.get("fingerprint", ""),
        "serial": ident.get("serial", ""),
        "verdict": str(device.verdict),
    }
    waivers = device.waivers or []
    if waivers:
        props["waived"] = "; ".join(f"{w.requirement}={w.id} ({w.note})" for w in waivers
                                    if w.applies == "applied")
        props["waivers_not_applied"] = "; ".join(f"{w.id} {w.requirement}: {w.applies} ({w.note})"
                                                 for w in waivers if w.applies != "applied")
    return {k: str(v or "") for k, v in props.items()}


def junit_suites(results: ResultsDocument) -> list[TestSuite]:
    suites = []
    for device in results.devices:
        by_suite: dict[str, list[TestEntry]] = {}
        for test in device.tests:
            by_suite.setdefault(_suite_of(test), []).append(test)
        for suite, tests in by_suite.items():
            suites.append(
                TestSuite(
                    f"{device.name}/{suite}",
                    [_case(device.name, t) for t in tests],
                    hostname=device.name,
                    package=f"{device.name}.{suite}",
                    properties=_provenance(results, device, suite),
                )
            )
    return suites


def _keep(element: ET.Element, allowed: set[str]) -> None:
    for attr in [a for a in element.attrib if a not in allowed]:
        del element.attrib[attr]
    for attr in _TIME_ATTRS:
        if attr in element.attrib:
            # junit-10.xsd's SUREFIRE_TIME allows at most three decimals.
            element.set(attr, f"{float(element.attrib[attr]):.3f}")


def junit_tree(results: ResultsDocument) -> ET.Element:
    root = ET.Element("testsuites", name=str(results.run.run_id))
    totals = {"tests": 0, "failures": 0, "errors": 0}
    elapsed = 0.0
    for suite in junit_suites(results):
        element = suite.build_xml_doc()
        _keep(element, _SUITE_ATTRS)
        for case in element.iter("testcase"):
            _keep(case, _CASE_ATTRS)
        for key in totals:
            totals[key] += int(element.get(key, 0))
        elapsed += float(element.get("time", 0))
        root.append(element)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{elapsed:.3f}")
    _keep(root, _ROOT_ATTRS)
    return root


def junit_xml(results: ResultsDocument) -> bytes:
    with gc_paused():  # a tree of 100,000 cases holds no cycles
        root = junit_tree(results)
    ET.indent(root, space=" ")
    # ElementTree writes characters as they are; one pass over the whole text removes every character
    # XML 1.0 forbids, wherever device text ended up (names, messages, properties, system-out).
    text = xml_safe(ET.tostring(root, encoding="unicode"))
    return b"<?xml version='1.0' encoding='utf-8'?>\n" + text.encode("utf-8") + b"\n"


def write_junit(results: ResultsDocument, path: Path, copies: Iterable[Path] = ()) -> Path:
    """Write junit.xml (temp file + rename) at `path` and at each extra path (CI's --junit)."""
    data = junit_xml(results)
    for target in (path, *copies):
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
    return path
