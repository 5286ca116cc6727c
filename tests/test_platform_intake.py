"""Hostile uploads against a real `harness platform serve` on loopback: every refusal names its check
and reason, keeps nothing (no row, no stored file, no partial), and extracts nothing anywhere."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from harness.platform.services import accounts
from harness.report.bundle import write_manifest
from harness.report.signing import load_key
from tests.platform_peers import PlatformServer, Seeded, api, make_bundle, seed, upload

MAX_UPLOAD_MB = 1


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Seeded, PlatformServer]]:
    base = tmp_path_factory.mktemp("intake")
    seeded = seed(base)
    server = PlatformServer(base / "data", args=("--max-upload-mb", str(MAX_UPLOAD_MB))).start()
    try:
        yield seeded, server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def good(lab: tuple[Seeded, PlatformServer]) -> Path:
    seeded, _ = lab
    return make_bundle(seeded.base / "good", seeded.keys["lab-a"], "good-run")


def rezip(src: Path, dst: Path, change: Callable[[zipfile.ZipFile, zipfile.ZipFile], None]) -> Path:
    """Copy a bundle entry by entry, then let `change` add or alter entries."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        change(zin, zout)
    return dst


def copy_all(zin: zipfile.ZipFile, zout: zipfile.ZipFile, skip: str = "") -> None:
    for info in zin.infolist():
        if not (skip and info.filename.endswith(skip)):
            zout.writestr(info, zin.read(info))


def state(seeded: Seeded, server: PlatformServer) -> tuple[int, list[str], list[str]]:
    with api(server, seeded.tokens["officer"]) as client:
        total = client.get("/api/v1/submissions").json()["total"]
    data = seeded.base / "data"
    stored = sorted(p.name for p in (data / "bundles").rglob("*.zip"))
    partial = sorted(p.name for p in (data / "incoming").iterdir())
    return total, stored, partial


def refused(lab: tuple[Seeded, PlatformServer], body: bytes | Path, status: int, step: str, reason: str,
            token: str = "lab-a-user", vendor: str = "vendor-a") -> None:
    seeded, server = lab
    before = state(seeded, server)
    response = upload(server, seeded.tokens[token], body, vendor=vendor)
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["step"] == step and reason in problem["detail"], problem
    assert state(seeded, server) == before  # nothing kept: no row, no stored file, no partial upload


def test_oversized_bodies_are_refused_before_anything_is_kept(lab: tuple[Seeded, PlatformServer]) -> None:
    big = os.urandom(MAX_UPLOAD_MB * (1 << 20) + 1)
    refused(lab, big, 413, "size", "at most")
    seeded, server = lab
    before = state(seeded, server)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        for _ in range(3):
            yield os.urandom(1 << 19)

    with httpx.Client(base_url=server.url, timeout=30) as client:
        response = client.post("/api/v1/submissions", params={"vendor": "vendor-a"}, content=chunks(),
                               headers={"Authorization": f"Bearer {seeded.tokens['lab-a-user']}"})
    assert response.status_code == 413 and response.json()["step"] == "size", response.text
    assert state(seeded, server) == before


def test_not_a_zip(lab: tuple[Seeded, PlatformServer]) -> None:
    refused(lab, b"PK\x03\x04 but not really a zip file at all", 422, "zip", "not a zip file")
    refused(lab, b"", 422, "zip", "empty body")


def test_path_traversal_and_absolute_names_are_refused_and_nothing_is_extracted(
    lab: tuple[Seeded, PlatformServer], good: Path, tmp_path: Path
) -> None:
    seeded, _ = lab
    target = seeded.base / "data" / "escaped.txt"
    for name, reason in ((f"good-run/../../{target.name}", "'..'"), (str(target), "absolute name")):
        bad = rezip(good, tmp_path / "bad.zip", lambda zin, zout, n=name: (copy_all(zin, zout), zout.writestr(n, b"x")))
        refused(lab, bad, 422, "zip", reason)
        assert not target.exists() and not (seeded.base / target.name).exists()


def test_symlinks_and_special_files_are_refused(lab: tuple[Seeded, PlatformServer], good: Path, tmp_path: Path) -> None:
    def link(zin: zipfile.ZipFile, zout: zipfile.ZipFile) -> None:
        copy_all(zin, zout)
        info = zipfile.ZipInfo("good-run/logs/link")
        info.create_system = 3
        info.external_attr = (0o120777) << 16
        zout.writestr(info, "/etc/shadow")

    refused(lab, rezip(good, tmp_path / "link.zip", link), 422, "zip", "symbolic link")


