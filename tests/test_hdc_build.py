"""The hdc peers' build: a cache keyed by the sources' hash, reused when they are unchanged, and one clear
line when the sources are missing or unusable. (The build itself is the session's, see hdc_peers.)"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from harness.lab.hdc import build
from harness.lab.hdc.build import HdcBinaries, HdcBuildError, build_hdc, resolve_source, source_key

from .hdc_peers import hdc_binaries

__all__ = ["hdc_binaries"]


def test_second_call_reuses_the_cache(hdc_binaries: HdcBinaries) -> None:
    again = build_hdc()
    assert again.built is False and (again.hdc, again.hdcd) == (hdc_binaries.hdc, hdc_binaries.hdcd)
    for binary in (again.hdc, again.hdcd):  # never run here: a bare hdc command may start a server
        assert binary.read_bytes()[:4] == b"\x7fELF" and os.access(binary, os.X_OK)
    assert build.cached() == again


def test_key_follows_the_sources_not_their_place(tmp_path: Path) -> None:
    original = resolve_source()
    copy = tmp_path / "hdc"
    shutil.copytree(original, copy)
    assert source_key(copy) == source_key(original)  # another checkout of the same files: same build
    (copy / "Makefile").chmod(0o644)
    (copy / "Makefile").write_text((copy / "Makefile").read_text() + "\n# changed\n")
    assert source_key(copy) != source_key(original)
    assert build.cached(copy, tmp_path / "cache") is None  # never built: nothing pretends it is


def test_a_tarball_of_the_folder_is_a_source(tmp_path: Path) -> None:
    tarball = tmp_path / "hdc-peers.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(resolve_source(), arcname="hdc")
    assert resolve_source(tarball) == tarball
    folder = build._unpack(tarball, tmp_path / "unpacked")
    assert (folder / "build.sh").is_file() and folder.name == "hdc"


def test_a_tarball_reaching_outside_is_refused(tmp_path: Path) -> None:
    tarball = tmp_path / "evil.tar"
    with tarfile.open(tarball, "w") as tar:
        info = tarfile.TarInfo("../outside.sh")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"boom"))
    with pytest.raises(HdcBuildError, match="cannot unpack"):
        build._unpack(tarball, tmp_path / "dest")
    assert not (tmp_path / "outside.sh").exists()


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p / "absent", "no such file or folder"),
    (lambda p: p, "no build.sh in this folder"),
    (lambda p: (p / "notes.txt").write_text("x") and p / "notes.txt", "expected a folder or a tarball"),
])
def test_unusable_sources_are_one_line_and_exit_2(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    source = make(tmp_path)
    with pytest.raises(HdcBuildError, match=message):
        resolve_source(source)
    out = subprocess.run([sys.executable, "-m", "harness.lab.hdc.build", str(source)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and message in out.stderr and str(source) in out.stderr
