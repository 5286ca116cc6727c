"""Files written whole or not at all: into a temporary name beside the target, renamed over it at the
end. On any failure (a full disk above all) the temporary file is removed and the target is untouched,
so a crash or ENOSPC never leaves a half-written record or a stray `.tmp` behind."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def temp_name(target: Path) -> Path:
    """Hidden, and unique to this process: two writers of one file never share a temporary file."""
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


@contextlib.contextmanager
def atomic_output(target: Path, mode: str = "wb", *, fsync: bool = False,
                  **open_args: Any) -> Iterator[IO[Any]]:
    """An open file whose content becomes `target` when the block ends without an error."""
    tmp = temp_name(target)
    try:
        with open(tmp, mode, **open_args) as out:
            yield out
            out.flush()
            if fsync:
                os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.filename is None:
            # A failed write() names no file; the one line the user gets should.
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        raise


def write_atomic(target: Path, data: bytes | str, *, fsync: bool = False, encoding: str = "utf-8",
                 errors: str = "strict") -> Path:
    if isinstance(data, str):
        with atomic_output(target, "w", fsync=fsync, encoding=encoding, errors=errors) as out:
            out.write(data)
    else:
        with atomic_output(target, "wb", fsync=fsync) as out:
            out.write(data)
    return target
