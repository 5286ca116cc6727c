"""`harness verify` on hostile bundles: a huge manifest or signature (bounded reads), malformed
self-signed manifests (one line each, exit 1), and manifests naming files outside the bundle or through
symbolic links (never opened). Through the real CLI, in a subprocess."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from harness.report.bundle import write_manifest, zip_bundle
from harness.report.manifest import MAX_MANIFEST_BYTES, parse_manifest
from harness.report.signing import init_key, load_key, public_to_text

EXIT_TAMPERED = 1


def verify(*args: str, keys: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_KEY_DIR": str(keys)}
    return subprocess.run([sys.executable, "-m", "harness", "verify", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    folder = tmp_path / "keys"
    init_key(folder)
    return folder


def make_run(tmp_path: Path, keys: Path) -> Path:
    run = tmp_path / "reports" / "20261202-000000-beef"
    (run / "journal").mkdir(parents=True)
    (run / "results.json").write_text('{"devices": []}\n')
    (run / "journal" / "dev.jsonl").write_text('{"type": "plan"}\n')
    write_manifest(run, load_key(keys))
    return run


def self_signed(run: Path, keys: Path, manifest: Any) -> None:
    """Replace the run's manifest with `manifest`, signed by the lab key it embeds (as a forger would)."""
    key = load_key(keys)
    data = json.dumps(manifest).encode()
    (run / "manifest.json").write_bytes(data)
    (run / "manifest.sig").write_text(base64.b64encode(key.sign(data)).decode() + "\n")


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_huge_manifest_in_a_small_zip_is_refused_without_reading_it(tmp_path: Path, keys: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf, \
            zf.open("run/manifest.json", "w", force_zip64=True) as member:
        member.write(b"{")
        block = b" " * (1 << 20)
        for _ in range(300):  # 300 MiB of whitespace: deflates to ~1.3 MiB
            member.write(block)
        member.write(b"}")
    assert bomb.stat().st_size < 2 << 20
    # The peak is read inside the verifying process (VmHWM: this program's own memory, from its exec on;
    # getrusage would also count the pages of the pytest process it was forked from).
    peak_file = tmp_path / "peak"
    code_text = ("import sys; from pathlib import Path; from harness.cli import main\n"
                 "try:\n    main(sys.argv[1:])\nfinally:\n"
                 "    status = Path('/proc/self/status').read_text()\n"
                 "    peak = next(line.split()[1] for line in status.splitlines() if line.startswith('VmHWM'))\n"
                 f"    Path({str(peak_file)!r}).write_text(peak)\n")
    done = subprocess.run([sys.executable, "-c", code_text, "verify", str(bomb)], capture_output=True, text=True,
                          env={**os.environ, "HARNESS_KEY_DIR": str(keys)}, timeout=120)
    code, text = done.returncode, done.stderr
    peak_kib = int(peak_file.read_text())
    assert code == EXIT_TAMPERED, text
    assert "manifest.json: larger than" in text and len(text.strip().splitlines()) == 1, text
    assert peak_kib < 150 * 1024, f"verify took {peak_kib // 1024} MiB for a 300 MiB manifest"


@pytest.mark.parametrize("member", ["manifest.json", "manifest.sig"])
def test_an_oversized_manifest_or_signature_in_a_folder_is_refused(tmp_path: Path, keys: Path, member: str) -> None:
    run = make_run(tmp_path, keys)
    limit = MAX_MANIFEST_BYTES if member == "manifest.json" else 4096
    with open(run / member, "ab") as fh:
        fh.truncate(limit + 1)  # sparse: no disk is spent on it
    done = verify(str(run), keys=keys)
    assert done.returncode == EXIT_TAMPERED
    assert f"{member}: larger than" in one_line(done)


MALFORMED: list[tuple[str, Any, str]] = [
    ("files as a list", lambda m: {**m, "files": list(m["files"])}, "'files' is a list"),
    ("an entry as a string", lambda m: {**m, "files": {**m["files"], "results.json": "abc"}},
     "files['results.json'] is a string"),
    ("an entry as a number", lambda m: {**m, "files": {"results.json": 7}}, "is a number"),
    ("a numeric sha256", lambda m: {**m, "files": {"results.json": {"sha256": 5}}}, "sha256 is not 64"),
    ("a numeric public key", lambda m: {**m, "signature": {"public_key": 5}}, "public_key' is missing or not"),
    ("a numeric signature block", lambda m: {**m, "signature": 5}, "public_key' is missing or not"),
    ("a bad size", lambda m: {**m, "files": {"results.json": {"sha256": "0" * 64, "size": "big"}}}, "size"),
    ("the document a list", lambda m: [m], "the document is a list"),
    ("the document a number", lambda m: 5, "the document is a number"),
    ("an absolute name", lambda m: {**m, "files": {"/etc/hostname": {"sha256": "0" * 64}}}, "is absolute"),
    ("a name with ..", lambda m: {**m, "files": {"journal/../../x": {"sha256": "0" * 64}}}, "'..' part"),
    ("a name with a NUL", lambda m: {**m, "files": {"a\u0000b": {"sha256": "0" * 64}}}, "control characters"),
    ("not JSON", None, "not JSON"),
]


@pytest.mark.parametrize(("change", "expect"), [(m[1], m[2]) for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_a_malformed_self_signed_manifest_is_one_line_and_exit_1(tmp_path: Path, keys: Path, change: Any,
                                                                 expect: str) -> None:
    run = make_run(tmp_path, keys)
    manifest = json.loads((run / "manifest.json").read_text())
    if change is None:
        (run / "manifest.json").write_bytes(b"\xff{nope")
    else:
        self_signed(run, keys, change(manifest))
    for bundle in (run, zip_bundle(run)):
        done = verify(str(bundle), keys=keys)
        assert done.returncode == EXIT_TAMPERED, done.stderr
        line = one_line(done)
        assert "manifest.json: not a harness manifest" in line and expect in line, line


def test_a_bad_embedded_key_is_a_bad_bundle_but_a_bad_pubkey_file_is_a_usage_error(tmp_path: Path,
                                                                                   keys: Path) -> None:
    run = make_run(tmp_path, keys)
    manifest = json.loads((run / "manifest.json").read_text())
    self_signed(run, keys, {**manifest, "signature": {"public_key": "bm90IGEga2V5"}})
    done = verify(str(run), keys=keys)
    assert done.returncode == EXIT_TAMPERED and "public_key" in one_line(done)
    junk = tmp_path / "junk.pub"
    junk.write_text("not a key\n")
    done = verify(str(run), "--pubkey", str(junk), keys=keys)
    assert done.returncode == 2 and "not an Ed25519 public key" in one_line(done)


def test_folder_verify_never_reads_outside_the_bundle(tmp_path: Path, keys: Path) -> None:
    run = make_run(tmp_path, keys)
    # Outside the bundle: a FIFO nobody writes to. Opening it for reading would hang verify for ever.
    fifo = tmp_path / "outside.fifo"
    os.mkfifo(fifo)
    (run / "logs").mkdir()
    os.symlink(fifo, run / "logs" / "link")  # inside the folder, pointing out
    os.symlink(tmp_path, run / "up")  # a folder link
    manifest = json.loads((run / "manifest.json").read_text())
    for name in ("logs/link", "up/outside.fifo"):
        manifest["files"][name] = {"sha256": "0" * 64, "size": 0}
        self_signed(run, keys, manifest)
        done = verify(str(run), keys=keys, timeout=20)
        assert done.returncode == EXIT_TAMPERED, done.stderr
        assert f"{name}: not a regular file inside the bundle" in done.stderr, done.stderr
        del manifest["files"][name]
    # The real file outside, hashed right: still never taken for part of the bundle.
    secret = tmp_path / "host-file"
    secret.write_text("the host's own file\n")
    manifest["files"]["../../host-file"] = {"sha256": sha(secret), "size": secret.stat().st_size}
    self_signed(run, keys, manifest)
    done = verify(str(run), keys=keys, timeout=20)
    assert done.returncode == EXIT_TAMPERED and "not a plain path inside the bundle" in one_line(done)


def _damage(zip_path: Path, member: str, how: str) -> None:
    data = bytearray(zip_path.read_bytes())
    with zipfile.ZipFile(zip_path) as zf:
        info = zf.getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)  # the member's data
    if how == "corrupt":
        for i in range(100, 400):
            data[start + i] ^= 0xFF
    else:  # mark it encrypted, in its local header and in the central directory
        data[info.header_offset + 6] |= 1
        central = data.find(b"PK\x01\x02")
        while central >= 0:
            length = int.from_bytes(data[central + 28: central + 30], "little")
            if data[central + 46: central + 46 + length] == info.filename.encode():
                data[central + 8] |= 1
            central = data.find(b"PK\x01\x02", central + 4)
    zip_path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["corrupt", "encrypted"])
def test_a_damaged_zip_member_is_one_line_and_exit_1(tmp_path: Path, keys: Path, how: str) -> None:
    run = make_run(tmp_path, keys)
    (run / "results.json").write_text(os.urandom(20000).hex())  # long enough to corrupt its middle
    write_manifest(run, load_key(keys))
    bundle = zip_bundle(run)
    _damage(bundle, f"{run.name}/results.json", how)
    done = verify(str(bundle), keys=keys)
    assert done.returncode == EXIT_TAMPERED, done.stderr
    assert "results.json: unreadable" in one_line(done)


def test_an_intact_bundle_still_verifies(tmp_path: Path, keys: Path) -> None:
    run = make_run(tmp_path, keys)
    for bundle in (run, zip_bundle(run)):
        done = verify(str(bundle), "--pubkey", str(keys / "lab-signing.pub"), keys=keys)
        assert done.returncode == 0, done.stderr
        assert "OK, 2 files" in done.stdout
    parsed = parse_manifest((run / "manifest.json").read_bytes())
    assert set(parsed.files) == {"results.json", "journal/dev.jsonl"}
    assert parsed.public_key == public_to_text(load_key(keys).public)
