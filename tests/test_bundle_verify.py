"""Signed bundles in process (harness.report.bundle): what write_manifest signs, what zip_bundle packs,
and every problem verify_bundle names, for a run folder and for its zip alike. The CLI's own view of
the same checks is in test_bundle.py and test_verify_hostile.py; here each rule is stated on its own
so that a change to the check that lets a tampered bundle through fails a test."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.errors import ConfigError
from harness.report.bundle import MANIFEST, SIGNATURE, Verification, verify_bundle, write_manifest, zip_bundle
from harness.report.manifest import MAX_SIGNATURE_BYTES
from harness.report.signing import SigningKey, public_to_text

RUN_ID = "20261127-000000-abcd"
FILES = {
    "results.json": b'{"verdict": "CERTIFIED"}\n',
    "journal/dev1.jsonl": b'{"type": "plan"}\n',
    "logs/dev1/commands.log": bytes(range(256)) * 8,
    "report.html": b"<!doctype html><title>r</title>",
}
EMBEDDED = "embedded in the bundle (integrity only)"


def _key(tmp_path: Path, name: str = "lab") -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate(), tmp_path / f"{name}.key")


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, SigningKey]:
    run = tmp_path / "reports" / RUN_ID
    for name, data in FILES.items():
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_bytes(data)
    key = _key(tmp_path)
    write_manifest(run, key)
    return run, key


def _pub(key: SigningKey) -> str:
    return public_to_text(key.public)


def _rezip(src: Path, dest: Path, *, drop: str = "", add: dict[str, bytes] | None = None) -> Path:
    """A copy of the zip `src` without member `drop` and with members `add` (name -> bytes)."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dest, "w") as new:
        for info in old.infolist():
            if info.filename != drop:
                new.writestr(info, old.read(info))
        for name, data in (add or {}).items():
            new.writestr(name, data)
    return dest


# -- what is signed and packed ---------------------------------------------------------------------------


def test_the_manifest_lists_every_file_by_hash_and_size_and_its_signature_covers_it(
        signed: tuple[Path, SigningKey]) -> None:
    run, key = signed
    data = (run / MANIFEST).read_bytes()
    manifest = json.loads(data)
    assert manifest["files"] == {
        name: {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)} for name, body in FILES.items()
    }
    assert (manifest["manifest_version"], manifest["run_id"], manifest["algorithm"]) == (1, RUN_ID, "sha256")
    assert manifest["signature"] == {"scheme": "ed25519", "key_id": key.id, "public_key": _pub(key)}
    key.public.verify(base64.b64decode((run / SIGNATURE).read_text()), data)  # raises if not over these bytes
    assert data.endswith(b"}\n")


def test_re_signing_lists_neither_the_old_manifest_nor_links_and_takes_a_run_id(
        signed: tuple[Path, SigningKey], tmp_path: Path) -> None:
    run, key = signed
    (tmp_path / "outside").write_text("not part of the run")
    (run / "link").symlink_to(tmp_path / "outside")
    write_manifest(run, key, run_id="renamed")
    manifest = json.loads((run / MANIFEST).read_bytes())
    assert sorted(manifest["files"]) == sorted(FILES) and manifest["run_id"] == "renamed"


def test_the_zip_holds_the_run_folder_and_nothing_else(signed: tuple[Path, SigningKey], tmp_path: Path) -> None:
    run, _ = signed
    (run / "link").symlink_to(run / "results.json")
    zipped = zip_bundle(run)
    assert zipped == run.with_suffix(".zip")
    with zipfile.ZipFile(zipped) as zf:
        assert sorted(zf.namelist()) == sorted(f"{RUN_ID}/{n}" for n in [*FILES, MANIFEST, SIGNATURE])
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
        assert zf.read(f"{RUN_ID}/logs/dev1/commands.log") == FILES["logs/dev1/commands.log"]
    elsewhere = zip_bundle(run, tmp_path / "copy.zip")
    assert elsewhere == tmp_path / "copy.zip" and elsewhere.is_file()
    assert sorted(p.name for p in run.parent.iterdir()) == [RUN_ID, f"{RUN_ID}.zip"]  # no temporary left


# -- an intact bundle ------------------------------------------------------------------------------------


