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
from typing import Any

from junit_xml import TestCase, TestSuite

from .. import __version__
from ..atomic_file import write_atomic

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


def _evidence_text(test: dict[str, Any], full: bool) -> str:
    lines = []
    for ev in test.get("evidence") or []:
        code = "did not finish" if ev.get("exit_code") is None else f"exit {ev['exit_code']}"
        lines.append(f"$ {ev.get('command', '')}   [{code}, {float(ev.get('duration') or 0):.3f}s]")
        if ev.get("error"):
            lines.append(f"transport error: {ev['error']}")
        if full:
            for stream in ("stdout", "stderr"):
                if ev.get(stream):
                    note = " (truncated by the device link)" if ev.get("truncated") else ""
                    lines.append(f"--- {stream}{note}")
                    lines.append(excerpt(str(ev[stream]), EXCERPT_LIMIT))
    return "\n".join(lines)


def _attempt_text(attempt: dict[str, Any]) -> str:
    repeat = f" repeat {attempt['repeat']}" if attempt.get("repeat") else ""
    return f"attempt {attempt['attempt']}{repeat}: {attempt['outcome']}"


def _system_out(test: dict[str, Any]) -> str:
    out = [f"test: {test['test_id']}"]
    if test.get("requirements"):
        out.append("requirements: " + ", ".join(test["requirements"]))
    attempts = test.get("attempts") or []
    if len(attempts) > 1:
        out.append("history: " + "; ".join(_attempt_text(a) for a in attempts))
    if test.get("flaky"):
        out.append("flaky: the device both passed and failed this test")
    for m in test.get("metrics") or []:
        has_bounds = m.get("low") is not None or m.get("high") is not None
        bounds = f" (low {m.get('low')}, high {m.get('high')})" if has_bounds else ""
        out.append(f"metric {m['name']} = {m['value']} {m.get('unit') or ''}{bounds}".rstrip())
    transcript = _evidence_text(test, full=test["outcome"] != "PASS")
    if transcript:
        out.append("evidence:\n" + transcript)
    return "\n".join(out)


def _case(device: str, test: dict[str, Any]) -> TestCase:
    test_id = str(test["test_id"])
    name = test_id.partition("::")[2] or test_id
    suite = str(test.get("suite") or test_id.split("/", 1)[0])
    classname = f"{device}.{suite}.{_module_of(test_id.partition('::')[0])}"
    case = TestCase(
        name, classname=classname, elapsed_sec=float(test.get("duration") or 0.0), stdout=_system_out(test)
    )
    message = excerpt(str(test.get("message") or ""), MESSAGE_LIMIT)
    outcome = test["outcome"]
    waived_by = test.get("waived_by") or []
    if waived_by:  # the failure stands as measured; the verdict accepts it under a platform waiver
        message = f"WAIVED by {', '.join(waived_by)}: {message}"
    if outcome == "FAIL":
        case.add_failure_info(message=message or "failed", failure_type="WAIVED" if waived_by else "FAIL")
    elif outcome == "ERROR":
        case.add_error_info(message=message or "lab or harness error", error_type="ERROR")
    elif outcome == "NOT_RUN":
        why = f": {message}" if message else ""
        case.add_skipped_info(message=f"NOT_RUN: planned but never finished{why}")
    elif outcome == "SKIP":
        case.add_skipped_info(message=message or "skipped")
    return case


def _provenance(results: dict[str, Any], device: dict[str, Any], suite: str) -> dict[str, str]:
    run = results.get("run") or {}
    ref: dict[str, Any] = next((s for s in results.get("suites") or [] if s.get("id") == suite), {})
    ident = device.get("identity") or {}
    props = {
        "run_id": run.get("run_id", ""),
        "harness_version": run.get("harness_version") or __version__,
        "suite": suite,
        "suite_version": ref.get("version", ""),
        "suite_content_hash": ref.get("content_hash", ""),
        "device": device["name"],
        "device_kind": device.get("kind", ""),
        "profile": device.get("profile", ""),
        "os_name": ident.get("os_name", ""),
        "os_version": ident.get("os_version", ""),
        "kernel": ident.get("kernel", ""),
        "arch": ident.get("arch", ""),
        "build_fingerprint": ident.get("fingerprint", ""),
        "serial": ident.get("serial", ""),
        "verdict": device.get("verdict", ""),
    }
    waivers = device.get("waivers") or []
    if waivers:
        props["waived"] = "; ".join(f"{w['requirement']}={w['id']} ({w['note']})" for w in waivers
                                    if w.get("applies") == "applied")
        props["waivers_not_applied"] = "; ".join(f"{w['id']} {w['requirement']}: {w['applies']} ({w['note']})"
                                                 for w in waivers if w.get("applies") != "applied")
    return {k: str(v or "") for k, v in props.items()}


def junit_suites(results: dict[str, Any]) -> list[TestSuite]:
    suites = []
    for device in results.get("devices") or []:
        by_suite: dict[str, list[dict[str, Any]]] = {}
        for test in device.get("tests") or []:
            by_suite.setdefault(str(test.get("suite") or test["test_id"].split("/", 1)[0]), []).append(test)
        for suite, tests in by_suite.items():
            suites.append(
                TestSuite(
                    f"{device['name']}/{suite}",
                    [_case(device["name"], t) for t in tests],
                    hostname=device["name"],
                    package=f"{device['name']}.{suite}",
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


def junit_tree(results: dict[str, Any]) -> ET.Element:
    root = ET.Element("testsuites", name=str((results.get("run") or {}).get("run_id", "")))
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


def junit_xml(results: dict[str, Any]) -> bytes:
    root = junit_tree(results)
    ET.indent(root, space=" ")
    # ElementTree writes characters as they are; one pass over the whole text removes every character
    # XML 1.0 forbids, wherever device text ended up (names, messages, properties, system-out).
    text = xml_safe(ET.tostring(root, encoding="unicode"))
    return b"<?xml version='1.0' encoding='utf-8'?>\n" + text.encode("utf-8") + b"\n"


def write_junit(results: dict[str, Any], path: Path, copies: Iterable[Path] = ()) -> Path:
    """Write junit.xml (temp file + rename) at `path` and at each extra path (CI's --junit)."""
    data = junit_xml(results)
    for target in (path, *copies):
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
    return path
