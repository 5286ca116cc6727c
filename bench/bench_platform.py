"""Platform benchmark (a script, not a test): `python bench/bench_platform.py [--submissions 10000]`.

Against a real `harness platform serve` on loopback, on SQLite and on a private PostgreSQL cluster:

1. 10,000 submissions (2 devices, 12 requirements and 3 failures each) in the database: p50/p99 of
   the submissions list page (logged-in officer) and of its API call, plain and filtered + searched.
   Target: p99 <= 100 ms.
2. One 5 MB bundle published end to end (HTTP upload, every check, store, rows) as a ratio to a bare
   `harness verify` of the same zip (the command, as a user runs it), interleaved, medians of several
   rounds. Target: upload <= 1.5x verify. Also printed: the ratio to verify_bundle() in-process (the
   hashing and signature work alone, no interpreter start), which the upload cannot approach: only
   receiving 5 MB over HTTP and fsyncing it costs about twice that work.
3. 20 concurrent publishers (5 distinct bundles each, plus the same bundle from all of them): none lost,
   none duplicated."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from sqlalchemy import select  # noqa: E402

from harness.platform.db.models import (  # noqa: E402
    Submission,
)
from harness.report.bundle import verify_bundle, write_manifest, zip_bundle  # noqa: E402
from harness.report.signing import PUBLIC_NAME, load_key  # noqa: E402
from tests.pg_peer import PostgresCluster, available  # noqa: E402
from tests.platform_peers import (  # noqa: E402
    PlatformServer,
    Seeded,
    api,
    fill_submissions,
    login,
    make_bundle,
    seed,
    upload,
)

LIST_TARGET_MS = 100.0
UPLOAD_TARGET = 1.5
OS_NAMES = ("openEuler", "OpenHarmony", "Kylin", "UOS", "HarmonyOS")
VERDICTS = ("CERTIFIED", "CONDITIONAL", "NOT CERTIFIED", "INCOMPLETE")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def time_requests(
    client: httpx.Client, path: str, params: dict[str, str], rounds: int
) -> tuple[float, float]:
    for _ in range(5):  # warm up
        client.get(path, params=params).raise_for_status()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        client.get(path, params=params).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def big_bundle(seeded: Seeded, run_id: str, size: int) -> Path:
    bundle = make_bundle(seeded.base / run_id, seeded.keys["lab-a"], run_id)
    run_dir = bundle.with_suffix("")
    (run_dir / "logs" / "dev-a" / "capture.bin").write_bytes(os.urandom(size))  # incompressible
    write_manifest(run_dir, load_key(seeded.keys["lab-a"]), run_id)
    return zip_bundle(run_dir, bundle)


def bench_backend(name: str, db_url: str | None, base: Path, count: int, rounds: int) -> dict[str, Any]:
    print(f"\n== {name}", flush=True)
    seeded = seed(base, db_url)
    started = time.perf_counter()
    fill_submissions(seeded, count)
    print(f"  filled {count} submissions in {time.perf_counter() - started:.1f} s", flush=True)
    server = PlatformServer(base / "data", db_url).start()
    figures: dict[str, Any] = {}
    try:
        browser = login(server, "officer")
        token_client = api(server, seeded.tokens["officer"])
        search = {"os": "openeuler", "verdict": "NOT CERTIFIED", "q": "board-7"}
        for label, client, path, params in (
            ("list page", browser, "/submissions", {}),
            ("list page, filtered", browser, "/submissions", search),
            ("list API", token_client, "/api/v1/submissions", {}),
            ("list API, filtered", token_client, "/api/v1/submissions", search),
        ):
            p50, p99 = time_requests(client, path, params, rounds)
            figures[label] = (p50, p99)
            flag = "ok" if p99 <= LIST_TARGET_MS else "OVER TARGET"
            print(f"  {label:<22} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   ({flag})", flush=True)

        # Upload of a 5 MB bundle vs a bare verify of the same zip, interleaved.
        public = (seeded.keys["lab-a"] / PUBLIC_NAME).read_text()
        ups, verifies, clis = [], [], []
        for i in range(5):
            bundle = big_bundle(seeded, f"big-{i}", 5 << 20)
            t0 = time.perf_counter()
            assert verify_bundle(bundle, public).ok
            verifies.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "harness",
                    "verify",
                    str(bundle),
                    "--pubkey",
                    str(seeded.keys["lab-a"] / PUBLIC_NAME),
                ],
                check=True,
                capture_output=True,
            )
            clis.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            answer = upload(server, seeded.tokens["lab-a-user"], bundle)
            ups.append(time.perf_counter() - t0)
            assert answer.status_code == 201, answer.text
        size = bundle.stat().st_size / 1e6
        up, ver, cli = statistics.median(ups), statistics.median(verifies), statistics.median(clis)
        figures["upload"] = (up, ver, cli)
        print(
            f"  upload {size:.1f} MB: {up * 1000:.0f} ms; "
            f"`harness verify` {cli * 1000:.0f} ms -> {up / cli:.2f}x (target <= {UPLOAD_TARGET}x); "
            f"in-process verify_bundle {ver * 1000:.0f} ms -> {up / ver:.1f}x",
            flush=True,
        )

        # 20 concurrent publishers: 5 distinct bundles each, and one bundle all of them send.
        distinct = [make_bundle(seeded.base / f"p{i}", seeded.keys["lab-a"], f"pub-{i}") for i in range(100)]
        shared = make_bundle(seeded.base / "shared", seeded.keys["lab-a"], "pub-shared")
        jobs = [distinct[p * 5 : (p + 1) * 5] + [shared] for p in range(20)]

        def publisher(bundles: list[Path]) -> list[tuple[int, str]]:
            out = []
            for b in bundles:
                response = upload(server, seeded.tokens["lab-a-user"], b)
                out.append((response.status_code, response.json().get("sha256", response.text)))
            return out

        t0 = time.perf_counter()
        with ThreadPoolExecutor(20) as pool:
            answers = [a for batch in pool.map(publisher, jobs) for a in batch]
        wall = time.perf_counter() - t0
        expected = {hashlib.sha256(b.read_bytes()).hexdigest() for b in [*distinct, shared]}
        ok = [a for a in answers if a[0] in (200, 201)]
        with seeded.platform.db.read() as db:
            stored = list(db.scalars(select(Submission.sha256).where(Submission.run_id.like("pub-%"))))
        lost = len(expected - set(stored))
        duplicated = len(stored) - len(set(stored))
        refused = len(answers) - len(ok)
        figures["concurrent"] = (len(answers), wall, lost, duplicated, refused)
        print(
            f"  20 publishers: {len(answers)} uploads in {wall:.1f} s ({len(answers) / wall:.1f}/s); "
            f"{len(set(stored))} submissions for {len(expected)} bundles; "
            f"lost {lost}, duplicated {duplicated}, "
            f"refused {refused}",
            flush=True,
        )
    finally:
        server.stop()
        seeded.platform.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=300, help="requests per list measurement")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-platform-"))
    results: dict[str, dict[str, Any]] = {}
    cluster = None
    try:
        if args.only in (None, "sqlite"):
            results["sqlite"] = bench_backend("SQLite", None, base / "sqlite", args.submissions, args.rounds)
        if args.only in (None, "postgresql"):
            missing = available()
            if missing:
                print(f"\nPostgreSQL skipped: {missing}")
            else:
                cluster = PostgresCluster().start()
                url = cluster.create_database("bench")
                results["postgresql"] = bench_backend(
                    "PostgreSQL", url, base / "pg", args.submissions, args.rounds
                )
    finally:
        if cluster:
            cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
    failed = False
    for figures in results.values():
        failed |= any(
            p99 > LIST_TARGET_MS
            for key, (p50, p99) in ((k, v) for k, v in figures.items() if k.startswith("list"))
        )
        up, _, cli = figures["upload"]
        failed |= up / cli > UPLOAD_TARGET
        _, _, lost, duplicated, _ = figures["concurrent"]
        failed |= bool(lost or duplicated)
    print("\nall targets met" if not failed else "\nsome target missed (see above)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
