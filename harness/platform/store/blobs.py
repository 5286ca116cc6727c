"""Content-addressed bundle files: `bundles/ab/abcdef....zip`, named by the SHA-256 of their bytes.

An upload is streamed to `incoming/` (a name of our own, never one from the client), fsynced, checked,
then renamed into place and the folder fsynced: a file under `bundles/` is always complete, whatever
kills the process. A crashed upload leaves only a partial file in `incoming/`, which the next start
removes when the process that wrote it is gone."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ...atomic_file import replace_durably

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
STALE_PARTIAL_S = 24 * 3600  # another host's partial this old is abandoned


@dataclass
class Incoming:
    """An upload being received: its partial file and the running digest."""

    path: Path
    handle: BinaryIO
    size: int = 0

    def __post_init__(self) -> None:
        self._digest = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self.handle.write(chunk)
        self._digest.update(chunk)
        self.size += len(chunk)

    def finish(self) -> str:
        """Flush to disk; returns the SHA-256 of everything written."""
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        return self._digest.hexdigest()

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.handle.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class BlobStore:
    def __init__(self, bundles: Path, incoming: Path) -> None:
        self.bundles = bundles
        self.incoming_dir = incoming
        bundles.mkdir(parents=True, exist_ok=True)
        incoming.mkdir(parents=True, exist_ok=True)

    def path_of(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self.bundles / sha256[:2] / f"{sha256}.zip"

    def has(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def begin(self) -> Incoming:
        name = f"{socket.gethostname()}.{os.getpid()}.{secrets.token_hex(8)}.partial"
        path = self.incoming_dir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return Incoming(path, os.fdopen(fd, "wb"))

    def commit(self, incoming: Incoming, sha256: str) -> Path:
        """Move a finished, checked upload into place (the same bytes twice: one file)."""
        target = self.path_of(sha256)
        target.parent.mkdir(exist_ok=True)
        if target.is_file():
            incoming.discard()
            return target
        replace_durably(incoming.path, target)
        return target

    @contextlib.contextmanager
    def open(self, sha256: str) -> Iterator[BinaryIO]:
        with self.path_of(sha256).open("rb") as fh:
            yield fh

    def sweep_partials(self) -> list[Path]:
        """Remove partial uploads whose writer is gone: this host's dead processes, and any partial
        untouched for a day (another host's crash). Returns what was removed."""
        removed = []
        here = socket.gethostname()
        for path in self.incoming_dir.glob("*.partial"):
            # <host>.<pid>.<random>.partial; a host name may hold dots, so read from the right
            host_pid = path.name.removesuffix(".partial").rpartition(".")[0]
            host, _, pid_text = host_pid.rpartition(".")
            dead = False
            if host == here and pid_text.isdigit():
                dead = not _alive(int(pid_text))
            with contextlib.suppress(FileNotFoundError):
                if dead or time.time() - path.stat().st_mtime > STALE_PARTIAL_S:
                    path.unlink()
                    removed.append(path)
        return removed

    def complete_files(self) -> Iterator[tuple[str, Path]]:
        for path in self.bundles.glob("??/*.zip"):
            yield path.stem, path


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
