"""Exclusive locks between harness processes on one lab host: a device is driven by one run (or one
`exec`/`push`/`pull`) at a time, and one `lab up`/`lab down` at a time works on a lab's state dir.

A lock is a file held with flock(2). The kernel releases it when its holder exits, however it exits,
so a crash never leaves a device locked. While held, the file says who holds it (pid, user, host, what,
run id, since); what a dead holder left in the file is stale and is simply overwritten by the next one.

Device locks live in `$HARNESS_LOCK_DIR`, else `/tmp/harness-locks`: one folder per host, shared by
every user of it (made world-writable and sticky, like /tmp), one `device.<name>.lock` per device name.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import json
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

from .errors import HarnessError
from .waiting import Deadline

LOCK_DIR_ENV = "HARNESS_LOCK_DIR"
DEFAULT_LOCK_DIR = Path("/tmp/harness-locks")
WAIT_INTERVAL = 0.05  # between tries while waiting for a lock (flock has no timeout of its own)
MAX_HOLDER_BYTES = 4096

# Descriptors of the locks this process holds. A forked child (a run's workers) closes its copies at
# once, so a lock is held by its holder alone and is free the moment that process is gone.
_held: set[int] = set()


def _close_in_child() -> None:
    for fd in list(_held):
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)


def lock_dir() -> Path:
    return Path(os.environ.get(LOCK_DIR_ENV) or DEFAULT_LOCK_DIR)


def _user() -> str:
    with contextlib.suppress(Exception):
        return os.environ.get("USER") or getpass.getuser()
    return str(os.getuid())


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock, as written in its file."""

    pid: int
    user: str
    host: str
    action: str  # "run", "resume", "retry", "exec", "push", "pull", "lab up", "lab down"
    run_id: str | None
    since: float

    @classmethod
    def me(cls, action: str, run_id: str | None = None) -> LockHolder:
        return cls(pid=os.getpid(), user=_user(), host=socket.gethostname(), action=action, run_id=run_id,
                   since=time.time())

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> LockHolder | None:
        """The holder a lock file names; None for an empty or unreadable one (anyone may write to it)."""
        try:
            raw = json.loads(data)
            return cls(pid=int(raw["pid"]), user=str(raw["user"])[:64], host=str(raw["host"])[:128],
                       action=str(raw["action"])[:32], run_id=None if raw.get("run_id") is None
                       else str(raw["run_id"])[:100], since=float(raw["since"]))
        except (ValueError, TypeError, KeyError):
            return None

    @property
    def alive(self) -> bool:
        """Whether the holder's process still runs (a holder on another host is taken to)."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def describe(self) -> str:
        what = f"{self.action} {self.run_id}" if self.run_id else self.action
        since = time.strftime("%H:%M:%S", time.localtime(self.since))
        return f"`harness {what}` of user {self.user} (pid {self.pid} on {self.host}, since {since})"


class LockBusy(HarnessError):
    """Someone else holds the lock (lab trouble: exit 3)."""

    def __init__(self, what: str, path: Path, holder: LockHolder | None, waited: float,
                 hint: str = "") -> None:
        who = holder.describe() if holder else "another harness process (it did not say who)"
        if holder is not None and not holder.alive:
            who += ", whose process is gone: a process it left behind still holds the lock"
        after = f" (waited {waited:g}s)" if waited > 0 else ""
        super().__init__(f"{what} is in use by {who}{after}{'; ' + hint if hint else ''} [lock {path}]")
        self.path = path
        self.holder = holder


def _open_lock_file(path: Path) -> int:
    """Open (or make) a lock file that every user of the host can flock. An existing file is opened
    without O_CREAT (fs.protected_regular refuses O_CREAT on another user's file in a sticky folder);
    a file we may not write is still lockable read-only."""
    for _ in range(3):
        try:
            return os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except PermissionError:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            pass
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            continue  # made by someone else in between: open theirs
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o666)  # whatever our umask: the next holder may be another user
        return fd
    raise OSError(errno.EAGAIN, "lock file keeps changing", str(path))


class FileLock:
    """One exclusive flock on `path`, with the holder written into the file while it is held."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._fd: int | None = None
        self.stale: LockHolder | None = None  # the dead holder whose leftover file we took over

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> LockHolder | None:
        """Who the file says holds it (may be stale: see LockHolder.alive)."""
        try:
            with open(self.path, "rb") as fh:
                return LockHolder.from_bytes(fh.read(MAX_HOLDER_BYTES))
        except OSError:
            return None

    def try_acquire(self, holder: LockHolder) -> bool:
        assert self._fd is None, "already held"
        fd = _open_lock_file(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        _held.add(fd)
        # Ours now: whatever the file said before came from a holder that is gone (stale).
        with contextlib.suppress(OSError):
            self.stale = LockHolder.from_bytes(os.pread(fd, MAX_HOLDER_BYTES, 0))
            os.ftruncate(fd, 0)
            os.pwrite(fd, holder.to_bytes(), 0)
        return True

    def acquire(self, holder: LockHolder, wait: float = 0.0, *, hint: str = "",
                on_wait: Callable[[LockHolder | None], None] | None = None) -> None:
        """Take the lock, waiting up to `wait` seconds for its holder to let go; else LockBusy."""
        deadline = Deadline(wait)
        told = False
        while not self.try_acquire(holder):
            if deadline.expired:
                raise LockBusy(self.what, self.path, self.holder(), wait, hint)
            if on_wait is not None and not told:
                on_wait(self.holder())
                told = True
            time.sleep(min(WAIT_INTERVAL, deadline.remaining()))  # the poll interval; flock cannot time out

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _held.discard(fd)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # before unlocking: the next reader never sees us as the holder
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _shared_dir(path: Path) -> Path:
    """The lock folder, made if missing; the default one is shared by every user (mode 1777)."""
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        return path
    if path == DEFAULT_LOCK_DIR:
        os.chmod(path, 0o1777)
    return path


def device_lock(name: str, directory: Path | None = None) -> FileLock:
    """The lock of the device called `name` in the inventory (a file name safe for any device name)."""
    folder = _shared_dir(directory or lock_dir())
    return FileLock(folder / f"device.{quote(name, safe='')[:200]}.lock", f"device {name!r}")


@contextlib.contextmanager
def hold_devices(names: Sequence[str], holder: LockHolder, wait: float = 0.0, *, hint: str = "",
                 on_wait: Callable[[str, LockHolder | None], None] | None = None,
                 on_stale: Callable[[str, LockHolder], None] | None = None) -> Iterator[None]:
    """Hold every named device's lock for the block. Taken in name order, so two runs that want some of
    the same devices never wait for each other in a circle; `wait` is the total for all of them."""
    deadline = Deadline(wait)
    locks: list[FileLock] = []
    try:
        for name in sorted(set(names)):
            lock = device_lock(name)
            lock.acquire(holder, deadline.remaining(), hint=hint,
                         on_wait=(lambda h, n=name: on_wait(n, h)) if on_wait else None)  # type: ignore[misc]
            locks.append(lock)
            if lock.stale is not None and on_stale is not None:
                on_stale(name, lock.stale)
        yield
    finally:
        for lock in reversed(locks):
            lock.release()
