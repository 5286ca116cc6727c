"""The certification rules without a server: which waivers apply to a device (scope, expiry, at a
controlled clock), the inheritance rules, the signed envelope, the lifecycle table, and the audit
chain's verification of edited, removed, reordered and cut-off entries."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.envelope import EnvelopeError, open_envelope, parse_envelope, seal
from harness.platform.services import audit, inheritance
from harness.platform.services.lifecycle import State, allowed
from harness.waivers import Applies, DeviceFacts, Waiver, applied_requirements, evaluate

T0 = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)
FACTS = DeviceFacts(model="EM-3568", soc="RK3568", profile="openharmony", os_version="4.1.2")


def waiver(**kw: str) -> Waiver:
    base = {"id": "W-1", "requirement": "REQ-1", "reason": "known issue", "expires": "2027-06-01T00:00:00Z"}
    return Waiver(**{**base, **kw})


def test_a_waiver_applies_in_scope_until_it_expires() -> None:
    w = waiver(model="em-3568", soc="RK3568", os_version="4")
    assert [e.applies for e in evaluate([w], FACTS, T0)] == [Applies.APPLIED]
    at_expiry = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)
    expired = evaluate([w], FACTS, at_expiry)
    assert expired[0].applies is Applies.EXPIRED and "2027-06-01" in expired[0].note
    assert applied_requirements(expired) == {}


@pytest.mark.parametrize(
    "scope, field",
    [
        ({"model": "EM-3566"}, "model"),
        ({"soc": "RK3588"}, "soc"),
        ({"profile": "openeuler"}, "profile"),
        ({"os_version": "4.10"}, "os_version"),
        ({"os_version": "4.1.23"}, "os_version"),
    ],
)
def test_an_out_of_scope_waiver_does_not_apply_and_says_why(scope: dict[str, str], field: str) -> None:
    (e,) = evaluate([waiver(**scope)], FACTS, T0)
    assert e.applies is Applies.OUT_OF_SCOPE and e.note.startswith(field)


def test_of_two_waivers_for_one_requirement_the_longest_valid_is_applied() -> None:
    short, long_ = waiver(id="W-1"), waiver(id="W-2", expires="2028-01-01T00:00:00Z")
    assert applied_requirements(evaluate([short, long_], FACTS, T0))["REQ-1"].waiver.id == "W-2"


def test_a_waiver_file_entry_without_an_expiry_is_refused() -> None:
    with pytest.raises(ValueError, match="missing expires"):
        Waiver.from_dict({"id": "W-1", "requirement": "R", "reason": "x"})
    with pytest.raises(ValueError, match="not an ISO 8601"):
        Waiver.from_dict({"id": "W-1", "requirement": "R", "reason": "x", "expires": "soon"})
    with pytest.raises(ValueError, match="unknown field"):
        Waiver.from_dict(
            {"id": "W-1", "requirement": "R", "reason": "x", "expires": "2027-01-01", "scope": "*"}
        )


def test_the_envelope_detects_any_change_and_the_wrong_kind_or_key() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    sealed = seal("harness-certificate/1", {"certificate_id": "HPC-1", "expires": "2028"}, key)
    assert open_envelope(parse_envelope(sealed.to_dict()), "harness-certificate/1", key.public_key())
    altered = copy.deepcopy(sealed.to_dict())
    altered["body"]["expires"] = "2099"
    with pytest.raises(EnvelopeError, match="does not match"):
        open_envelope(parse_envelope(altered), "harness-certificate/1", key.public_key())
    with pytest.raises(EnvelopeError, match="not 'harness-waivers/1'"):
        open_envelope(parse_envelope(sealed.to_dict()), "harness-waivers/1", key.public_key())
    with pytest.raises(EnvelopeError, match="not by the platform key"):
        open_envelope(parse_envelope(sealed.to_dict()), "harness-certificate/1", other.public_key())
    forged = seal("harness-certificate/1", sealed.body, other).to_dict()
    forged["signature"]["key_id"] = sealed.key_id  # claims the platform's key id
    with pytest.raises(EnvelopeError, match="does not match"):
        open_envelope(parse_envelope(forged), "harness-certificate/1", key.public_key())


def test_inheritance_rules_are_evaluated_one_by_one() -> None:
    rules = inheritance.load_rules()
    source = inheritance.Facts(
        vendor="acme", soc="RK3568", board="B1", kind="board", os_name="OpenHarmony", os_version="4.1.2"
    )
    same = inheritance.Facts(
        vendor="acme", soc="rk3568", board="B1", kind="board", os_name="OpenHarmony", os_version="4.0"
    )
    assert all(r.holds for r in inheritance.evaluate(rules, source, same))
    other_board = inheritance.Facts(**{**same.__dict__, "board": "B2", "os_version": "5.0"})
    failed = {r.rule for r in inheritance.evaluate(rules, source, other_board) if not r.holds}
    assert failed == {"same-board", "same-os-major"}
    unknown = inheritance.Facts(**{**same.__dict__, "board": ""})
    assert [r.why for r in inheritance.evaluate(rules, source, unknown) if not r.holds] == [
        "board is not known for the product"
    ]


def test_lifecycle_moves_are_the_documented_ones() -> None:
    assert allowed(State.SUBMITTED, State.IN_REVIEW) and allowed(State.IN_REVIEW, State.REJECTED)
    assert allowed(State.APPROVED, State.CERTIFIED) and allowed(State.CERTIFIED, State.REVOKED)
    assert not allowed(State.SUBMITTED, State.CERTIFIED)  # never without review and approval
    assert not allowed(State.IN_REVIEW, State.CERTIFIED)
    assert not allowed(State.REVOKED, State.CERTIFIED) and not allowed(State.REJECTED, State.APPROVED)


def _chain(n: int) -> list[dict[str, object]]:
    entries, prev = [], audit.GENESIS
    for seq in range(1, n + 1):
        fields = {
            "seq": seq,
            "at": f"2027-01-01T00:00:{seq:02d}.000000Z",
            "actor": "alice",
            "actor_role": "officer",
            "origin": "127.0.0.1",
            "action": "submission.state",
            "object_kind": "submission",
            "object_id": str(seq),
            "organisation": "acme",
            "before": "submitted",
            "after": "in_review",
            "detail": "{}",
        }
        digest = audit.entry_hash(prev, fields)
        entries.append({**fields, "prev_hash": prev, "hash": digest})
        prev = digest
    return entries


def _head(entries: list[dict[str, object]]) -> tuple[int, str]:
    return int(entries[-1]["seq"]), str(entries[-1]["hash"])  # type: ignore[call-overload]


def test_an_intact_chain_verifies() -> None:
    entries = _chain(5)
    assert audit.verify_entries(entries, _head(entries)).ok


def test_each_kind_of_tampering_is_found() -> None:
    entries = _chain(5)
    head = _head(entries)
    edited = copy.deepcopy(entries)
    edited[2]["after"] = "certified"
    assert [p.seq for p in audit.verify_entries(edited, head).problems] == [3]
    removed = entries[:2] + entries[3:]
    assert "missing" in str(audit.verify_entries(removed, head).problems[0])
    reordered = [entries[0], entries[2], entries[1], entries[3], entries[4]]
    assert not audit.verify_entries(reordered, head).ok
    cut = entries[:4]
    (problem,) = audit.verify_entries(cut, head).problems
    assert "removed from the end" in str(problem)
    # Rewriting an entry and rehashing it still breaks the link from the next one.
    rehashed = copy.deepcopy(entries)
    rehashed[1]["actor"] = "mallory"
    rehashed[1]["hash"] = audit.entry_hash(str(rehashed[1]["prev_hash"]), rehashed[1])
    assert [p.seq for p in audit.verify_entries(rehashed, head).problems] == [3]
