"""junit.xml: valid against the Jenkins junit-10.xsd (vendored from pytest's sdist, MIT), parsed back by
junitparser with the right counts, outcomes, classnames and provenance, whatever the device printed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import xmlschema
from junitparser import Error, Failure, JUnitXml, Skipped

from harness.report.junit import junit_xml, write_junit, xml_safe
from harness.results.build import build_document
from harness.results.document import ResultsDocument
from harness.results.model import Outcome
from tests.report_runs import HOSTILE, make_run
from tests.synthetic_results import synthetic_results

XSD = Path(__file__).parent / "data" / "junit-10.xsd"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(XSD)


@pytest.fixture
def results(tmp_path: Path) -> ResultsDocument:
    """The real results builder's document for a run with every outcome and hostile device output."""
    run = make_run(tmp_path / "reports", tmp_path / "suites")
    return build_document(run)


def parsed(tmp_path: Path, data: bytes) -> JUnitXml:
    path = tmp_path / "parsed.xml"
    path.write_bytes(data)
    return JUnitXml.fromfile(str(path))


def test_hostile_output_still_gives_schema_valid_junit(
    results: ResultsDocument, schema, tmp_path: Path
) -> None:
    data = junit_xml(results)
    schema.validate(data.decode("utf-8"))  # raises on any violation, naming it
    text = data.decode("utf-8")
    for forbidden in ("\x00", "\x1b", "\x07", "\ufffe"):
        assert forbidden not in text
    assert "disabled=" not in text  # junit-xml writes it; the Jenkins schema rejects it
    # The markup the device printed is data, escaped, not elements.
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in text
    assert "<script" not in text
    # Control characters go, the readable text around them stays.
    assert "[31mred" in text and " end" in text


def test_counts_outcomes_and_classnames_parse_back(results: ResultsDocument, tmp_path: Path) -> None:
    xml = parsed(tmp_path, junit_xml(results))
    suites = {s.name: s for s in xml}
    assert sorted(suites) == ["dev-a/demo", "dev-b/demo"]  # one testsuite per (device, suite)
    a, b = suites["dev-a/demo"], suites["dev-b/demo"]
    assert (a.tests, a.failures, a.errors, a.skipped) == (5, 1, 1, 2)
    assert (b.tests, b.failures, b.errors, b.skipped) == (5, 0, 0, 0)
    cases = {case.name: case for case in a}
    assert cases["test_kernel"].classname == "dev-a.demo.test_demo"
    assert cases["test_late"].classname == "dev-a.demo.sub.test_more"
    assert cases["test_kernel"].is_passed
    [failure] = cases["test_storage"].result
    assert isinstance(failure, Failure) and failure.type == "FAIL" and failure.message.startswith("fail: ")
    [error] = cases["test_link"].result
    assert isinstance(error, Error) and error.type == "ERROR"
    [skip] = cases["test_extra"].result
    assert isinstance(skip, Skipped) and not skip.message.startswith("NOT_RUN")
    [not_run] = cases["test_late"].result
    assert isinstance(not_run, Skipped) and not_run.message.startswith("NOT_RUN: planned but never finished")
    # Requirement ids and the evidence transcript of a failure are in system-out.
    out = cases["test_storage"].system_out
    assert "requirements: DEMO-2" in out
    assert "$ dd if=/dev/zero of=/tmp/x bs=1M count=64   [exit 1, 0.250s]" in out
    assert "probe output" in out and "dd: slow device" in out and "truncated" in out
    assert "metric write_MBps = 31.5 MB/s (low 50.0, high None)" in out
    assert "did not finish" in cases["test_link"].system_out
    assert xml.tests == 10 and xml.failures == 1 and xml.errors == 1


def test_testsuite_properties_carry_the_provenance(results: ResultsDocument, tmp_path: Path) -> None:
    xml = parsed(tmp_path, junit_xml(results))
    props = {s.name: {p.name: p.value for p in s.properties()} for s in xml}
    a = props["dev-a/demo"]
    assert a["run_id"] == "20261127-101500-ab12"
    assert a["harness_version"] == "0.1.0"
    assert a["suite"] == "demo" and a["suite_version"] == "2.1.0"
    assert a["suite_content_hash"] == "sha256:" + "cd" * 32
    assert a["device"] == "dev-a" and a["device_kind"] == "board" and a["profile"] == "openeuler"
    assert (a["os_name"], a["os_version"], a["kernel"]) == ("openEuler", "22.03 LTS", "5.10.0-136.12")
    assert a["build_fingerprint"] == "openEuler/22.03/5.10.0-136.12"
    assert a["serial"] == "SN-00420"  # the BEL the console sent is gone
    assert props["dev-b/demo"]["serial"] == "SN-00421" and props["dev-b/demo"]["verdict"] == "CERTIFIED"
    assert a["verdict"] == "NOT CERTIFIED"


def test_write_junit_writes_every_copy_and_history_shows_attempts(tmp_path: Path, schema) -> None:
    doc = synthetic_results(1, 3)
    test = doc.devices[0].tests[0]
    first = test.attempts[0]
    test.attempts = [replace(first, outcome=Outcome.FAIL), replace(first, attempt=2)]
    main, ci = tmp_path / "run" / "junit.xml", tmp_path / "ci" / "out" / "junit.xml"
    write_junit(doc, main, [ci])
    assert main.read_bytes() == ci.read_bytes()
    schema.validate(main.read_text(encoding="utf-8"))
    assert "history: attempt 1: FAIL; attempt 2: PASS" in main.read_text(encoding="utf-8")


def test_timing_attributes_fit_the_schema_pattern(schema) -> None:
    doc = synthetic_results(2, 7)
    for dev in doc.devices:
        for test in dev.tests:
            test.duration = 1 / 3  # junit-xml would write 0.333333 and sum to 2.3333333333
    data = junit_xml(doc).decode()
    schema.validate(data)
    assert 'time="0.333"' in data and "0.33333" not in data


def test_xml_safe_removes_only_what_xml_forbids() -> None:
    assert xml_safe("ok\x00\x1b[31mred\x07\ufffe\ud800") == "ok[31mred"
    assert xml_safe("tab\tnew\nline\r 中文 \U0001f600") == "tab\tnew\nline\r 中文 \U0001f600"


def test_a_synthetic_document_is_what_the_schema_says(tmp_path: Path) -> None:
    """The benchmark's and tests' synthetic results must have the real document's shape."""
    import jsonschema

    from harness.results.build import SCHEMA_PATH

    doc = synthetic_results(2, 25, hostile=HOSTILE)
    jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).validate(doc.to_dict())