def test_an_intact_bundle_verifies_as_folder_and_as_zip(signed: tuple[Path, SigningKey]) -> None:
    run, key = signed
    for path in (run, zip_bundle(run)):
        trusted = verify_bundle(path, _pub(key))
        assert (trusted.ok, trusted.problems, trusted.checked) == (True, [], len(FILES))
        assert (trusted.key_id, trusted.key_source) == (key.id, "--pubkey")
        embedded = verify_bundle(path)
        assert (embedded.ok, embedded.key_id, embedded.key_source) == (True, key.id, EMBEDDED)


def test_a_zip_in_an_open_file_verifies_as_its_path_does(signed: tuple[Path, SigningKey], tmp_path: Path) -> None:
    # What a server holds: an upload, open, never a path.
    run, key = signed
    zipped = zip_bundle(run)
    with zipped.open("rb") as fh:
        assert verify_bundle(fh, _pub(key)) == verify_bundle(zipped, _pub(key))
        assert not fh.closed  # the caller's to close
    tampered = _rezip(zipped, tmp_path / "tampered.zip", drop=f"{RUN_ID}/results.json",
                      add={f"{RUN_ID}/results.json": b"{}"})
    in_memory = io.BytesIO(tampered.read_bytes())
    result = verify_bundle(in_memory)
    assert not result.ok and result.problems == ["results.json: changed (SHA-256 differs from the manifest)"]
    with pytest.raises(ConfigError, match="neither a run folder nor a zip bundle"):
        verify_bundle(io.BytesIO(b"not a zip"))


def test_a_zip_made_with_zip_r_from_the_reports_folder_verifies(
        signed: tuple[Path, SigningKey], tmp_path: Path) -> None:
    # `cd reports && zip -r run.zip RUN` style: folder entries, the run one level down, and evidence of
    # its own that happens to be called manifest.json deeper inside (a file pulled from the device).
    run, key = signed
    (run / "logs/dev1/manifest.json").write_text('{"app": "pulled from the device"}')
    write_manifest(run, key)
    zipped = tmp_path / "reports.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("reports/", b"")
        for path in sorted(run.rglob("*")):
            name = f"reports/{path.relative_to(run.parent).as_posix()}"
            if path.is_dir():
                zf.writestr(name + "/", b"")
            else:
                zf.write(path, name)
    result = verify_bundle(zipped, _pub(key))
    assert (result.problems, result.checked) == ([], len(FILES) + 1)


def test_a_zip_made_by_hand_with_the_run_at_its_top_still_verifies(
        signed: tuple[Path, SigningKey], tmp_path: Path) -> None:
    run, key = signed
    flat = tmp_path / "flat.zip"
    with zipfile.ZipFile(flat, "w") as zf:
        for path in sorted(run.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(run).as_posix())
        zf.writestr("logs/", b"")  # a folder entry is not a file
    assert verify_bundle(flat, _pub(key)).problems == []


# -- what a tampered bundle says ---------------------------------------------------------------------------


def test_a_changed_missing_or_extra_file_in_a_folder_is_named(signed: tuple[Path, SigningKey]) -> None:
    run, key = signed
    (run / "logs/dev1/commands.log").write_bytes(b"edited")
    (run / "report.html").unlink()
    (run / "logs/dev2").mkdir()
    (run / "logs/dev2/planted.sh").write_text("rm -rf /")
    (run / "logs/dev2/empty").mkdir()  # a folder is not a file
    result = verify_bundle(run, _pub(key))
    assert result.ok is False and result.checked == len(FILES)
    assert result.problems == [
        "logs/dev1/commands.log: changed (SHA-256 differs from the manifest)",
        "report.html: missing",
        "logs/dev2/planted.sh: extra file, not in the manifest",
    ]


def test_a_file_added_inside_the_zips_run_folder_is_named(signed: tuple[Path, SigningKey], tmp_path: Path) -> None:
    run, key = signed
    zipped = _rezip(zip_bundle(run), tmp_path / "added.zip", add={f"{RUN_ID}/logs/extra.txt": b"x"})
    assert verify_bundle(zipped, _pub(key)).problems == ["logs/extra.txt: extra file, not in the manifest"]


