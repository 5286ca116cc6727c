"""File transfer over an SFTP session, whole or nothing on both ends: whole-transfer deadlines; a pull
checked against the remote file's size (and SHA-256, where the device can say it cheaply) before it
lands, a push written under a temporary remote name, checked, then renamed over the target. A failed
transfer leaves no partial file at either end."""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import secrets
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

import paramiko

from ..atomic_file import replace_durably
from ..waiting import Deadline


class TransferTimeout(Exception):
    """Raised from paramiko's progress callback to abandon a transfer past its deadline."""


def _progress_check(deadline: Deadline) -> Callable[[int, int], None]:
    def check(done: int, total: int) -> None:
        if deadline.expired:
            raise TransferTimeout()

    return check


# The device's SHA-256 of a remote path, or None where it cannot say (no sha256sum, say).
RemoteDigest = Callable[[str, Deadline], "str | None"]
# Above this, hashing on the device costs more than it is worth; the size check still holds.
DIGEST_LIMIT = 256 * 1024 * 1024


class Damaged(Exception):
    """What arrived is not what was sent: the message says how."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check_digest(remote: str, local: Path, size: int, digest: RemoteDigest, deadline: Deadline) -> None:
    if size > DIGEST_LIMIT:
        return
    theirs = digest(remote, deadline)
    if theirs is not None and theirs != _sha256(local):
        raise Damaged(f"SHA-256 on the device {theirs} differs from the local file's")


def put(sftp: paramiko.SFTPClient, local: Path, remote: str, deadline: Deadline,
        digest: RemoteDigest) -> None:
    folder, name = posixpath.split(remote)
    part = posixpath.join(folder, f".{name}.{secrets.token_hex(4)}.part")
    try:
        # confirm=True stats the remote file and raises if its size differs from what was sent.
        sftp.put(str(local), part, callback=_progress_check(deadline), confirm=True)
        _check_digest(part, local, local.stat().st_size, digest, deadline)
        try:
            sftp.posix_rename(part, remote)  # atomic, over an existing file (OpenSSH's extension)
        except OSError:
            with contextlib.suppress(OSError):  # plain SFTP rename refuses an existing target
                sftp.remove(remote)
            sftp.rename(part, remote)
        part = ""
    finally:
        if part:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                sftp.remove(part)


def get(sftp: paramiko.SFTPClient, remote: str, local: Path, deadline: Deadline,
        digest: RemoteDigest) -> None:
    # Into a temp file beside the target first: a failed pull must not leave a truncated file, and
    # a missing remote file must not leave an empty one. paramiko checks only the size it received
    # against what it wrote: the remote size (and digest) is the measure here.
    size = sftp.stat(remote).st_size
    fd, part = tempfile.mkstemp(prefix=f".{local.name}.", suffix=".part", dir=local.parent)
    os.close(fd)
    try:
        sftp.get(remote, part, callback=_progress_check(deadline))
        got = os.stat(part).st_size
        mode = sftp.stat(remote).st_mode
        if size is not None and mode is not None and stat.S_ISREG(mode) and got != size:
            raise Damaged(f"received {got} of the {size} bytes the device has")
        _check_digest(remote, Path(part), got, digest, deadline)
        replace_durably(part, local)
    finally:
        if os.path.exists(part):
            os.unlink(part)


def reason(exc: BaseException) -> str:
    """"No such file", "Permission denied", ... rather than "[Errno 2] No such file"."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
