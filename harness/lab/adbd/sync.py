"""The `sync:` service of the simulated adbd (protocol v1: STAT, LIST, SEND, RECV, QUIT).

Faults: while `truncate()` says so, a RECV sends only the first half of the file (then DONE, as if
that were all), and a SEND keeps only the first half of what arrived (and still answers OKAY); while
`pace()` gives seconds, each DATA chunk of a transfer waits that long (a slow link that still moves)."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from harness.lab.adbd.streams import Stream
from harness.transports.adb_wire import (
    SYNC_DENT,
    SYNC_HEADER,
    SYNC_MAX_DATA,
    SYNC_MAX_PATH,
    SYNC_STAT_REPLY,
    sync_fail,
    sync_frame,
)

from ...atomic_file import replace_durably


class _Closed(Exception):
    pass


class _StreamReader:
    """Exact-size reads over the WRTE payloads of one stream."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.buf = bytearray()

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            data = self.stream.read()
            if data is None:
                raise _Closed
            self.buf += data
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


class _Writer:
    """Collects reply frames and sends them a payload at a time."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.buf = bytearray()

    def add(self, frame: bytes) -> None:
        self.buf += frame
        if len(self.buf) >= self.stream.conn.max_payload:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            data, self.buf = bytes(self.buf), bytearray()
            if not self.stream.write(data):
                raise _Closed


# Where a device path lives on the host; ValueError for a path the device does not own (access denied).
SyncPathMap = Callable[[str], Path]
_DENIED = Path("/proc/self/fdinfo/harness-sync-denied/x")  # a path no open() or stat() can reach


def serve_sync(stream: Stream, cwd: Path, map_path: SyncPathMap | None = None, *,
               truncate: Callable[[], bool] = lambda: False, pace: Callable[[], float] = lambda: 0.0) -> None:
    """`map_path` (the lab's sandbox) places device paths; without it they are taken under `cwd`.
    `truncate` is asked at each transfer whether the truncate_transfers fault is on, `pace` how long
    each chunk waits."""
    closed = threading.Event()
    stream.on_close(closed.set)

    def slow_down() -> None:
        if (seconds := pace()) > 0:
            writer.flush()
            closed.wait(seconds)  # the simulated link's slowness; a closed stream ends it at once

    def resolve(path: str) -> Path:
        if map_path is None:
            return cwd / path
        try:
            return map_path(path)
        except ValueError:
            return _DENIED

    reader, writer = _StreamReader(stream), _Writer(stream)
    try:
        while True:
            ident, length = SYNC_HEADER.unpack(reader.read_exact(SYNC_HEADER.size))
            if ident == b"QUIT":
                break
            if length > SYNC_MAX_PATH:
                writer.add(sync_fail("path too long"))
                writer.flush()
                break
            path = reader.read_exact(length).decode("utf-8", errors="surrogateescape")
            if ident == b"STAT":
                _stat(writer, resolve(path))
            elif ident == b"LIST":
                _list(writer, resolve(path))
            elif ident == b"SEND":
                _send(reader, writer, resolve, path, truncate(), slow_down)
            elif ident == b"RECV":
                _recv(writer, resolve(path), truncate(), slow_down)
            else:
                writer.add(sync_fail(f"unknown sync request {ident!r}"))
                writer.flush()
                break
            writer.flush()
    except _Closed:
        pass
    stream.close()


def _stat(writer: _Writer, path: Path) -> None:
    try:
        st = os.lstat(path)
        writer.add(SYNC_STAT_REPLY.pack(b"STAT", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime)))
    except OSError:
        writer.add(SYNC_STAT_REPLY.pack(b"STAT", 0, 0, 0))


def _list(writer: _Writer, path: Path) -> None:
    with contextlib.suppress(OSError), os.scandir(path) as entries:
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            name = os.fsencode(entry.name)
            writer.add(
                SYNC_DENT.pack(b"DENT", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime), len(name))
                + name
            )
    writer.add(SYNC_DENT.pack(b"DONE", 0, 0, 0, 0))


def _send(reader: _StreamReader, writer: _Writer, resolve: Callable[[str], Path], spec: str,
          truncate: bool, slow_down: Callable[[], None]) -> None:
    name, _, mode_text = spec.rpartition(",")
    if not name:
        name, mode_text = spec, "33188"  # no mode given: 0100644
    target = resolve(name)
    tmp = target.with_name(f".{target.name}.adbd-partial")
    error: str | None = None
    out = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        out = open(tmp, "wb")  # noqa: SIM115 - closed below, after DONE
    except OSError as exc:
        error = f"couldn't create file: {exc.strerror}"
    mtime = 0
    # The host streams all DATA before it reads a reply, so a failure is reported after DONE.
    try:
        while True:
            ident, value = SYNC_HEADER.unpack(reader.read_exact(SYNC_HEADER.size))
            if ident == b"DONE":
                mtime = value
                break
            if ident != b"DATA" or value > SYNC_MAX_DATA:
                error = error or f"invalid data message {ident!r}"
                break
            chunk = reader.read_exact(value)
            slow_down()
            if out is not None and error is None:
                try:
                    out.write(chunk)
                except OSError as exc:
                    error = f"write failed: {exc.strerror}"
    except _Closed:
        # The host went away mid-file: as adbd does, the partial file goes with it.
        if out is not None:
            out.close()
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if out is not None:
        out.close()
    if error is None:
        try:
            if truncate:
                os.truncate(tmp, os.stat(tmp).st_size // 2)
            os.chmod(tmp, int(mode_text) & 0o7777 or 0o644)
            os.utime(tmp, (mtime, mtime))
            replace_durably(tmp, target, fsync=False)  # the device's own write: as adbd does it
        except (OSError, ValueError) as exc:
            error = f"couldn't finish file: {exc}"
    if error is None:
        writer.add(sync_frame(b"OKAY", 0))
    else:
        with contextlib.suppress(OSError):
            tmp.unlink()
        writer.add(sync_fail(error))


def _recv(writer: _Writer, path: Path, truncate: bool, slow_down: Callable[[], None]) -> None:
    try:
        if stat.S_ISDIR(os.stat(path).st_mode):
            raise IsADirectoryError(21, "Is a directory")
        src = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        writer.add(sync_fail(exc.strerror or str(exc)))
        return
    with src:
        left = os.fstat(src.fileno()).st_size // 2 if truncate else None
        while chunk := src.read(SYNC_MAX_DATA if left is None else min(left, SYNC_MAX_DATA)):
            slow_down()
            writer.add(sync_frame(b"DATA", len(chunk), chunk))
            if left is not None:
                left -= len(chunk)
    writer.add(sync_frame(b"DONE", 0))