def test_zip_bomb_is_refused(lab: tuple[Seeded, PlatformServer], good: Path, tmp_path: Path) -> None:
    bomb = rezip(good, tmp_path / "bomb.zip",
                 lambda zin, zout: (copy_all(zin, zout), zout.writestr("good-run/logs/zeros", b"\0" * (32 << 20))))
    assert bomb.stat().st_size < MAX_UPLOAD_MB << 20  # small on the wire, 32 MiB inside
    refused(lab, bomb, 422, "zip", "expands")


def test_duplicate_entries_are_refused(lab: tuple[Seeded, PlatformServer], good: Path, tmp_path: Path) -> None:
    def twice(zin: zipfile.ZipFile, zout: zipfile.ZipFile) -> None:
        copy_all(zin, zout)
        results = json.loads(zin.read("good-run/results.json"))
        results["devices"][0]["verdict"] = "CERTIFIED"
        zout.writestr("good-run/results.json", json.dumps(results))

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bad = rezip(good, tmp_path / "dup.zip", twice)
    refused(lab, bad, 422, "zip", "in the zip twice")


def test_tampered_after_signing_is_refused(lab: tuple[Seeded, PlatformServer], good: Path, tmp_path: Path) -> None:
    def tamper(zin: zipfile.ZipFile, zout: zipfile.ZipFile) -> None:
        copy_all(zin, zout, skip="/junit.xml")
        zout.writestr("good-run/junit.xml", zin.read("good-run/junit.xml").replace(b'failures="1"', b'failures="0"'))

    refused(lab, rezip(good, tmp_path / "tampered.zip", tamper), 422, "manifest", "junit.xml: changed")
    refused(lab, rezip(good, tmp_path / "extra.zip",
                       lambda zin, zout: (copy_all(zin, zout), zout.writestr("good-run/extra.txt", b"x"))),
            422, "manifest", "extra.txt: extra file")


def test_unregistered_revoked_and_foreign_keys_are_refused(lab: tuple[Seeded, PlatformServer]) -> None:
    seeded, _ = lab
    stranger = seeded.key("stranger", None)
    refused(lab, make_bundle(seeded.base / "stranger", stranger, "stranger-run"), 422, "signature",
            "not registered on this platform")
    revoked = seeded.key("lab-a-old", "lab-a")
    with seeded.platform.db.write() as db:
        accounts.revoke_key(db, load_key(revoked).id, "laptop stolen")
    refused(lab, make_bundle(seeded.base / "revoked", revoked, "revoked-run"), 422, "signature", "revoked")
    # lab-b's key is real and registered, but to lab-b: lab-a cannot publish what it signed.
    refused(lab, make_bundle(seeded.base / "foreign", seeded.keys["lab-b"], "foreign-run"), 422, "signature",
            "registered to another organisation")


def test_a_manifest_resigned_by_another_key_is_refused(lab: tuple[Seeded, PlatformServer], tmp_path: Path) -> None:
    seeded, _ = lab
    bundle = make_bundle(seeded.base / "resigned", seeded.keys["lab-a"], "resigned-run")
    run_dir = bundle.with_suffix("")
    # Someone edits the results and signs the manifest again with their own key.
    write_manifest(run_dir, load_key(seeded.key("forger", None)), "resigned-run")
    from harness.report.bundle import zip_bundle

    refused(lab, zip_bundle(run_dir, tmp_path / "forged.zip"), 422, "signature", "not registered")


def test_results_that_do_not_match_the_schema_are_refused(lab: tuple[Seeded, PlatformServer], tmp_path: Path) -> None:
    seeded, _ = lab
    bundle = make_bundle(seeded.base / "schema", seeded.keys["lab-a"], "schema-run")
    run_dir = bundle.with_suffix("")
    results = json.loads((run_dir / "results.json").read_text())
    results["devices"][0]["verdict"] = "PROBABLY FINE"
    (run_dir / "results.json").write_text(json.dumps(results))
    write_manifest(run_dir, load_key(seeded.keys["lab-a"]), "schema-run")  # correctly signed, wrong content
    from harness.report.bundle import zip_bundle

    refused(lab, zip_bundle(run_dir, tmp_path / "schema.zip"), 422, "results",
            "$.devices[0].verdict: 'PROBABLY FINE' is not one of")


def test_a_lab_must_name_an_existing_vendor(lab: tuple[Seeded, PlatformServer], good: Path) -> None:
    refused(lab, good, 422, "publish", "no such vendor organisation", vendor="nobody")
    refused(lab, good, 422, "publish", "a lab names the vendor", vendor="")
    refused(lab, good, 422, "publish", "no such vendor organisation", vendor="lab-b")  # a lab is not a vendor
