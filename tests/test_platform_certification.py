"""Certification through the platform's services on a real database (SQLite, and a private
PostgreSQL cluster): the lifecycle from upload to revocation with a waiver, every change in the
audit trail and heard by the listeners; only officers move submissions; waiver expiry with a
controlled clock; derived certification by the rules; the public list's opt-in; and the audit
trail tampered with directly in the database, found by `harness platform audit verify`."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from harness.certificate import check_certificate
from harness.platform.auth.policy import Action
from harness.platform.db.cert_models import Certificate
from harness.platform.services import audit, certificates, events, lifecycle, public_list, waiver_service
from harness.platform.services.assessment import assess_submission
from harness.platform.services.catalogue import get_submission
from harness.platform.services.errors import Conflict, Forbidden, Invalid
from harness.platform.services.events import StateChange
from harness.platform.services.lifecycle import FindingIn, State
from tests.cert_peers import (
    ALL_PASS,
    FAILS_DEMO_2,
    STORY_DECLARED,
    actor,
    make_bundle_with,
    principal,
    publish_in_process,
)
from tests.pg_peer import PostgresCluster, postgres  # noqa: F401  (the session's cluster)
from tests.platform_peers import Seeded, seed

T0 = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)
OFFICER, VENDOR = "officer", "vendor-a-user"


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Seeded]:
    url = None
    if request.param == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        url = cluster.create_database(f"c_{hashlib.sha1(str(tmp_path).encode()).hexdigest()[:10]}")
    made = seed(tmp_path, url)
    yield made
    made.platform.close()


@pytest.fixture
def heard() -> Iterator[list[StateChange]]:
    changes: list[StateChange] = []
    events.register(changes.append)
    yield changes
    events.unregister(changes.append)


def move(s: Seeded, sub: int, to: State, reason: str = "", at: dt.datetime = T0, **kw: object) -> StateChange:
    return lifecycle.change_state(
        s.platform.db, actor(OFFICER), principal(s, OFFICER), sub, to, reason, now=at, **kw
    )  # type: ignore[arg-type]


def request_and_approve(
    s: Seeded, requirement: str, expires: dt.datetime, at: dt.datetime = T0, **scope: str
) -> str:
    with s.platform.db.write() as db:
        row = waiver_service.request(
            db,
            principal(s, VENDOR),
            actor(VENDOR),
            waiver_service.WaiverRequest(requirement, "vendor driver fix due in Q3", **scope),
            at,
        )
        wid = row.id
    with s.platform.db.write() as db:
        waiver_service.decide(
            db, principal(s, OFFICER), actor(OFFICER), wid, True, expires, "until the fix", at
        )
    return f"W-{wid}"


def platform_key(s: Seeded, folder: Path) -> Path:
    path = folder / "platform.pub"
    path.write_text(s.platform.signer.public_text())
    return path


@pytest.mark.peer("postgresql")
def test_from_upload_to_revocation_every_step_recorded_and_heard(
    seeded: Seeded, heard: list[StateChange], tmp_path: Path
) -> None:
    s = seeded
    first = publish_in_process(
        s,
        make_bundle_with(tmp_path / "b1", s.keys["lab-a"], "build-1", FAILS_DEMO_2),
        declared=STORY_DECLARED,
    )
    move(s, first, State.IN_REVIEW)
    move(s, first, State.RETEST_REQUESTED, "DEMO-2 fails on dev-a: re-test with the new storage driver")
    second = publish_in_process(
        s,
        make_bundle_with(tmp_path / "b2", s.keys["lab-a"], "build-2", FAILS_DEMO_2),
        declared=STORY_DECLARED,
        answers=first,
    )
    with s.platform.db.read() as db:
        assert get_submission(db, principal(s, OFFICER), second, Action.SUBMISSION_READ).previous_id == first
        assert lifecycle.answers_to(db, first) == [second]
    move(s, second, State.IN_REVIEW)
    waiver = request_and_approve(s, "DEMO-2", T0 + dt.timedelta(days=30), model="EM-3568")
    move(s, second, State.APPROVED, "DEMO-2 waived until the driver fix")
    cert = certificates.certify(
        s.platform.db, s.platform.signer, actor(OFFICER), principal(s, OFFICER), second, days=365, now=T0
    )
    assert cert.expires_at == T0 + dt.timedelta(days=30)  # capped by the waiver it relies on

    # Offline: valid with the platform key; not with a lab's key.
    cert_file = tmp_path / f"{cert.cert_id}.json"
    cert_file.write_text(cert.body)
    body = json.loads(cert.body)["body"]
    assert (
        body["requirements"]["waived"][0]["waiver"] == waiver and "DEMO-1" in body["requirements"]["passed"]
    )
    assert body["bundle"]["lab_key_id"].startswith("SHA256:") and body["officer"] == OFFICER
    check = check_certificate(cert_file, s.platform.signer.public, at=T0 + dt.timedelta(days=1))
    assert check.ok, check.problems

    certificates.revoke(
        s.platform.db,
        actor(OFFICER),
        principal(s, OFFICER),
        cert.id,
        "storage fix withdrawn",
        now=T0 + dt.timedelta(days=2),
    )
    revocations = tmp_path / "revocations.json"
    with s.platform.db.read() as db:
        revocations.write_text(
            certificates.revocation_list(db, s.platform.signer, T0 + dt.timedelta(days=2)).text()
        )
    late = check_certificate(
        cert_file, s.platform.signer.public, at=T0 + dt.timedelta(days=3), revocations=revocations
    )
    assert late.status == "revoked" and not late.ok

    assert [(c.submission_id, c.before, c.after) for c in heard] == [
        (first, "", "submitted"),
        (first, "submitted", "in_review"),
        (first, "in_review", "retest_requested"),
        (second, "", "submitted"),
        (second, "submitted", "in_review"),
        (second, "in_review", "approved"),
        (second, "approved", "certified"),
        (second, "certified", "revoked"),
    ]
    assert all(c.organisation == "vendor-a" for c in heard)
    assert heard[2].reason.startswith("DEMO-2 fails") and heard[-1].actor == OFFICER
    with s.platform.db.read() as db:
        result = audit.verify(db)
        assert result.ok and result.entries == 10, result.problems  # 8 changes, a waiver asked and approved
        trail = [(e["action"], e["object_id"], e["before"], e["after"]) for e in audit.stream(db)]
    assert ("waiver.request", waiver, "", "requested") in trail
    assert ("waiver.approve", waiver, "requested", "approved") in trail
    assert trail[-1] == ("submission.state", str(second), "certified", "revoked")


@pytest.mark.peer("postgresql")
def test_only_officers_move_submissions_and_only_along_the_lifecycle(seeded: Seeded, tmp_path: Path) -> None:
    s = seeded
    sub = publish_in_process(s, make_bundle_with(tmp_path / "b", s.keys["lab-a"], "only-officers", ALL_PASS))
    for who in ("admin", VENDOR, "lab-a-user"):
        with pytest.raises(Forbidden):
            lifecycle.change_state(s.platform.db, actor(who), principal(s, who), sub, State.IN_REVIEW, now=T0)
    with pytest.raises(Conflict, match="cannot move to approved"):
        move(s, sub, State.APPROVED)
    move(s, sub, State.IN_REVIEW)
    with pytest.raises(Invalid, match="reason naming a requirement"):
        move(s, sub, State.REJECTED, "no")
    with pytest.raises(Conflict):  # certification only through an approval
        certificates.certify(
            s.platform.db, s.platform.signer, actor(OFFICER), principal(s, OFFICER), sub, now=T0
        )
    move(s, sub, State.REJECTED, "see findings", findings=[FindingIn("DEMO-1", "kernel string truncated")])
    with s.platform.db.read() as db:
        assert [(f.requirement_id, f.state) for f in lifecycle.findings_of(db, sub)] == [
            ("DEMO-1", "rejected")
        ]
        assert audit.verify(db).ok


@pytest.mark.peer("postgresql")
def test_a_waiver_stops_applying_when_it_expires(seeded: Seeded, tmp_path: Path) -> None:
    s = seeded
    sub = publish_in_process(
        s, make_bundle_with(tmp_path / "b", s.keys["lab-a"], "expiry", FAILS_DEMO_2), declared=STORY_DECLARED
    )
    expires = T0 + dt.timedelta(days=10)
    request_and_approve(s, "DEMO-2", expires, model="EM-3568")
    request_and_approve(s, "DEMO-2", T0 + dt.timedelta(days=400), model="another-model")  # out of scope
    with s.platform.db.read() as db:
        row = get_submission(db, principal(s, OFFICER), sub, Action.SUBMISSION_READ)
        waivers = waiver_service.approved_for(db, row.vendor_org_id)
        before = assess_submission(row, waivers, expires - dt.timedelta(seconds=1))
        after = assess_submission(row, waivers, expires)
    assert before.certifiable and before.devices[0].verdict == "CERTIFIED"
    assert [e.applies.value for e in before.devices[0].not_applied] == ["out-of-scope"]
    assert after.devices[0].verdict == "NOT CERTIFIED" and not after.certifiable
    assert sorted(e.applies.value for e in after.devices[0].evaluations) == ["expired", "out-of-scope"]

    move(s, sub, State.IN_REVIEW)
    move(s, sub, State.APPROVED)
    with pytest.raises(Conflict, match="NOT CERTIFIED"):  # too late: the waiver ran out
        certificates.certify(
            s.platform.db, s.platform.signer, actor(OFFICER), principal(s, OFFICER), sub, now=expires
        )
    cert = certificates.certify(
        s.platform.db, s.platform.signer, actor(OFFICER), principal(s, OFFICER), sub, now=T0
    )
    assert cert.expires_at == expires
    assert certificates.expire_due(s.platform.db, expires - dt.timedelta(seconds=1)) == []
    assert certificates.expire_due(s.platform.db, expires) == [sub]
    with s.platform.db.read() as db:
        assert certificates.status_of(db.get(Certificate, cert.id), expires) == "expired"  # type: ignore[arg-type]
        last = list(audit.stream(db))[-1]
    assert (last["actor_role"], last["before"], last["after"]) == ("system", "certified", "expired")


def _certified(s: Seeded, tmp_path: Path, run_id: str, declared: dict[str, dict[str, str]]) -> Certificate:
    sub = publish_in_process(
        s, make_bundle_with(tmp_path / run_id, s.keys["lab-a"], run_id, ALL_PASS), declared=declared
    )
    move(s, sub, State.IN_REVIEW)
    move(s, sub, State.APPROVED)
    return certificates.certify(
        s.platform.db, s.platform.signer, actor(OFFICER), principal(s, OFFICER), sub, now=T0
    )


@pytest.mark.peer("postgresql")
def test_derived_certification_follows_the_rules_and_the_public_list_its_opt_in(
    seeded: Seeded, tmp_path: Path
) -> None:
    s = seeded
    source = _certified(s, tmp_path, "source", STORY_DECLARED)
    sibling = {d: {"model": "EM-3568-Lite", "soc": "RK3568", "board": "EM-B1"} for d in STORY_DECLARED}
    other_board = {d: {"model": "EM-3568-Pro", "soc": "RK3568", "board": "EM-B2"} for d in STORY_DECLARED}
    for run_id, declared in (("lite", sibling), ("pro", other_board)):
        publish_in_process(
            s, make_bundle_with(tmp_path / run_id, s.keys["lab-a"], run_id, FAILS_DEMO_2), declared=declared
        )
    with s.platform.db.read() as db:
        ids = dict(db.execute(text("SELECT model, id FROM products")).all())
    os_name, os_version = source.os_name, source.os_version
    derived, rules = certificates.derive(
        s.platform.db,
        s.platform.signer,
        actor(OFFICER),
        principal(s, OFFICER),
        ids["EM-3568-Lite"],
        source.cert_id,
        os_name,
        os_version,
        now=T0,
    )
    assert (
        all(r.holds for r in rules)
        and json.loads(derived.body)["body"]["derived_from"]["certificate_id"] == source.cert_id
    )
    with pytest.raises(Conflict, match="same-board"):
        certificates.derive(
            s.platform.db,
            s.platform.signer,
            actor(OFFICER),
            principal(s, OFFICER),
            ids["EM-3568-Pro"],
            source.cert_id,
            os_name,
            os_version,
            now=T0,
        )
    with pytest.raises(Forbidden):
        certificates.derive(
            s.platform.db,
            s.platform.signer,
            actor(VENDOR),
            principal(s, VENDOR),
            ids["EM-3568-Lite"],
            source.cert_id,
            os_name,
            os_version,
            now=T0,
        )

    def listed() -> list[str]:
        with s.platform.db.read() as db:
            return [i.certificate_id for i in public_list.public_products(db, T0 + dt.timedelta(days=1))]

    assert listed() == []  # certified, but nobody opted in
    with s.platform.db.write() as db:
        public_list.set_listing(db, principal(s, VENDOR), actor(VENDOR), ids["EM-3568"], True, T0)
        public_list.set_listing(db, principal(s, VENDOR), actor(VENDOR), ids["EM-3568-Lite"], True, T0)
        public_list.set_listing(
            db, principal(s, VENDOR), actor(VENDOR), ids["EM-3568-Pro"], True, T0
        )  # no cert
    assert sorted(listed()) == sorted([source.cert_id, derived.cert_id])
    with pytest.raises(Forbidden), s.platform.db.write() as db:  # only the vendor decides
        public_list.set_listing(db, principal(s, OFFICER), actor(OFFICER), ids["EM-3568"], False, T0)
    certificates.revoke(s.platform.db, actor(OFFICER), principal(s, OFFICER), source.id, "withdrawn", now=T0)
    assert listed() == []  # the source and what it lent are gone
    with s.platform.db.read() as db:
        revoked = certificates.revocation_list(db, s.platform.signer, T0).body["revoked"]
    assert {r["certificate_id"] for r in revoked} == {source.cert_id, derived.cert_id}


TAMPER = {
    "edited": ["UPDATE audit_entries SET after = 'certified' WHERE seq = 2"],
    "removed": ["DELETE FROM audit_entries WHERE seq = 3"],
    "reordered": [
        "UPDATE audit_entries SET seq = 100 WHERE seq = 2",
        "UPDATE audit_entries SET seq = 2 WHERE seq = 3",
        "UPDATE audit_entries SET seq = 3 WHERE seq = 100",
    ],
    "cut short": ["DELETE FROM audit_entries WHERE seq = (SELECT MAX(seq) FROM audit_entries)"],
}


@pytest.mark.peer("postgresql")
def test_tampering_with_the_audit_trail_in_the_database_is_found(seeded: Seeded, tmp_path: Path) -> None:
    s = seeded
    sub = publish_in_process(s, make_bundle_with(tmp_path / "b", s.keys["lab-a"], "tamper", ALL_PASS))
    move(s, sub, State.IN_REVIEW)
    move(s, sub, State.APPROVED)
    certificates.certify(s.platform.db, s.platform.signer, actor(OFFICER), principal(s, OFFICER), sub, now=T0)
    url = s.platform.config.db_url

    def cli_verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "harness",
                "platform",
                "audit",
                "verify",
                "--data",
                str(s.platform.config.data_dir),
                "--db",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )

    clean = cli_verify()
    assert clean.returncode == 0 and "OK, 4 entries" in clean.stdout, clean.stderr
    with s.platform.db.read() as db:
        saved = list(audit.stream(db))
    columns = list(saved[0])
    for name, statements in TAMPER.items():
        with s.platform.db.write() as db:
            for sql in statements:
                db.execute(text(sql))
        with s.platform.db.read() as db:
            assert not audit.verify(db).ok, name
        found = cli_verify()
        assert found.returncode == 1 and "TAMPERED" in found.stderr, (name, found.stdout, found.stderr)
        with s.platform.db.write() as db:  # put the trail back for the next kind of tampering
            db.execute(text("DELETE FROM audit_entries"))
            db.execute(
                text(
                    f"INSERT INTO audit_entries ({', '.join(columns)}) VALUES "
                    f"({', '.join(':' + c for c in columns)})"
                ),
                saved,
            )
        assert cli_verify().returncode == 0, name
