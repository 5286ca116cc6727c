"""Signed bundles: harness verify passes on an intact bundle and names the file on any tampering."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.report.bundle import verify_bundle, write_manifest, zip_bundle
from harness.report.signing import init_key


def harness(*args: str, env_dir: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "HARNESS_KEY_DIR": str(env_dir)}
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.fixture
def bundle(tmp_path: Path) -> tuple[Path, Path]:
    keydir = tmp_path / "keys"
    out = harness("keys", "init", "--dir", str(keydir), env_dir=keydir)
    assert out.returncode == 0, out.stderr
    assert (keydir / "lab-signing.key").stat().st_mode & 0o077 == 0  # private key not readable by others
    run = tmp_path / "reports" / "20261127-000000-abcd"
    (run / "journal").mkdir(parents=True)
    (run / "logs" / "dev1").mkdir(parents=True)
    (run / "results.json").write_text('{"verdict": "CERTIFIED"}\n')
    (run / "journal" / "dev1.jsonl").write_text('{"type": "plan"}\n')
    (run / "logs" / "dev1" / "commands.log").write_bytes(bytes(range(256)) * 100)
    (run / "report.html").write_text("<!doctype html><title>r</title>")
    from harness.report.signing import load_key

    write_manifest(run, load_key(keydir))
    return run, keydir


def test_intact_bundle_verifies_as_folder_and_zip(bundle: tuple[Path, Path]) -> None:
    run, keydir = bundle
    out = harness("verify", str(run), "--pubkey", str(keydir / "lab-signing.pub"), env_dir=keydir)
    assert out.returncode == 0, out.stderr
    assert "OK, 4 files" in out.stdout
    z = zip_bundle(run)
    out = harness("verify", str(z), "--pubkey", str(keydir / "lab-signing.pub"), env_dir=keydir)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (
            lambda run: (run / "logs/dev1/commands.log").write_bytes(
                (run / "logs/dev1/commands.log").read_bytes()[:-1] + b"\x00"
            ),
            "logs/dev1/commands.log: changed",
        ),
        (lambda run: (run / "journal/dev1.jsonl").unlink(), "journal/dev1.jsonl: missing"),
        (lambda run: (run / "journal/dev2.jsonl").write_text("{}"), "journal/dev2.jsonl: extra file"),
        (
            lambda run: (run / "manifest.json").write_text(
                (run / "manifest.json").read_text().replace('"run_id"', '"run_id" ')
            ),
            "manifest.sig: bad signature",
        ),
        (lambda run: (run / "manifest.sig").unlink(), "manifest.sig: missing"),
        (
            lambda run: (run / "results.json").write_text('{"verdict": "CERTIFIED"} \n'),
            "results.json: changed",
        ),
    ],
    ids=["byte", "missing", "extra", "manifest", "nosig", "results"],
)
def test_any_tampering_fails_and_names_the_file(bundle: tuple[Path, Path], tamper, named: str) -> None:  # type: ignore[no-untyped-def]
    run, keydir = bundle
    tamper(run)
    out = harness("verify", str(run), "--pubkey", str(keydir / "lab-signing.pub"), env_dir=keydir)
    assert out.returncode == 1
    assert named in out.stderr, out.stderr


def test_tampered_zip_fails(bundle: tuple[Path, Path], tmp_path: Path) -> None:
    run, keydir = bundle
    z = zip_bundle(run)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(z) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("results.json"):
                data = data.replace(b"CERTIFIED", b"CERTIFIEd")
            dst.writestr(info, data)
    result = verify_bundle(bad, (keydir / "lab-signing.pub").read_text())
    assert not result.ok and any("results.json: changed" in p for p in result.problems)


def test_re_signed_by_another_key_is_refused_with_the_labs_pubkey(
    bundle: tuple[Path, Path], tmp_path: Path
) -> None:
    run, keydir = bundle
    (run / "results.json").write_text('{"verdict": "forged"}\n')
    forger = init_key(tmp_path / "forger")
    write_manifest(run, forger)
    # Integrity alone (the key inside the bundle) holds, but the lab's key does not.
    assert verify_bundle(run).ok
    lab = verify_bundle(run, (keydir / "lab-signing.pub").read_text())
    assert not lab.ok and any("bad signature" in p for p in lab.problems)


def test_keys_init_refuses_to_overwrite(bundle: tuple[Path, Path]) -> None:
    _, keydir = bundle
    out = harness("keys", "init", "--dir", str(keydir), env_dir=keydir)
    assert out.returncode == 2 and "exists already" in out.stderr


@pytest.mark.filterwarnings("ignore:Duplicate name")  # the forged zip is made so on purpose
@pytest.mark.parametrize("how", ["outside", "twice"])
def test_zip_with_entries_outside_the_run_or_given_twice_fails(bundle: tuple[Path, Path], tmp_path: Path, how: str) -> None:
    run, keydir = bundle
    z = zip_bundle(run)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(z) as src, zipfile.ZipFile(bad, "w") as dst:
        if how == "twice":  # a forged copy met first; a naive check reads only the genuine last one
            dst.writestr(f"{run.name}/results.json", '{"verdict": "forged"}\n')
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        if how == "outside":
            dst.writestr("report.html", "<p>not signed</p>")
    result = verify_bundle(bad, (keydir / "lab-signing.pub").read_text())
    assert not result.ok
    expected = "report.html: extra file, outside the run folder" if how == "outside" else "results.json: in the zip twice"
    assert any(expected in p for p in result.problems), result.problems