def test_a_zip_member_changed_or_dropped_is_named(signed: tuple[Path, SigningKey], tmp_path: Path) -> None:
    run, key = signed
    original = zip_bundle(run)
    dropped = _rezip(original, tmp_path / "dropped.zip", drop=f"{RUN_ID}/results.json")
    assert verify_bundle(dropped, _pub(key)).problems == ["results.json: missing"]
    changed = _rezip(dropped, tmp_path / "changed.zip", add={f"{RUN_ID}/results.json": b'{"verdict": "X"}\n'})
    assert verify_bundle(changed, _pub(key)).problems == [
        "results.json: changed (SHA-256 differs from the manifest)"]


def test_zip_entries_outside_the_run_folder_or_given_twice_are_named(
        signed: tuple[Path, SigningKey], tmp_path: Path) -> None:
    run, key = signed
    original = zip_bundle(run)
    outside = _rezip(original, tmp_path / "outside.zip", add={"other/x.txt": b"x"})
    assert verify_bundle(outside, _pub(key)).problems == ["other/x.txt: extra file, outside the run folder"]
    twice = f"{RUN_ID}/results.json"
    with pytest.warns(UserWarning, match="Duplicate name"):
        doubled = _rezip(original, tmp_path / "twice.zip", add={twice: FILES["results.json"]})
    assert verify_bundle(doubled, _pub(key)).problems == [f"{twice}: in the zip twice"]


def _damage(zipped: Path, member: str) -> None:
    """Overwrite a few bytes inside the compressed data of `member`."""
    raw = bytearray(zipped.read_bytes())
    with zipfile.ZipFile(zipped) as zf:
        info = zf.getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + 2 : start + 12] = b"\xff" * 10
    zipped.write_bytes(bytes(raw))


def test_a_damaged_zip_member_is_unreadable_not_a_crash(signed: tuple[Path, SigningKey], tmp_path: Path) -> None:
    run, key = signed
    damaged = _rezip(zip_bundle(run), tmp_path / "damaged.zip", drop=f"{RUN_ID}/results.json")
    _damage(damaged, f"{RUN_ID}/logs/dev1/commands.log")
    problems = verify_bundle(damaged, _pub(key)).problems
    # The reason is the reader's own; and the files after the damaged one are still checked.
    assert len(problems) == 2 and re.fullmatch(r"logs/dev1/commands\.log: unreadable \((Error -3|Bad CRC).+\)",
                                               problems[0]), problems
    assert problems[1] == "results.json: missing"


def test_a_damaged_manifest_member_is_unreadable_not_a_crash(
        signed: tuple[Path, SigningKey], tmp_path: Path) -> None:
    run, key = signed
    zipped = zip_bundle(run)
    _damage(zipped, f"{RUN_ID}/{MANIFEST}")
    (problem,) = verify_bundle(zipped, _pub(key)).problems
    assert re.fullmatch(r"manifest\.json: unreadable \((Error -3|Bad CRC).+\)", problem), problem


# -- the manifest and the signature themselves -----------------------------------------------------------


def test_a_missing_manifest_is_one_problem_for_a_folder_and_a_zip(
        signed: tuple[Path, SigningKey], tmp_path: Path) -> None:
    run, key = signed
    zipped = _rezip(zip_bundle(run), tmp_path / "nomanifest.zip", drop=f"{RUN_ID}/{MANIFEST}")
    (run / MANIFEST).unlink()
    for path in (run, zipped):
        result = verify_bundle(path, _pub(key))
        assert (result.ok, result.problems, result.checked) == (False, ["manifest.json: missing"], 0)


def test_a_manifest_that_is_not_json_is_named_as_such(signed: tuple[Path, SigningKey]) -> None:
    run, key = signed
    (run / MANIFEST).write_bytes(b"<html>not a manifest</html>")
    (problem,) = verify_bundle(run, _pub(key)).problems
    assert problem.startswith("manifest.json: not a harness manifest: not JSON (")


def test_a_bad_embedded_key_is_a_bad_bundle(signed: tuple[Path, SigningKey]) -> None:
    run, _ = signed
    manifest = json.loads((run / MANIFEST).read_bytes())
    manifest["signature"]["public_key"] = "ssh-ed25519 AAAA"
    (run / MANIFEST).write_text(json.dumps(manifest))
    (problem,) = verify_bundle(run).problems
    assert problem.startswith("manifest.json: not a harness manifest: signature.public_key: not an Ed25519")


