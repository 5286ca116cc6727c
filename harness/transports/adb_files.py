"""Whole-or-nothing rules for adb file transfers, apart from the sync wire: temporary remote names,
the device's SHA-256 as `sha256sum` prints it, and the digest check. The same rule as SSH's
(ssh_sftp): a size check always, a device-side SHA-256 where it is cheap."""

from __future__ import annotations

import hashlib
import posixpath
import secrets
from pathlib import Path

from harness.errors import TransferError

from ..waiting import Deadline
from .ssh_sftp import DIGEST_LIMIT, RemoteDigest


def temporary_remote_name(remote: str) -> str:
    """A hidden name beside `remote` (same folder, so the rename stays on one filesystem)."""
    folder, name = posixpath.split(remote)
    return posixpath.join(folder, f".{name}.{secrets.token_hex(4)}.part")


def parse_sha256sum(exit_code: int, stdout: bytes) -> str | None:
    """The digest from `sha256sum PATH` output; None when the device could not say."""
    fields = stdout.split()
    if exit_code != 0 or not fields or len(fields[0]) != 64:
        return None
    try:
        int(fields[0], 16)
    except ValueError:
        return None
    return fields[0].decode().lower()


def sha256_file(path: Path) -> str:
    with path.open("rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def check_digest(remote: str, local: Path, digest: RemoteDigest, deadline: Deadline, what: str) -> None:
    """TransferError when the device's SHA-256 of `remote` differs from `local`'s (skipped for
    files above DIGEST_LIMIT, or when the device has no sha256sum: the size check still held)."""
    if local.stat().st_size > DIGEST_LIMIT:
        return
    theirs = digest(remote, deadline)
    if theirs is not None and theirs != sha256_file(local):
        raise TransferError(f"{what}: SHA-256 on the device {theirs} differs from the local file's")


def excerpt(stdout: bytes, stderr: bytes, limit: int = 200) -> str:
    text = (stderr.strip() or stdout.strip()).decode("utf-8", errors="replace")
    return text[:limit] or "no output"
