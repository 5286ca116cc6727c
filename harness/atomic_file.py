"""Files written whole or not at all: into a temporary name beside the target, renamed over it at the
end. On any failure (a full disk above all) the temporary file is removed and the target is untouched,
so a crash or ENOSPC never leaves a half-written record or a stray `.tmp` behind.

This is the one write-then-rename of the package. By default it is durable as well: the file's data
is flushed to the disk before the rename, and the folder after it, so a power cut leaves the old file
or the new one, never an empty one under the new name. `fsync=False` is for scratch state that dies
with its process anyway (a simulated device's property table)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def temp_name(target: Path) -> Path:
    """Hidden, and unique to this call: two writers of one file (processes or threads) never share one."""
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(source: Path | str, target: Path, *, fsync: bool = True) -> None:
    """Rename a file that is already whole (a checked download, an upload) over `target`: its data on
    the disk first, then the rename, then the folder's record of it."""
    if fsync:
        fd = os.open(source, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(source, target)
    if fsync:
        fsync_dir(Path(target).parent)


@contextlib.contextmanager
def atomic_output(target: Path, mode: str = "wb", *, fsync: bool = True,
                  **open_args: Any) -> Iterator[IO[Any]]:
    """An open file whose content becomes `target` when the block ends without an error."""
    target = Path(target)
    tmp = temp_name(target)
    try:
        with open(tmp, mode, **open_args) as out:
            yield out
            out.flush()
            if fsync:
                os.fsync(out.fileno())
        os.replace(tmp, target)
        if fsync:
            fsync_dir(target.parent)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.filename is None:
            # A failed write() names no file; the one line the user gets should.
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        raise


def write_atomic(target: Path, data: bytes | str, *, fsync: bool = True, encoding: str = "utf-8",
                 errors: str = "strict") -> Path:
    if isinstance(data, str):
        with atomic_output(target, "w", fsync=fsync, encoding=encoding, errors=errors) as out:
            out.write(data)
    else:
        with atomic_output(target, "wb", fsync=fsync) as out:
            out.write(data)
    return Path(target)
