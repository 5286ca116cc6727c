"""Certification benchmark (a script, not a test): `python bench/bench_cert.py [--entries 100000] [--pg]`.

1. Audit verification: writes N entries chained by the real `audit.entry_hash` (in batches), then
   times `audit.verify` over them on SQLite (and with --pg on a private PostgreSQL cluster, as the
   tests start one). Target: 100,000 entries verified within 5 s. Baseline, in the same run: reading the
   same rows without checking anything, so the ratio says what the hashing and checks cost on top.
2. Certificate latency: issue (`certificates.certify`: assessment, signature, rows, audit entry, state
   change) and offline verify (`harness.certificate.check_certificate`), median of R rounds, against a
   bare Ed25519 sign and verify of the same bytes."""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.certificate import check_certificate  # noqa: E402
from harness.envelope import signed_bytes  # noqa: E402
from harness.platform.db.cert_models import AuditEntry, AuditHead  # noqa: E402
from harness.platform.services import audit, certificates, lifecycle  # noqa: E402
from harness.platform.services.lifecycle import State  # noqa: E402
from tests.cert_peers import ALL_PASS, actor, make_bundle_with, principal, publish_in_process  # noqa: E402
from tests.platform_peers import Seeded, seed  # noqa: E402

TARGET_S = 5.0
BATCH = 1000


def fill(seeded: Seeded, entries: int) -> None:
    """N entries chained by the real hash function, inserted in batches (appending them one by one
    through the ORM would time the ORM, not the verification)."""
    prev, at = audit.GENESIS, "2027-01-01T00:00:00.000000Z"
    for first in range(0, entries, BATCH):
        rows = []
        for n in range(first, min(first + BATCH, entries)):
            fields = {
                "seq": n + 1,
                "at": at,
                "actor": "officer",
                "actor_role": "officer",
                "origin": "127.0.0.1",
                "action": "submission.state",
                "object_kind": "submission",
                "object_id": str(n),
                "organisation": "vendor-a",
                "before": "submitted",
                "after": "in_review",
                "detail": audit.canonical({"reason": f"bench {n}"}),
            }
            digest = audit.entry_hash(prev, fields)
            rows.append({**fields, "prev_hash": prev, "hash": digest})
            prev = digest
        with seeded.platform.db.write() as db:
            db.execute(insert(AuditEntry), rows)
    with seeded.platform.db.write() as db:
        db.execute(update(AuditHead).where(AuditHead.id == audit.HEAD_ID).values(seq=entries, hash=prev))


def audit_bench(label: str, seeded: Seeded, entries: int) -> float:
    started = time.perf_counter()
    fill(seeded, entries)
    print(
        f"  {label}: {entries:,} chained entries written in {time.perf_counter() - started:.1f} s", flush=True
    )
    with seeded.platform.db.read() as db:
        sum(1 for _ in audit.stream_rows(db))  # warm the caches: both timings read warm pages
        started = time.perf_counter()
        rows = sum(1 for _ in audit.stream_rows(db))
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        result = audit.verify(db)
        took = time.perf_counter() - started
    assert result.ok and result.entries >= entries and rows == result.entries, result.problems
    print(
        f"  {label}: audit verify {result.entries:,} entries: {took:.2f} s (target <= {TARGET_S:.0f} s) = "
        f"{took / baseline:.1f}x reading the rows alone ({baseline:.2f} s)",
        flush=True,
    )
    return took


def cert_bench(seeded: Seeded, rounds: int, folder: Path) -> None:
    officer, who = principal(seeded, "officer"), actor("officer")
    issue, check, sign, verify = [], [], [], []
    for i in range(rounds):
        bundle = make_bundle_with(folder / f"b{i}", seeded.keys["lab-a"], f"bench-cert-{i}", ALL_PASS)
        sub = publish_in_process(seeded, bundle)
        for state in (State.IN_REVIEW, State.APPROVED):
            lifecycle.change_state(seeded.platform.db, who, officer, sub, state)
        started = time.perf_counter()
        cert = certificates.certify(seeded.platform.db, seeded.platform.signer, who, officer, sub)
        issue.append(time.perf_counter() - started)
        path = folder / f"{cert.cert_id}.json"
        path.write_text(cert.body)
        started = time.perf_counter()
        assert check_certificate(path, seeded.platform.signer.public, at=dt.datetime.now(dt.UTC)).ok
        check.append(time.perf_counter() - started)
        envelope = certificates.envelope_of(cert)
        data = signed_bytes(envelope.format, envelope.body)
        started = time.perf_counter()
        signature = seeded.platform.signer.private.sign(data)
        sign.append(time.perf_counter() - started)
        started = time.perf_counter()
        seeded.platform.signer.public.verify(signature, data)
        verify.append(time.perf_counter() - started)
    med = statistics.median
    print(
        f"  certificate issue: median {med(issue) * 1000:.1f} ms = {med(issue) / med(sign):.0f}x "
        f"a bare Ed25519 sign ({med(sign) * 1e6:.0f} us)",
        flush=True,
    )
    print(
        f"  certificate verify offline: median {med(check) * 1000:.2f} ms = {med(check) / med(verify):.0f}x "
        f"a bare Ed25519 verify ({med(verify) * 1e6:.0f} us)",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15, help="certificates issued and verified")
    parser.add_argument("--pg", action="store_true", help="also on a private PostgreSQL cluster")
    args = parser.parse_args()
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-cert-") as tmp:
        base = Path(tmp)
        seeded = seed(base / "sqlite")
        print("certification benchmark", flush=True)
        worst = max(worst, audit_bench("SQLite", seeded, args.entries))
        cert_bench(seeded, args.rounds, base / "certs")
        seeded.platform.close()
        if args.pg:
            from tests.pg_peer import PostgresCluster

            cluster = PostgresCluster().start()
            try:
                pg = seed(base / "pg", cluster.create_database("bench_cert"))
                worst = max(worst, audit_bench("PostgreSQL", pg, args.entries))
                pg.platform.close()
            finally:
                cluster.stop()
    return 0 if worst <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
