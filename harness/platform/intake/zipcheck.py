"""The zip's structure, judged from its central directory alone (nothing is extracted, anywhere).

Refused: absolute names, `..`, backslashes or control characters in names, symlinks and other
special files, duplicate names, encrypted entries, compression other than stored/deflate, entries
whose data overlap (a "quoted overlap" zip bomb), too many entries, too much uncompressed data, or
an entry that expands too much for its size. The verify step that follows reads entries only
through zipfile, which stops at each entry's declared size and checks its CRC, so a lying size
cannot make it read more."""

from __future__ import annotations

import re
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

from ..config import Limits
from .refusal import Refused, Step, summarise

MANIFEST = "manifest.json"
_UNIX = 3  # ZipInfo.create_system of a zip made on a Unix-like system
_LOCAL_HEADER = 30
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")
_ALLOWED_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


@dataclass(frozen=True)
class ZipLayout:
    prefix: str  # the folder holding manifest.json ("" when it is at the top)
    entries: int
    uncompressed: int


def _name_problem(name: str) -> str | None:
    if not name:
        return "an entry without a name"
    if _BAD_CHARS.search(name):
        return f"{name!r}: a control character or backslash in the name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return f"{name!r}: an absolute name"
    parts = name.rstrip("/").split("/")
    if any(p == ".." for p in parts):
        return f"{name!r}: '..' in the name"
    if any(p in ("", ".") for p in parts):
        return f"{name!r}: an empty or '.' part in the name"
    return None


def _kind_problem(info: zipfile.ZipInfo) -> str | None:
    mode = info.external_attr >> 16
    # Type bits absent (mode 0o600 alone, as many zip writers leave it): a regular file.
    if info.create_system == _UNIX and stat.S_IFMT(mode):
        if stat.S_ISLNK(mode):
            return f"{info.filename!r}: a symbolic link"
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return f"{info.filename!r}: a special file (mode {stat.filemode(mode)})"
    if info.flag_bits & 0x1:
        return f"{info.filename!r}: encrypted"
    if info.compress_type not in _ALLOWED_METHODS:
        return f"{info.filename!r}: compression method {info.compress_type} (only stored and deflate)"
    return None


def _overlaps(infos: Sequence[zipfile.ZipInfo], archive_size: int) -> str | None:
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for here, after in zip(ordered, [*ordered[1:], None], strict=True):
        end = here.header_offset + _LOCAL_HEADER + len(here.orig_filename.encode("utf-8", "replace"))
        end += here.compress_size
        limit = after.header_offset if after is not None else archive_size
        if end > limit:
            return f"{here.filename!r}: its data overlap the next entry"
    return None


def check_layout(infos: Sequence[zipfile.ZipInfo], archive_size: int, limits: Limits) -> ZipLayout:
    """Raise Refused(Step.ZIP) for the first kind of structural problem; return where the run lies."""
    if len(infos) > limits.max_entries:
        raise Refused(Step.ZIP, f"{len(infos)} entries (at most {limits.max_entries})")
    problems: list[str] = []
    seen: set[str] = set()
    total = 0
    for info in infos:
        problem = _name_problem(info.filename) or _kind_problem(info)
        if problem:
            problems.append(problem)
            continue
        key = info.filename.rstrip("/")
        if key in seen:
            problems.append(f"{info.filename!r}: in the zip twice")
        seen.add(key)
        total += info.file_size
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size // max(info.compress_size, 1)
            problems.append(
                f"{info.filename!r}: expands {ratio}x ({info.file_size} bytes; at most {limits.max_ratio}x)"
            )
    if problems:
        raise Refused(Step.ZIP, summarise(problems))
    if total > limits.max_uncompressed:
        raise Refused(Step.ZIP, f"{total} bytes uncompressed (at most {limits.max_uncompressed})")
    overlap = _overlaps(infos, archive_size)
    if overlap:
        raise Refused(Step.ZIP, overlap)
    manifests = [i.filename for i in infos if i.filename == MANIFEST or i.filename.endswith("/" + MANIFEST)]
    if not manifests:
        raise Refused(Step.MANIFEST, f"{MANIFEST}: missing (not a harness bundle)")
    prefix = min(manifests, key=len)[: -len(MANIFEST)]
    return ZipLayout(prefix=prefix, entries=len(infos), uncompressed=total)
