"""Publishing: results -> junit.xml -> report.html -> signed manifest -> reports/<run-id>.zip ->
reports/index.html, at the end of a real `harness run` (against a real OpenSSH sshd on loopback) and by
`harness report RUN`; the bundle verifies with the lab's public key and any tampering is named."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.lab.peers.sshd import OpenSshServer
from harness.report.bundle import verify_bundle
from harness.report.publish import publish
from harness.report.signing import PUBLIC_NAME
from tests.report_runs import make_run

SUITE_TOML = """
id = "mini"
version = "1.0.0"
title_en = "Mini"
title_zh = "迷你"

[[requirements]]
id = "MINI-1"
level = "MUST"
title_en = "echo works"
title_zh = "echo 可用"
"""

SUITE_PY = """
import pytest


@pytest.mark.requirement("MINI-1")
def test_echo(dut):
    assert dut.run("echo hi").stdout_text == "hi\\n"
"""


def harness(*args: str, cwd: Path, keys: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_KEY_DIR": str(keys)}
    env.pop("HARNESS_REPORT_LANG", None)
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=90
    )


@pytest.fixture
def sshd() -> Iterator[OpenSshServer]:
    server = OpenSshServer().start()
    try:
        yield server
    finally:
        server.cleanup()


def lab(tmp_path: Path, sshd: OpenSshServer) -> tuple[Path, Path]:
    suites = tmp_path / "suites"
    (suites / "mini").mkdir(parents=True)
    (suites / "mini" / "suite.toml").write_text(SUITE_TOML)
    (suites / "mini" / "test_mini.py").write_text(SUITE_PY)
    inventory = tmp_path / "devices.toml"
    inventory.write_text(
        f'[devices.board1]\nkind = "board"\nprofile = "generic-linux"\n'
        f'ssh = {{ host = "127.0.0.1", port = {sshd.port}, user = "{sshd.user}", key_file = "{sshd.client_key}", '
        f'host_key = "{sshd.fingerprint}" }}\n'
    )
    return suites, inventory


@pytest.mark.peer("sshd")
def test_a_run_ends_with_a_signed_bundle_and_tampering_is_named(tmp_path: Path, sshd: OpenSshServer) -> None:
    suites, inventory = lab(tmp_path, sshd)
    keys, reports = tmp_path / "keys", tmp_path / "reports"
    common = (
        "-i",
        str(inventory),
        "run",
        "mini",
        "--all",
        "--suites-root",
        str(suites),
        "--reports",
        str(reports),
        "--plain",
    )
    first = harness(*common, "--run-id", "first", cwd=tmp_path, keys=keys)
    assert first.returncode == 0, first.stdout + first.stderr
    bundle = reports / "first.zip"
    assert first.stdout.strip().splitlines()[-1] == str(bundle)  # the last line: the signed bundle
    # A fresh machine: the key is made on first use, and the run says where its public half is.
    assert first.stderr.count("made a new lab signing key") == 1 and str(keys / PUBLIC_NAME) in first.stderr
    assert (keys / "lab-signing.key").stat().st_mode & 0o077 == 0

    run = reports / "first"
    for name in ("run.json", "results.json", "junit.xml", "report.html", "manifest.json", "manifest.sig"):
        assert (run / name).is_file(), name
    manifest = json.loads((run / "manifest.json").read_text())
    assert {"results.json", "junit.xml", "report.html", "run.json", "journal/board1.jsonl"} <= set(
        manifest["files"]
    )
    with zipfile.ZipFile(bundle) as zf:
        assert "first/report.html" in zf.namelist() and "first/manifest.sig" in zf.namelist()
    index = (reports / "index.html").read_text()
    assert 'href="first/report.html"' in index and 'href="first.zip"' in index and "board1" in index

    pubkey = str(keys / PUBLIC_NAME)
    for target in (bundle, run):
        ok = harness("verify", str(target), "--pubkey", pubkey, cwd=tmp_path, keys=keys)
        assert ok.returncode == 0 and "OK" in ok.stdout, ok.stderr

    # Tampered zip: one byte of junit.xml changed -> named.
    bad_zip = tmp_path / "bad.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(bad_zip, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(
                info,
                data.replace(b'failures="0"', b'failures="1"', 1)
                if info.filename.endswith("junit.xml")
                else data,
            )
    out = harness("verify", str(bad_zip), "--pubkey", pubkey, cwd=tmp_path, keys=keys)
    assert out.returncode == 1 and "junit.xml: changed" in out.stderr, out.stderr
    # Tampered folder: the verdict in the report changed -> named.
    report = run / "report.html"
    report.write_text(report.read_text().replace("CERTIFIED", "CERTIFIED!", 1))
    out = harness("verify", str(run), "--pubkey", pubkey, cwd=tmp_path, keys=keys)
    assert out.returncode == 1 and "report.html: changed" in out.stderr, out.stderr
    # Another lab's key: the embedded key still matches, the trusted one does not.
    made = harness("keys", "init", "--dir", str(tmp_path / "k2"), cwd=tmp_path, keys=keys)
    assert made.returncode == 0, made.stderr
    out = harness(
        "verify", str(bundle), "--pubkey", str(tmp_path / "k2" / PUBLIC_NAME), cwd=tmp_path, keys=keys
    )
    assert out.returncode == 1 and "manifest.sig: bad signature" in out.stderr

    second = harness(*common, "--run-id", "second", cwd=tmp_path, keys=keys)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "made a new lab signing key" not in second.stderr  # said once, on the first run only
    assert second.stdout.strip().splitlines()[-1] == str(reports / "second.zip")
    index = (reports / "index.html").read_text()
    assert index.count('href="second.zip"') == 1 and index.count('href="first.zip"') == 1


def test_harness_report_rebuilds_resigns_and_rezips(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    run = make_run(tmp_path / "reports", tmp_path / "suites")
    out = harness(
        "report", run.name, "--reports", str(tmp_path / "reports"), "--lang", "en", cwd=tmp_path, keys=keys
    )
    assert out.returncode == 0, out.stderr
    bundle = tmp_path / "reports" / f"{run.name}.zip"
    assert out.stdout.strip().splitlines()[-1] == str(bundle)
    assert (run / "report.html").read_text().startswith('<!DOCTYPE html>\n<html lang="en" class="show-en">')
    results = json.loads((run / "results.json").read_text())
    assert [d["verdict"] for d in results["devices"]] == ["NOT CERTIFIED", "CERTIFIED"]
    assert verify_bundle(bundle, (keys / PUBLIC_NAME).read_text()).ok

    # New journal lines after the first publish: `harness report` picks them up and signs again.
    journal = run / "journal" / "dev-a.jsonl"
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    fixed = [
        {**line, "outcome": "PASS", "message": ""} if line.get("type") == "result" else line for line in lines
    ]
    journal.write_text("".join(json.dumps(line) + "\n" for line in fixed))
    assert not verify_bundle(run, (keys / PUBLIC_NAME).read_text()).ok  # the folder no longer matches
    again = harness("report", str(run), "--lang", "zh", cwd=tmp_path, keys=keys)
    assert again.returncode == 0, again.stderr
    assert "made a new lab signing key" not in again.stderr
    results = json.loads((run / "results.json").read_text())
    assert results["devices"][0]["summary"]["FAIL"] == 0
    assert verify_bundle(run, (keys / PUBLIC_NAME).read_text()).ok
    with zipfile.ZipFile(bundle) as zf:
        assert json.loads(zf.read(f"{run.name}/results.json"))["devices"][0]["summary"]["FAIL"] == 0

    missing = harness(
        "report", "no-such-run", "--reports", str(tmp_path / "reports"), cwd=tmp_path, keys=keys
    )
    assert missing.returncode == 2 and "no run 'no-such-run'" in missing.stderr


def test_publish_in_process_announces_a_new_key_once(tmp_path: Path) -> None:
    run = make_run(tmp_path / "reports", tmp_path / "suites")
    said = io.StringIO()
    first = publish(run, key_dir=tmp_path / "keys", announce=said)
    second = publish(run, key_dir=tmp_path / "keys", announce=said)
    assert first.key_created and not second.key_created and first.key_id == second.key_id
    assert said.getvalue().count("made a new lab signing key") == 1
    assert first.key_id in (run / "report.html").read_text()  # the page names the key that signed it
    assert verify_bundle(second.bundle, (tmp_path / "keys" / PUBLIC_NAME).read_text()).ok
    # The index entry is small and outside the run folder, so the signed bundle holds only the run.
    assert (tmp_path / "reports" / ".index" / f"{run.name}.json").is_file()
    assert not (run / ".index").exists()


def test_unwritable_key_dir_is_a_config_error(tmp_path: Path) -> None:
    from harness.errors import ConfigError

    run = make_run(tmp_path / "reports", tmp_path / "suites")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="signing key"):
        publish(run, key_dir=blocker / "keys", announce=io.StringIO())
    assert (run / "junit.xml").is_file()  # CI still gets its junit before signing fails


def test_the_steps_of_publishing_can_be_taken_apart(tmp_path: Path) -> None:
    """What a server does with a run it received: build, render, then sign and bundle, each alone."""
    from harness.report.publish import build, render, sign_and_bundle
    from harness.report.signing import init_key

    run = make_run(tmp_path / "reports", tmp_path / "suites")
    document = build(run)
    assert json.loads((run / "results.json").read_text()) == document.to_dict()
    key = init_key(tmp_path / "keys")
    rendered = render(run, document, lang="en", key_id=key.id)
    assert rendered.junit == run / "junit.xml" and rendered.report == run / "report.html"
    assert key.id in rendered.report.read_text()
    assert not (run / "manifest.json").exists()  # rendering signs nothing
    signed = sign_and_bundle(run, key)
    assert signed.bundle == tmp_path / "reports" / f"{run.name}.zip"
    with signed.bundle.open("rb") as upload:
        assert verify_bundle(upload, (tmp_path / "keys" / PUBLIC_NAME).read_text()).ok
    assert not (tmp_path / "reports" / "index.html").exists()  # indexing is a step of its own


def test_a_run_without_an_index_entry_is_read_once_from_its_results(tmp_path: Path) -> None:
    """A run an older harness published has no reports/.index entry: the index reads its results.json."""
    from harness.report.index import write_index

    run = make_run(tmp_path / "reports", tmp_path / "suites")
    publish(run, key_dir=tmp_path / "keys", announce=io.StringIO())
    entry = tmp_path / "reports" / ".index" / f"{run.name}.json"
    written = json.loads(entry.read_text())
    entry.unlink()
    page = write_index(tmp_path / "reports").read_text()
    assert json.loads(entry.read_text()) == written  # made again, the same
    assert "dev-a" in page and "NOT CERTIFIED" in page
