"""Restart safety: `kill -9` of the server in the middle of an upload, then a restart, leaves no
half-stored bundle and no orphan row, and the same upload succeeds when retried. A crash between
storing the file and writing its row leaves only a complete file, which the retry reuses."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from harness.platform.db.models import Submission, SubmissionDevice
from harness.waiting import poll_until
from tests.platform_peers import PlatformServer, Seeded, api, make_bundle, seed, upload

CHUNK = 3 << 19  # 1.5 MiB: more than the server's first 1 MiB write


def store_is_whole(seeded: Seeded) -> list[str]:
    """Every stored file is complete (named by its own SHA-256) and every row has its file."""
    data = seeded.base / "data"
    problems = [f"{p.name}: content does not match its name" for p in (data / "bundles").rglob("*.zip")
                if hashlib.sha256(p.read_bytes()).hexdigest() != p.stem]
    with seeded.platform.db.read() as db:
        for sha in db.scalars(select(Submission.sha256)):
            if not (data / "bundles" / sha[:2] / f"{sha}.zip").is_file():
                problems.append(f"row {sha}: no stored file")
        orphans = db.scalar(select(func.count()).select_from(SubmissionDevice).where(
            ~SubmissionDevice.submission_id.in_(select(Submission.id))))
    return problems + ([f"{orphans} device rows without a submission"] if orphans else [])


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[Seeded, PlatformServer]]:
    seeded = seed(tmp_path)
    server = PlatformServer(tmp_path / "data").start()
    try:
        yield seeded, server
    finally:
        server.stop()


def test_kill_9_during_an_upload_then_restart(platform: tuple[Seeded, PlatformServer]) -> None:
    seeded, server = platform
    bundle = make_bundle(seeded.base / "big", seeded.keys["lab-a"], "killed-run")
    with bundle.with_suffix("").joinpath("logs", "dev-a", "big.log").open("wb") as fh:
        fh.write(os.urandom(3 << 20))  # a larger upload (incompressible): room to be killed in the middle
    from harness.report.bundle import write_manifest, zip_bundle
    from harness.report.signing import load_key

    write_manifest(bundle.with_suffix(""), load_key(seeded.keys["lab-a"]), "killed-run")
    data = zip_bundle(bundle.with_suffix(""), bundle).read_bytes()
    incoming = seeded.base / "data" / "incoming"

    def body() -> Iterator[bytes]:
        yield data[:CHUNK]
        # The server has the first part on disk under a name of its own: kill it there.
        poll_until(lambda: any(p.stat().st_size > 0 for p in incoming.glob("*.partial")), 10, what="partial upload")
        server.kill()
        yield data[CHUNK:]

    with pytest.raises(httpx.HTTPError), httpx.Client(base_url=server.url, timeout=30) as client:
        client.post("/api/v1/submissions", params={"vendor": "vendor-a"}, content=body(),
                    headers={"Authorization": f"Bearer {seeded.tokens['lab-a-user']}"})
    assert list(incoming.glob("*.partial"))  # the killed process left its partial behind
    assert not list((seeded.base / "data" / "bundles").rglob("*.zip"))

    server.start()  # restart: the dead process's partial is swept, nothing else changed
    assert not list(incoming.iterdir())
    assert store_is_whole(seeded) == []
    with api(server, seeded.tokens["officer"]) as client:
        assert client.get("/api/v1/submissions").json()["total"] == 0
    retried = upload(server, seeded.tokens["lab-a-user"], data)
    assert retried.status_code == 201, retried.text
    assert store_is_whole(seeded) == []
    with api(server, seeded.tokens["officer"]) as client:
        assert client.get(f"/api/v1/submissions/{retried.json()['id']}/bundle").content == data


def test_a_stored_file_without_its_row_is_reused_by_the_retry(platform: tuple[Seeded, PlatformServer]) -> None:
    seeded, server = platform
    bundle = make_bundle(seeded.base / "half", seeded.keys["lab-a"], "half-run")
    sha = hashlib.sha256(bundle.read_bytes()).hexdigest()
    # What a crash right after the file was moved into place, before the row was written, leaves.
    target = seeded.base / "data" / "bundles" / sha[:2] / f"{sha}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundle, target)
    response = upload(server, seeded.tokens["lab-a-user"], bundle)
    assert response.status_code == 201 and response.json()["sha256"] == sha
    assert store_is_whole(seeded) == []
    assert len(list((seeded.base / "data" / "bundles").rglob("*.zip"))) == 1