def test_a_signature_missing_garbled_or_by_another_key_is_named(signed: tuple[Path, SigningKey], tmp_path: Path) -> None:
    run, key = signed
    other = _key(tmp_path, "other")
    result = verify_bundle(run, _pub(other))
    assert result.problems == [f"manifest.sig: bad signature over manifest.json (key {other.id})"]
    assert result.key_id == other.id
    good = (run / SIGNATURE).read_text().strip()
    (run / SIGNATURE).write_text(good[:10] + "!" + good[10:] + "\n")  # strict base64: no stray characters
    assert verify_bundle(run, _pub(key)).problems == [
        f"manifest.sig: bad signature over manifest.json (key {key.id})"]
    (run / SIGNATURE).write_text("not base64 !!\n")
    assert verify_bundle(run, _pub(key)).problems == [
        f"manifest.sig: bad signature over manifest.json (key {key.id})"]
    (run / SIGNATURE).unlink()
    result = verify_bundle(run, _pub(key))
    assert (result.problems, result.checked) == (["manifest.sig: missing"], len(FILES))  # files still checked


def test_a_signature_is_read_up_to_its_bound_and_no_further(signed: tuple[Path, SigningKey], tmp_path: Path) -> None:
    run, key = signed
    text = (run / SIGNATURE).read_text().strip()
    (run / SIGNATURE).write_text(text + " " * (MAX_SIGNATURE_BYTES - len(text)))  # exactly at the bound
    assert verify_bundle(run, _pub(key)).problems == []
    zipped = zip_bundle(run, tmp_path / "at-bound.zip")
    assert verify_bundle(zipped, _pub(key)).problems == []
    (run / SIGNATURE).write_text(text + " " * (MAX_SIGNATURE_BYTES + 1 - len(text)))
    too_big = "manifest.sig: larger than 4,096 bytes: not a harness manifest.sig"
    assert verify_bundle(run, _pub(key)).problems == [too_big]
    assert verify_bundle(zip_bundle(run, tmp_path / "past-bound.zip"), _pub(key)).problems == [too_big]


# -- what is never opened ----------------------------------------------------------------------------------


def test_a_listed_file_that_is_a_link_a_fifo_or_under_a_linked_folder_is_refused(
        signed: tuple[Path, SigningKey], tmp_path: Path) -> None:
    run, key = signed
    (tmp_path / "secret").write_bytes(FILES["results.json"])  # same bytes: only the link itself is wrong
    (run / "results.json").unlink()
    (run / "results.json").symlink_to(tmp_path / "secret")
    (run / "report.html").unlink()
    os.mkfifo(run / "report.html")  # opening it for reading would block verify forever
    shutil.move(run / "journal", tmp_path / "journal")
    (run / "journal").symlink_to(tmp_path / "journal")
    assert verify_bundle(run, _pub(key)).problems == [
        "journal/dev1.jsonl: not a regular file inside the bundle",
        "report.html: not a regular file inside the bundle",
        "results.json: not a regular file inside the bundle",
    ]


def test_a_huge_manifest_in_a_folder_is_refused_without_reading_it_whole(signed: tuple[Path, SigningKey]) -> None:
    run, key = signed
    with (run / MANIFEST).open("r+b") as fh:
        fh.truncate(64 << 30)  # 64 GiB, sparse: reading it whole would exhaust memory
    assert verify_bundle(run, _pub(key)).problems == [
        "manifest.json: larger than 16,777,216 bytes: not a harness manifest.json"]


def test_a_manifest_that_is_a_link_is_refused(signed: tuple[Path, SigningKey], tmp_path: Path) -> None:
    run, key = signed
    shutil.move(run / MANIFEST, tmp_path / MANIFEST)
    (run / MANIFEST).symlink_to(tmp_path / MANIFEST)
    assert verify_bundle(run, _pub(key)).problems == ["manifest.json: not a regular file inside the bundle"]


def test_what_is_neither_a_folder_nor_a_zip_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError) as caught:
        verify_bundle(tmp_path / "notes.txt")
    assert str(caught.value) == f"{tmp_path / 'notes.txt'}: neither a run folder nor a zip bundle"
    with pytest.raises(ConfigError) as caught:
        verify_bundle(tmp_path / "absent.zip")
    assert str(caught.value) == f"{tmp_path / 'absent.zip'}: no such bundle"


def test_a_problem_makes_the_verification_fail() -> None:
    result = Verification()
    assert result.ok and result.problems == []
    result.problem("x: missing")
    assert (result.ok, result.problems) == (False, ["x: missing"])
