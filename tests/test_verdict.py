"""The certification policy (harness.results.verdict): every status and every verdict branch."""

from __future__ import annotations

from harness.results import model
from harness.results.model import Outcome, Verdict
from harness.results.verdict import Status, assess, requirement_statuses, untagged_id
from harness.suites import Requirement

M1 = Requirement("M-1", "MUST", "must one", "必须一")
M2 = Requirement("M-2", "MUST", "must two", "必须二")
S1 = Requirement("S-1", "SHOULD", "should one", "应当一")
OHOS_ONLY = Requirement("M-OHOS", "MUST", "ohos only", "仅 ohos", profiles=("openharmony",))
HANDSET_ONLY = Requirement("M-HS", "MUST", "handsets only", "仅手机", kinds=("handset",))


def rec(test_id: str, outcome: Outcome, *reqs: str, suite: str = "s") -> model.TestRecord:
    return model.TestRecord(
        test_id=test_id, suite=suite, outcome=outcome, device="d", requirements=list(reqs)
    )


def statuses(reqs, records, **kw) -> dict[str, Status]:
    return {r.id: r.status for r in requirement_statuses(reqs, records, **kw)}


def test_requirement_status_from_its_tests() -> None:
    got = statuses(
        [M1, M2, S1],
        [
            rec("a", Outcome.PASS, "M-1"),
            rec("b", Outcome.FAIL, "M-1"),  # one FAIL among passes: fail
            rec("c", Outcome.PASS, "M-2"),
            rec("d", Outcome.SKIP, "M-2"),  # a pass with a skip beside it: pass
            rec("e", Outcome.ERROR, "S-1"),
        ],
    )
    assert got == {"M-1": Status.FAIL, "M-2": Status.PASS, "S-1": Status.INCOMPLETE}
    assert statuses([M1], [rec("a", Outcome.PASS, "M-1"), rec("b", Outcome.NOT_RUN, "M-1")]) == {
        "M-1": Status.INCOMPLETE
    }
    # FAIL outranks ERROR: a finding stays a finding whatever else went wrong.
    assert (
        statuses([M1], [rec("a", Outcome.ERROR, "M-1"), rec("b", Outcome.FAIL, "M-1")])["M-1"] is Status.FAIL
    )


def test_all_skipped_is_skipped_never_pass_and_not_covered_without_tests() -> None:
    got = statuses([M1, M2], [rec("a", Outcome.SKIP, "M-1"), rec("b", Outcome.SKIP, "M-1")])
    assert got == {"M-1": Status.SKIPPED, "M-2": Status.NOT_COVERED}


def test_applicability_by_profile_and_kind() -> None:
    records = [rec("a", Outcome.FAIL, "M-OHOS"), rec("b", Outcome.FAIL, "M-HS")]
    board = statuses([OHOS_ONLY, HANDSET_ONLY], records, profile="openeuler", kind="board")
    assert board == {"M-OHOS": Status.NOT_APPLICABLE, "M-HS": Status.NOT_APPLICABLE}
    handset = statuses([OHOS_ONLY, HANDSET_ONLY], records, profile="openharmony", kind="handset")
    assert handset == {"M-OHOS": Status.FAIL, "M-HS": Status.FAIL}
    # Unknown profile/kind cannot exclude a requirement.
    assert statuses([OHOS_ONLY], records)["M-OHOS"] is Status.FAIL


def test_untagged_tests_form_the_suites_implicit_must() -> None:
    results = requirement_statuses(
        [], [rec("a", Outcome.PASS, suite="net"), rec("b", Outcome.FAIL, suite="net")]
    )
    (implicit,) = results
    assert implicit.id == untagged_id("net") == "net:untagged"
    assert implicit.level == "MUST" and implicit.implicit and implicit.status is Status.FAIL
    assert implicit.tests == ["a", "b"]


def test_undefined_requirement_id_counts_as_must() -> None:
    (unknown,) = requirement_statuses([], [rec("a", Outcome.FAIL, "TYPO-1")])
    assert unknown.level == "MUST" and not unknown.defined and not unknown.implicit
    assert assess([], [rec("a", Outcome.FAIL, "TYPO-1")]).verdict is Verdict.NOT_CERTIFIED


