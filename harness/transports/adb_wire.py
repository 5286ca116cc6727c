"""Pure ADB wire formats shared by the transport (host side) and the simulated adbd (device side):
the shell protocol v2 packets and the sync protocol frames. No I/O here."""

from __future__ import annotations

import struct
from dataclasses import dataclass

# Shell protocol v2: a packet is id (1 byte) + length (uint32 little-endian) + data.
SHELL_STDIN = 0
SHELL_STDOUT = 1
SHELL_STDERR = 2
SHELL_EXIT = 3
SHELL_CLOSE_STDIN = 4
SHELL_WINDOW_SIZE = 5
SHELL_HEADER = struct.Struct("<BI")

# Sync protocol: a frame is a 4-byte id + uint32 little-endian (length, mode or mtime).
SYNC_HEADER = struct.Struct("<4sI")
SYNC_STAT_REPLY = struct.Struct("<4sIII")  # "STAT" mode size mtime
SYNC_DENT = struct.Struct("<4sIIII")  # "DENT" mode size mtime namelen, then the name
SYNC_MAX_DATA = 64 * 1024  # a DATA chunk never carries more (both sides enforce it)
SYNC_MAX_PATH = 1024


def shell_packet(kind: int, data: bytes) -> bytes:
    return SHELL_HEADER.pack(kind, len(data)) + data


@dataclass
class ShellPacketReader:
    """Splits a byte stream into shell v2 packets, whatever the read boundaries were."""

    max_packet: int = 16 * 1024 * 1024
    _buf: bytearray | None = None

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        if self._buf is None:
            self._buf = bytearray()
        buf = self._buf
        buf += data
        packets: list[tuple[int, bytes]] = []
        pos = 0
        while len(buf) - pos >= SHELL_HEADER.size:
            kind, length = SHELL_HEADER.unpack_from(buf, pos)
            if length > self.max_packet:
                raise ValueError(f"shell packet of {length} bytes is larger than allowed")
            end = pos + SHELL_HEADER.size + length
            if len(buf) < end:
                break
            packets.append((kind, bytes(buf[pos + SHELL_HEADER.size : end])))
            pos = end
        del buf[:pos]
        return packets

    @property
    def pending(self) -> int:
        return len(self._buf) if self._buf else 0


def sync_frame(ident: bytes, value: int, data: bytes = b"") -> bytes:
    return SYNC_HEADER.pack(ident, value) + data


def sync_fail(message: str) -> bytes:
    raw = message.encode("utf-8", errors="replace")
    return sync_frame(b"FAIL", len(raw), raw)


@dataclass(frozen=True)
class SyncStat:
    mode: int
    size: int
    mtime: int

    @property
    def exists(self) -> bool:
        return self.mode != 0
