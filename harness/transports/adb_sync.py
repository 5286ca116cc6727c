"""A sync protocol v1 client (STAT, SEND, RECV, QUIT) on a socket already opened to `sync:`.

A transfer's timeout is for the whole of it: before each read or write the socket gets what is left of
the deadline, so a device that trickles (every chunk in time, the whole too slow) still times out."""

from __future__ import annotations

import contextlib
import os
import socket
import stat as stat_mod
from pathlib import Path
from typing import BinaryIO

from harness.errors import ConnectionLost, TransferError
from harness.waiting import Deadline

from .adb_host import recv_exact
from .adb_wire import SYNC_HEADER, SYNC_MAX_DATA, SYNC_STAT_REPLY, SyncStat, sync_frame


def _path_bytes(path: str) -> bytes:
    raw = path.encode()
    if len(raw) > 1024:
        raise TransferError(f"remote path too long ({len(raw)} bytes)")
    return raw


def _arm(sock: socket.socket, deadline: Deadline | None) -> socket.socket:
    """The socket, its timeout set to what is left of the deadline (TimeoutError once it has passed):
    for a sendall, whose timeout covers the whole call."""
    if deadline is not None:
        left = deadline.remaining()
        if left <= 0:
            raise TimeoutError("sync transfer deadline passed")
        sock.settimeout(left)
    return sock


MAX_FAIL_MESSAGE = 4096  # what of a device's FAIL reason is read (the socket is closed after it)


def _read_fail(sock: socket.socket, length: int, deadline: Deadline | None = None) -> str:
    return recv_exact(sock, min(length, MAX_FAIL_MESSAGE), deadline).decode("utf-8", errors="replace")


def sync_stat(sock: socket.socket, remote: str, deadline: Deadline | None = None) -> SyncStat:
    raw = _path_bytes(remote)
    _arm(sock, deadline).sendall(sync_frame(b"STAT", len(raw), raw))
    ident, mode, size, mtime = SYNC_STAT_REPLY.unpack(recv_exact(sock, SYNC_STAT_REPLY.size, deadline))
    if ident != b"STAT":
        raise ConnectionLost(f"sync: unexpected reply {ident!r} to STAT")
    return SyncStat(mode, size, mtime)


def sync_send(sock: socket.socket, local: Path, remote: str, deadline: Deadline | None = None) -> int:
    """Upload a file; returns its size. A FAIL from the device raises TransferError."""
    try:
        st = os.stat(local)
        src = open(local, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise TransferError(f"cannot read {local}: {exc.strerror}") from None
    spec = _path_bytes(f"{remote},{stat_mod.S_IMODE(st.st_mode) | stat_mod.S_IFREG}")
    _arm(sock, deadline).sendall(sync_frame(b"SEND", len(spec), spec))
    with src:
        while chunk := src.read(SYNC_MAX_DATA):
            _arm(sock, deadline).sendall(sync_frame(b"DATA", len(chunk), chunk))
    _arm(sock, deadline).sendall(sync_frame(b"DONE", int(st.st_mtime)))
    ident, value = SYNC_HEADER.unpack(recv_exact(sock, SYNC_HEADER.size, deadline))
    if ident == b"FAIL":
        raise TransferError(f"push to {remote} failed: {_read_fail(sock, value, deadline)}")
    if ident != b"OKAY":
        raise TransferError(f"push to {remote}: unexpected reply {ident!r}")
    return st.st_size


def sync_recv(sock: socket.socket, remote: str, out: BinaryIO, deadline: Deadline | None = None) -> int:
    """Download a file into `out`; returns the bytes received. The caller decides whether it lands."""
    raw = _path_bytes(remote)
    _arm(sock, deadline).sendall(sync_frame(b"RECV", len(raw), raw))
    received = 0
    while True:
        ident, value = SYNC_HEADER.unpack(recv_exact(sock, SYNC_HEADER.size, deadline))
        if ident == b"DATA":
            if value > SYNC_MAX_DATA:
                raise TransferError(f"pull {remote}: oversized DATA chunk ({value} bytes)")
            out.write(recv_exact(sock, value, deadline))
            received += value
        elif ident == b"DONE":
            return received
        elif ident == b"FAIL":
            raise TransferError(f"pull {remote} failed: {_read_fail(sock, value, deadline)}")
        else:
            raise TransferError(f"pull {remote}: unexpected reply {ident!r}")


def sync_quit(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(sync_frame(b"QUIT", 0))
