"""The platform's pure parts: the authorisation table, the login throttle rule and the zip-structure
checks, without a server or a database."""

from __future__ import annotations

import datetime as dt
import io
import stat
import warnings
import zipfile

import pytest

from harness.platform.auth.policy import RULES, Action, Decision, Principal, Role, Scope, decide, visible_orgs
from harness.platform.auth.throttle import lockout
from harness.platform.config import Limits, ThrottlePolicy
from harness.platform.intake.refusal import Refused, Step
from harness.platform.intake.zipcheck import check_layout
from harness.platform.results_doc import storable

OWN, OTHER = 1, 2
A, D, H, L = Decision.ALLOW, Decision.DENY, Decision.HIDE, Decision.LOGIN

# The table a reviewer reads: action -> (admin, officer, lab, vendor) on an object of ANOTHER organisation.
FOREIGN = {
    Action.SUBMISSION_READ: (A, A, H, H),
    Action.SUBMISSION_DOWNLOAD: (A, A, H, H),
    Action.PRODUCT_READ: (A, A, H, H),
    Action.TOKEN_REVOKE: (A, H, H, H),
}
# Actions on no particular object: who may do them at all.
UNSCOPED = {
    Action.SUBMISSION_CREATE: (D, D, A, D),
    Action.SUBMISSION_LIST: (A, A, A, A),
    Action.KEY_LIST: (A, A, A, D),
    Action.TOKEN_CREATE: (A, A, A, A),
}
ROLES = (Role.ADMIN, Role.OFFICER, Role.LAB, Role.VENDOR)


def who(role: Role) -> Principal:
    return Principal(role=role, org_id=OWN, user_id=10, token_id=20)


def test_every_action_has_a_rule_for_every_role() -> None:
    assert set(RULES) == set(Action)
    assert all(len(row) == len(Role) for row in RULES.values())


@pytest.mark.parametrize("action", list(FOREIGN))
def test_another_organisations_object_is_hidden_from_vendors_and_labs(action: Action) -> None:
    scope = Scope(orgs=frozenset({OTHER}), owner_user=99, owner_token=98)
    assert tuple(decide(who(r), action, scope) for r in ROLES) == FOREIGN[action]


@pytest.mark.parametrize("action", list(UNSCOPED))
def test_who_may_do_actions_on_no_object(action: Action) -> None:
    assert tuple(decide(who(r), action) for r in ROLES) == UNSCOPED[action]
    assert decide(None, action) is L


def test_own_objects_and_anonymous() -> None:
    mine = Scope(orgs=frozenset({OWN, OTHER}))  # e.g. published by this lab for another vendor
    assert decide(who(Role.VENDOR), Action.SUBMISSION_READ, mine) is A
    assert decide(who(Role.LAB), Action.SUBMISSION_DOWNLOAD, mine) is A
    assert decide(who(Role.VENDOR), Action.SUBMISSION_CREATE, None) is D  # a role that never may: 403
    assert decide(None, Action.SUBMISSION_READ, mine) is L
    own_token = Scope(orgs=frozenset({OWN}), owner_user=10)
    colleague_token = Scope(orgs=frozenset({OWN}), owner_user=11)  # same organisation, another person
    assert decide(who(Role.LAB), Action.TOKEN_REVOKE, own_token) is A
    assert decide(who(Role.LAB), Action.TOKEN_REVOKE, colleague_token) is H
    assert decide(Principal(Role.LAB, OWN, None, 20), Action.TOKEN_REVOKE, Scope(owner_token=20)) is A


def test_lists_are_narrowed_to_the_principals_organisation() -> None:
    assert visible_orgs(who(Role.OFFICER), Action.SUBMISSION_LIST) is None
    assert visible_orgs(who(Role.ADMIN), Action.SUBMISSION_LIST) is None
    assert visible_orgs(who(Role.VENDOR), Action.SUBMISSION_LIST) == frozenset({OWN})
    assert visible_orgs(who(Role.LAB), Action.PRODUCT_LIST) == frozenset({OWN})
    assert visible_orgs(who(Role.VENDOR), Action.KEY_LIST) == frozenset()