def test_waivers_cover_open_requirements_only() -> None:
    results = requirement_statuses(
        [M1, M2, S1],
        [rec("a", Outcome.FAIL, "M-1"), rec("b", Outcome.PASS, "M-2")],
        waivers={"M-1", "M-2", "S-1"},
    )
    by_id = {r.id: r for r in results}
    assert by_id["M-1"].status is Status.WAIVED and by_id["M-1"].waived_status is Status.FAIL
    assert by_id["M-2"].status is Status.PASS and by_id["M-2"].waived_status is None  # nothing to waive
    assert by_id["S-1"].status is Status.WAIVED and by_id["S-1"].waived_status is Status.NOT_COVERED


def verdict(records, reqs=(M1, M2, S1), **kw) -> Verdict:
    return assess(reqs, records, **kw).verdict


def test_certified_when_every_must_and_should_passes() -> None:
    records = [rec("a", Outcome.PASS, "M-1"), rec("b", Outcome.PASS, "M-2"), rec("c", Outcome.PASS, "S-1")]
    result = assess([M1, M2, S1], records)
    assert result.verdict is Verdict.CERTIFIED and result.reasons == []


def test_not_certified_when_a_must_fails_even_beside_errors() -> None:
    records = [rec("a", Outcome.FAIL, "M-1"), rec("b", Outcome.ERROR, "M-2"), rec("c", Outcome.FAIL, "S-1")]
    result = assess([M1, M2, S1], records)
    assert result.verdict is Verdict.NOT_CERTIFIED
    assert result.reasons == ["MUST M-1 is fail"]


def test_incomplete_when_a_must_errors_did_not_run_or_has_no_test() -> None:
    base = [rec("c", Outcome.PASS, "S-1"), rec("b", Outcome.PASS, "M-2")]
    assert verdict([*base, rec("a", Outcome.ERROR, "M-1")]) is Verdict.INCOMPLETE
    assert verdict([*base, rec("a", Outcome.NOT_RUN, "M-1")]) is Verdict.INCOMPLETE
    result = assess([M1, M2, S1], base)  # M-1 has no result at all
    assert result.verdict is Verdict.INCOMPLETE and result.reasons == ["MUST M-1 is not-covered"]


def test_conditional_when_only_a_should_fails_or_is_incomplete() -> None:
    musts = [rec("a", Outcome.PASS, "M-1"), rec("b", Outcome.PASS, "M-2")]
    assert verdict([*musts, rec("c", Outcome.FAIL, "S-1")]) is Verdict.CONDITIONAL
    assert verdict([*musts, rec("c", Outcome.ERROR, "S-1")]) is Verdict.CONDITIONAL
    assert verdict(musts) is Verdict.CONDITIONAL  # S-1 not covered


def test_skipped_and_not_applicable_musts_do_not_block_but_never_count_as_passes() -> None:
    records = [rec("a", Outcome.SKIP, "M-1"), rec("b", Outcome.PASS, "M-2"), rec("c", Outcome.PASS, "S-1")]
    assert verdict(records) is Verdict.CERTIFIED
    # Nothing verified at all (everything skipped or not applicable): never a certificate.
    only_skips = [rec("a", Outcome.SKIP, "M-1"), rec("b", Outcome.SKIP, "M-2"), rec("c", Outcome.SKIP, "S-1")]
    result = assess([M1, M2, S1], only_skips)
    assert result.verdict is Verdict.INCOMPLETE and "no requirement was verified" in result.reasons[0]
    assert verdict([rec("a", Outcome.FAIL, "M-OHOS")], reqs=[OHOS_ONLY], profile="uos") is Verdict.INCOMPLETE


def test_waived_must_failure_gives_certified() -> None:
    records = [rec("a", Outcome.FAIL, "M-1"), rec("b", Outcome.PASS, "M-2"), rec("c", Outcome.PASS, "S-1")]
    assert verdict(records) is Verdict.NOT_CERTIFIED
    assert verdict(records, waivers={"M-1"}) is Verdict.CERTIFIED
