"""Journals -> results.json: final outcomes over attempts and repeats, NOT_RUN for planned tests with
no result, torn lines, run.json defaults, the schema, the atomic write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness.results.build import RESULTS_JSON, SCHEMA_PATH, build_results, write_results
from harness.results.journal import read_journal

SUITE_TOML = """id = "demo"
version = "2.1"
title_en = "Demo"
title_zh = "演示"

[[requirements]]
id = "D-1"
level = "MUST"
title_en = "must"
title_zh = "必须"

[[requirements]]
id = "D-2"
level = "SHOULD"
title_en = "should"
title_zh = "应当"
"""
IDENTITY = {"os_name": "openEuler", "os_version": "22.03", "kernel": "5.10", "arch": "aarch64"}


def validate(doc: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(doc)


@pytest.fixture
def suites_root(tmp_path: Path) -> Path:
    root = tmp_path / "suites"
    (root / "demo").mkdir(parents=True)
    (root / "demo" / "suite.toml").write_text(SUITE_TOML, encoding="utf-8")
    (root / "demo" / "test_demo.py").write_text("def test_x():\n    pass\n")
    return root


def plan(attempt: int, tests: list[tuple[str, list[str]]], repeat: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "type": "plan",
        "device": "dev",
        "kind": "board",
        "profile": "openeuler",
        "attempt": attempt,
        "repeat": repeat,
        "tests": [{"test_id": t, "suite": "demo", "requirements": r} for t, r in tests],
        **extra,
    }


def result(test_id: str, outcome: str, reqs: list[str], attempt: int = 1, repeat: int = 0) -> dict[str, Any]:
    evidence = [
        {
            "command": "uname -r",
            "exit_code": 0,
            "stdout": "5.10\n",
            "stderr": "",
            "duration": 0.01,
            "started": 1.0,
            "truncated": False,
            "error": None,
        }
    ]
    return {
        "type": "result",
        "test_id": test_id,
        "suite": "demo",
        "outcome": outcome,
        "device": "dev",
        "requirements": reqs,
        "message": "" if outcome == "PASS" else f"{outcome.lower()} here",
        "duration": 0.5,
        "started": 1.0,
        "ended": 1.5,
        "attempt": attempt,
        "repeat": repeat,
        "evidence": evidence,
        "metrics": [{"name": "boot", "value": 12.5, "unit": "s", "low": None, "high": 30.0}],
    }


DEVICE = {"type": "device", "device": "dev", "identity": IDENTITY}


def end(attempt: int, interrupted: bool = False) -> dict[str, Any]:
    return {"type": "end", "device": "dev", "attempt": attempt, "interrupted": interrupted}


def write_journal(run_dir: Path, lines: list[dict[str, Any]], tail: str = "", device: str = "dev") -> Path:
    path = run_dir / "journal" / f"{device}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + tail, encoding="utf-8")
    return path


A, B, C = "demo/test_demo.py::test_a", "demo/test_demo.py::test_b", "demo/test_demo.py::test_c"


def test_torn_last_line_still_builds_and_marks_the_rest_not_run(tmp_path: Path, suites_root: Path) -> None:
    run = tmp_path / "run"
    torn = json.dumps(result(B, "PASS", ["D-2"]))[:57]  # a killed worker stopped mid-line
    write_journal(
        run, [plan(1, [(A, ["D-1"]), (B, ["D-2"]), (C, ["D-2"])]), DEVICE, result(A, "PASS", ["D-1"])], torn
    )
    assert read_journal(run / "journal" / "dev.jsonl").bad_lines == 1
    doc = build_results(run, suites_root=suites_root)
    validate(doc)
    (dev,) = doc["devices"]
    tests = {t["test_id"]: t for t in dev["tests"]}
    assert tests[A]["outcome"] == "PASS" and tests[A]["evidence"][0]["stdout"] == "5.10\n"
    assert tests[B]["outcome"] == "NOT_RUN" and tests[C]["outcome"] == "NOT_RUN"
    assert "no result" in tests[B]["message"]
    assert dev["interrupted"] is True  # no end line: the worker was killed
    assert dev["journal_bad_lines"] == 1
    assert dev["summary"] == {"PASS": 1, "FAIL": 0, "ERROR": 0, "SKIP": 0, "NOT_RUN": 2, "total": 3}
    # D-2 (SHOULD) did not run: conditional at best; D-1 passed.
    reqs = {r["id"]: r["status"] for r in dev["requirements"]}
    assert reqs == {"D-1": "pass", "D-2": "incomplete"}
    assert dev["verdict"] == "CONDITIONAL"


def test_latest_attempt_decides_and_history_is_kept(tmp_path: Path, suites_root: Path) -> None:
    run = tmp_path / "run"
    write_journal(
        run,
        [
            plan(1, [(A, ["D-1"]), (B, ["D-2"])]),
            DEVICE,
            result(A, "ERROR", ["D-1"]),
            result(B, "FAIL", ["D-2"]),
            end(1),
            plan(2, [(A, ["D-1"]), (B, ["D-2"])]),  # a retry of both
            {**DEVICE, "identity": {**IDENTITY, "kernel": "5.10.1"}},
            result(A, "PASS", ["D-1"], attempt=2),
            result(B, "PASS", ["D-2"], attempt=2),
            end(2),
        ],
    )
    doc = build_results(run, suites_root=suites_root)
    validate(doc)
    (dev,) = doc["devices"]
    a, b = dev["tests"]
    assert (a["outcome"], a["attempt"], [x["outcome"] for x in a["attempts"]]) == (
        "PASS",
        2,
        ["ERROR", "PASS"],
    )
    assert a["flaky"] is False  # a lab error then a pass is not flakiness
    assert b["flaky"] is True  # the device both failed and passed it
    assert dev["verdict"] == "CERTIFIED" and dev["attempts"] == [1, 2]
    assert dev["identity"]["kernel"] == "5.10.1" and dev["identity_changed"] is True
    assert dev["interrupted"] is False


def test_retry_of_a_subset_keeps_earlier_results_and_missing_retry_is_not_run(
    tmp_path: Path, suites_root: Path
) -> None:
    run = tmp_path / "run"
    write_journal(
        run,
        [
            plan(1, [(A, ["D-1"]), (B, ["D-2"])]),
            DEVICE,
            result(A, "PASS", ["D-1"]),
            result(B, "FAIL", ["D-2"]),
            end(1),
            plan(2, [(B, ["D-2"])]),  # retry of B only, killed before it finished
        ],
    )
    (dev,) = build_results(run, suites_root=suites_root)["devices"]
    a, b = dev["tests"]
    assert (a["outcome"], a["attempt"]) == ("PASS", 1)
    assert (b["outcome"], b["attempt"]) == ("NOT_RUN", 2)
    assert [x["outcome"] for x in b["attempts"]] == ["FAIL", "NOT_RUN"]
    assert dev["verdict"] == "CONDITIONAL"  # a SHOULD is incomplete
    assert dev["interrupted"] is True


def test_repeats_the_most_severe_decides_and_missing_repeats_are_not_run(
    tmp_path: Path, suites_root: Path
) -> None:
    run = tmp_path / "run"
    write_journal(
        run,
        [
            plan(1, [(A, ["D-1"]), (B, ["D-2"])], repeat=3),
            DEVICE,
            *(result(A, o, ["D-1"], repeat=i) for i, o in enumerate(["PASS", "FAIL", "PASS"])),
            result(B, "PASS", ["D-2"], repeat=0),
            result(B, "PASS", ["D-2"], repeat=1),
            end(1),
        ],
    )
    doc = build_results(run, suites_root=suites_root)
    validate(doc)
    a, b = doc["devices"][0]["tests"]
    assert (a["outcome"], a["repeat"], a["repeats"], a["flaky"]) == ("FAIL", 1, 3, True)
    assert b["outcome"] == "NOT_RUN" and [x["repeat"] for x in b["attempts"]] == [0, 1, 2]
    assert doc["devices"][0]["verdict"] == "NOT CERTIFIED"


def test_run_json_fields_suites_and_waivers(tmp_path: Path, suites_root: Path) -> None:
    run = tmp_path / "run"
    info = {
        "run_id": "r-42",
        "harness_version": "9.9",
        "command_line": ["harness", "run", "demo"],
        "host": "lab-pc",
        "operator": "li",
        "start": 100.0,
        "end": 200.0,
        "suites_root": str(suites_root),
        "suites": [{"id": "demo", "version": "2.1", "content_hash": "sha256:" + "ab" * 32}],
        "inventory": "devices.toml",
        "waivers": ["D-1"],  # an old key nothing writes: it waives nothing
        "from_a_newer_harness": {"x": 1},
    }
    run.mkdir()
    (run / "run.json").write_text(json.dumps(info))
    write_journal(
        run,
        [
            plan(1, [(A, ["D-1"]), (B, ["D-2"])]),
            DEVICE,
            result(A, "FAIL", ["D-1"]),
            result(B, "PASS", ["D-2"]),
            end(1),
        ],
    )
    doc = write_results(run).to_dict()  # suites root from run.json
    validate(doc)
    assert json.loads((run / RESULTS_JSON).read_text()) == doc
    assert [p.name for p in run.iterdir() if p.name.endswith(".tmp")] == []
    assert doc["run"]["run_id"] == "r-42" and doc["run"]["operator"] == "li" and doc["run"]["run_json_found"]
    assert doc["run"]["inventory"] == "devices.toml"  # extra run.json fields are kept
    assert doc["run"]["from_a_newer_harness"] == {"x": 1}
    assert doc["suites"] == [
        {
            "id": "demo",
            "version": "2.1",
            "content_hash": "sha256:" + "ab" * 32,
            "title_en": "Demo",
            "title_zh": "演示",
        }
    ]
    (dev,) = doc["devices"]
    req = {r["id"]: r for r in dev["requirements"]}
    # A waiver is the platform's signed file only (harness run --waivers, tests/test_run_waivers.py);
    # run.json cannot waive a requirement by naming it.
    assert req["D-1"]["status"] == "fail" and req["D-1"]["waived_status"] is None
    assert dev["verdict"] == "NOT CERTIFIED" and doc["run"]["waivers"] == []
    assert doc["summary"]["verdicts"] == {"NOT CERTIFIED": 1}


def test_without_run_json_defaults_and_two_devices(tmp_path: Path, suites_root: Path) -> None:
    run = tmp_path / "run-7"
    write_journal(run, [plan(1, [(A, ["D-1"])]), DEVICE, result(A, "PASS", ["D-1"]), end(1)], device="dev")
    write_journal(run, [{**plan(1, [(A, ["D-1"])]), "device": "gone"}, end(1)], device="gone")
    doc = build_results(run, suites_root=suites_root)
    validate(doc)
    assert doc["run"]["run_id"] == "run-7" and doc["run"]["run_json_found"] is False
    assert doc["suites"][0]["content_hash"].startswith("sha256:")  # hashed at build time
    by_name = {d["name"]: d for d in doc["devices"]}
    assert by_name["dev"]["verdict"] == "CONDITIONAL"  # SHOULD D-2 not covered
    gone = by_name["gone"]
    assert gone["identity"] is None and gone["reachable"] is False and gone["verdict"] == "INCOMPLETE"
    assert doc["summary"]["devices"] == 2 and doc["summary"]["outcomes"]["NOT_RUN"] == 1


def test_missing_only_ids_and_schema_rejects_a_bad_document(tmp_path: Path, suites_root: Path) -> None:
    run = tmp_path / "run"
    write_journal(run, [plan(1, [(A, ["D-1"])], missing=["demo/test_demo.py::test_gone"]), DEVICE, end(1)])
    doc = build_results(run, suites_root=suites_root)
    validate(doc)
    tests = {t["test_id"]: t for t in doc["devices"][0]["tests"]}
    assert tests["demo/test_demo.py::test_gone"]["outcome"] == "NOT_RUN"
    assert "not found" in tests["demo/test_demo.py::test_gone"]["message"]
    doc["devices"][0]["verdict"] = "PASSED"
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)


def test_a_suite_the_run_used_but_cannot_be_found_is_an_error_not_a_quiet_verdict(
    tmp_path: Path, suites_root: Path
) -> None:
    from harness.errors import ConfigError

    run_dir = tmp_path / "run"
    write_journal(run_dir, [plan(1, [("k/test_k.py::test_a", ["K-1"])]), result("k/test_k.py::test_a", "PASS", ["K-1"])])
    (run_dir / "run.json").write_text(json.dumps({"suites": [{"id": "gone", "version": "1"}]}))
    with pytest.raises(ConfigError, match="gone"):
        build_results(run_dir, suites_root=suites_root)


@pytest.mark.parametrize(
    ("fields", "unreachable"),
    [
        ({"unreachable": True, "message": "setup: device unreachable: refused; teardown: ValueError: x"}, True),
        # What says so is the record's field, not its words.
        ({"unreachable": True, "message": "the board's own words"}, True),
        ({"message": "device unreachable: but only in the text"}, False),
        ({"message": "ConnectionLost: link dropped"}, False),
    ],
)
def test_a_device_gone_is_unreachable_whatever_phase_said_so(
    tmp_path: Path, suites_root: Path, fields: dict[str, Any], unreachable: bool
) -> None:
    broken = {**result(B, "ERROR", ["DEMO-2"]), **fields}
    write_journal(tmp_path, [plan(1, [(A, ["DEMO-1"]), (B, ["DEMO-2"])]), DEVICE, result(A, "PASS", ["DEMO-1"]), broken])
    (device,) = build_results(tmp_path, suites_root=suites_root)["devices"]
    assert device["reachable"] is (not unreachable)