def test_throttle_locks_after_the_limit_and_lifts_when_failures_age_out() -> None:
    policy = ThrottlePolicy(max_failures=3, window_s=60)
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    ago = [now - dt.timedelta(seconds=s) for s in (50, 30, 10)]
    assert lockout(ago[:2], now, policy) is None
    locked = lockout(ago, now, policy)
    assert locked is not None and locked.until == now + dt.timedelta(seconds=10)  # the oldest leaves at +10 s
    assert locked.retry_after(now) == 10
    assert lockout(ago, now + dt.timedelta(seconds=11), policy) is None
    assert lockout([now - dt.timedelta(seconds=61)] * 5, now, policy) is None  # outside the window


def zip_of(*entries: tuple[str, bytes], mode: int | None = None, method: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression=method) as zf:
        warnings.simplefilter("ignore")  # "Duplicate name": on purpose
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            if mode is not None:
                info.create_system = 3
                info.external_attr = mode << 16
            zf.writestr(info, data)
    buffer.seek(0)
    return zipfile.ZipFile(buffer)


def refused(zf: zipfile.ZipFile, limits: Limits | None = None) -> str:
    with pytest.raises(Refused) as caught:
        check_layout(zf.infolist(), 10**9, limits or Limits())
    assert caught.value.step is Step.ZIP, caught.value
    return caught.value.reason


def test_zip_names_and_kinds_that_are_refused() -> None:
    ok = ("run/manifest.json", b"{}")
    assert check_layout(zip_of(ok).infolist(), 10**9, Limits()).prefix == "run/"
    assert "absolute name" in refused(zip_of(ok, ("/etc/passwd", b"x")))
    assert "absolute name" in refused(zip_of(ok, ("C:/x", b"x")))
    assert "'..'" in refused(zip_of(ok, ("run/../../x", b"x")))
    assert "backslash" in refused(zip_of(ok, ("run\\..\\x", b"x")))
    assert "control character" in refused(zip_of(ok, ("run/a\x1bb", b"x")))
    assert "symbolic link" in refused(zip_of(ok, ("run/link", b"/etc"), mode=stat.S_IFLNK | 0o777))
    assert "special file" in refused(zip_of(ok, ("run/fifo", b""), mode=stat.S_IFIFO | 0o644))
    assert "in the zip twice" in refused(zip_of(ok, ("run/a", b"1"), ("run/a", b"2")))
    assert "compression method" in refused(zip_of(ok, method=zipfile.ZIP_BZIP2))


def test_zip_sizes_that_are_refused() -> None:
    ok = ("run/manifest.json", b"{}")
    bomb = zip_of(ok, ("run/zeros", b"\0" * (4 << 20)))  # 4 MiB of zeros deflate to ~4 KiB
    assert "expands" in refused(bomb, Limits(max_ratio=100, ratio_floor=1 << 20))
    assert "uncompressed" in refused(zip_of(ok, ("run/a", b"x" * 5000)), Limits(max_uncompressed=4000))
    assert "entries" in refused(zip_of(ok, ("run/a", b""), ("run/b", b"")), Limits(max_entries=2))
    with pytest.raises(Refused) as caught:
        check_layout(zip_of(("run/other.json", b"{}")).infolist(), 10**9, Limits())
    assert caught.value.step is Step.MANIFEST


def test_overlapping_entries_are_refused() -> None:
    zf = zip_of(("run/manifest.json", b"{}"), ("run/a", b"abc" * 100))
    first, second = zf.infolist()
    second.header_offset = first.header_offset + 10  # points into the first entry's data
    assert "overlap" in refused(zf)


def test_text_from_a_device_is_stored_with_visible_escapes() -> None:
    assert storable("ok") == "ok"
    assert storable("a\x00b") == "a\\x00b"
    assert storable("lone \ud800 surrogate") == "lone \\ud800 surrogate"
