"""File transfer over an SFTP session: whole-transfer deadlines, size-checked results and no partial
local files after a failed pull."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import paramiko

from ..waiting import Deadline


class TransferTimeout(Exception):
    """Raised from paramiko's progress callback to abandon a transfer past its deadline."""


def _progress_check(deadline: Deadline) -> Callable[[int, int], None]:
    def check(done: int, total: int) -> None:
        if deadline.expired:
            raise TransferTimeout()

    return check


def put(sftp: paramiko.SFTPClient, local: Path, remote: str, deadline: Deadline) -> None:
    # confirm=True stats the remote file and raises if its size differs from what was sent.
    sftp.put(str(local), remote, callback=_progress_check(deadline), confirm=True)


def get(sftp: paramiko.SFTPClient, remote: str, local: Path, deadline: Deadline) -> None:
    # Into a temp file beside the target first: a failed pull must not leave a truncated file, and
    # a missing remote file must not leave an empty one. paramiko checks the size it received.
    fd, part = tempfile.mkstemp(prefix=f".{local.name}.", suffix=".part", dir=local.parent)
    os.close(fd)
    try:
        sftp.get(remote, part, callback=_progress_check(deadline))
        os.replace(part, local)
    finally:
        if os.path.exists(part):
            os.unlink(part)


def reason(exc: BaseException) -> str:
    """"No such file", "Permission denied", ... rather than "[Errno 2] No such file"."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
