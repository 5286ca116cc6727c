"""What the verdict policy hands to results.json and the report for each requirement: its titles, its
tests, whether it was defined by a suite or made up for tests that name none, and the document entry
itself, which the results schema checks. Pure (harness.results.verdict)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from harness.results import model
from harness.results.model import Outcome, Verdict
from harness.results.verdict import RequirementResult, Status, assess, requirement_statuses, verdict_of
from harness.suites import Requirement

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "harness" / "schemas" / "results.schema.json").read_text()
)
M1 = Requirement("M-1", "MUST", "must one", "必须一", source="a published rule", suite="s")
HANDSET_ONLY = Requirement("M-HS", "MUST", "handsets only", "仅手机", kinds=("handset",))


def rec(test_id: str, outcome: Outcome, *reqs: str, suite: str = "s") -> model.TestRecord:
    return model.TestRecord(test_id=test_id, suite=suite, outcome=outcome, device="d", requirements=list(reqs))


def _entry_valid(entry: dict[str, object]) -> None:
    schema = {"$defs": SCHEMA["$defs"], "$ref": "#/$defs/requirement"}
    jsonschema.validate(entry, schema)


def test_each_kind_of_requirement_is_flagged_and_titled_for_the_report() -> None:
    results = requirement_statuses(
        [M1],
        [rec("a", Outcome.PASS, "M-1"), rec("b", Outcome.FAIL, "TYPO-1"), rec("c", Outcome.PASS, suite="net")],
    )
    by_id = {r.id: r for r in results}
    assert by_id["M-1"] == RequirementResult(
        "M-1", "MUST", Status.PASS, "must one", "必须一", ["a"], None, implicit=False, defined=True,
        suite="s", source="a published rule")
    assert by_id["TYPO-1"] == RequirementResult(
        "TYPO-1", "MUST", Status.FAIL, "(not defined in any suite.toml)", "（未在任何 suite.toml 中定义）", ["b"],
        None, implicit=False, defined=False, suite="s")  # the suite of the test naming it
    assert by_id["net:untagged"] == RequirementResult(
        "net:untagged", "MUST", Status.PASS, "Tests of suite net that name no requirement",
        "套件 net 中未标注需求的测试", ["c"], None, implicit=True, defined=True, suite="net")


def test_a_requirement_entry_is_what_the_results_schema_requires() -> None:
    waived = RequirementResult("M-1", "MUST", Status.WAIVED, "t", "标", ["a"], Status.FAIL)
    assert waived.to_dict() == {
        "id": "M-1", "level": "MUST", "status": "waived", "title_en": "t", "title_zh": "标", "tests": ["a"],
        "waived_status": "fail", "implicit": False, "defined": True, "waiver": None, "suite": "", "source": "",
    }
    plain = RequirementResult("x:untagged", "MUST", Status.NOT_COVERED, implicit=True, defined=True)
    assert plain.to_dict()["waived_status"] is None and plain.to_dict()["status"] == "not-covered"
    for entry in (waived.to_dict(), plain.to_dict()):
        _entry_valid(entry)
    assert type(waived.to_dict()["status"]) is str  # plain JSON, not the enum


def test_assess_applies_the_device_kind_and_returns_every_requirement() -> None:
    result = assess([M1, HANDSET_ONLY], [rec("a", Outcome.PASS, "M-1"), rec("b", Outcome.FAIL, "M-HS")],
                    kind="board")
    assert result.verdict is Verdict.CERTIFIED  # the handset-only failure does not apply to a board
    assert [(r.id, r.status) for r in result.requirements] == [
        ("M-1", Status.PASS), ("M-HS", Status.NOT_APPLICABLE)]


def test_nothing_verified_says_so() -> None:
    assert verdict_of([RequirementResult("M-1", "MUST", Status.SKIPPED)]) == (
        Verdict.INCOMPLETE, ["no requirement was verified on this device"])
