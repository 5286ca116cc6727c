"""The one write-then-rename: a file is the old one or the new one, whole, and no temporary is left,
whatever fails; two writers of one file at once never share a temporary file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from harness.atomic_file import atomic_output, replace_durably, temp_name, write_atomic


def test_a_write_replaces_the_file_whole_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    target.write_text("old")
    assert write_atomic(target, "new\n") == target
    assert write_atomic(tmp_path / "b.bin", b"\x00\xff", fsync=False).read_bytes() == b"\x00\xff"
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.bin", "run.json"]


def test_a_failure_midway_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target, "w") as out:
        out.write("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_failed_write_names_the_target(tmp_path: Path) -> None:
    target = tmp_path / "junit.xml"
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "\ud800")  # a lone surrogate cannot be UTF-8
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_two_writers_at_once_each_have_their_own_temporary(tmp_path: Path) -> None:
    target = tmp_path / "props"
    assert temp_name(target) != temp_name(target)
    inside = threading.Barrier(2, timeout=10)

    def write(text: str) -> None:
        with atomic_output(target, "w", fsync=False) as out:
            out.write(text * 1000)
            inside.wait()  # both are writing their temporary file now

    threads = [threading.Thread(target=write, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert target.read_text() in ("a" * 1000, "b" * 1000)
    assert [p.name for p in tmp_path.iterdir()] == ["props"]


def test_a_whole_file_is_put_in_place(tmp_path: Path) -> None:
    part = tmp_path / ".pulled.part"
    part.write_bytes(b"checked")
    replace_durably(part, tmp_path / "pulled")
    assert (tmp_path / "pulled").read_bytes() == b"checked" and not part.exists()
