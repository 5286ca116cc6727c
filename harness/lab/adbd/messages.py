"""ADB transport messages (what travels between the adb server and adbd), as pure logic.

A message is a 24-byte little-endian header (command, arg0, arg1, data length, data checksum,
magic = command ^ 0xffffffff) followed by the data."""

from __future__ import annotations

import struct
from dataclasses import dataclass

A_SYNC = 0x434E5953
A_CNXN = 0x4E584E43
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257
A_AUTH = 0x48545541
A_STLS = 0x534C5453

A_VERSION = 0x01000001
# From this version on the sender may leave the data checksum at 0 and the receiver must not check it.
A_VERSION_SKIP_CHECKSUM = 0x01000001
MAX_PAYLOAD = 256 * 1024

HEADER = struct.Struct("<6I")
NAMES = {
    A_SYNC: "SYNC",
    A_CNXN: "CNXN",
    A_OPEN: "OPEN",
    A_OKAY: "OKAY",
    A_CLSE: "CLSE",
    A_WRTE: "WRTE",
    A_AUTH: "AUTH",
    A_STLS: "STLS",
}


class ProtocolError(Exception):
    """The peer sent something that is not a valid ADB message."""


@dataclass(frozen=True)
class Message:
    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    @property
    def name(self) -> str:
        return NAMES.get(self.command, f"0x{self.command:08x}")

    def __repr__(self) -> str:
        return f"Message({self.name}, {self.arg0}, {self.arg1}, {len(self.data)} bytes)"


def checksum(data: bytes) -> int:
    return sum(data) & 0xFFFFFFFF


def encode(message: Message, *, with_checksum: bool = True) -> bytes:
    check = checksum(message.data) if with_checksum else 0
    header = HEADER.pack(
        message.command,
        message.arg0,
        message.arg1,
        len(message.data),
        check,
        message.command ^ 0xFFFFFFFF,
    )
    return header + message.data


class MessageReader:
    """Turns received bytes into messages, whatever the TCP read boundaries were."""

    def __init__(self, max_payload: int = 1024 * 1024) -> None:
        self.max_payload = max_payload
        self.check_data = True  # until the peer's CNXN says it skips checksums
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        self._buf += data
        out: list[Message] = []
        pos = 0
        buf = self._buf
        while len(buf) - pos >= HEADER.size:
            command, arg0, arg1, length, check, magic = HEADER.unpack_from(buf, pos)
            if magic != command ^ 0xFFFFFFFF:
                raise ProtocolError(f"bad magic 0x{magic:08x} for command 0x{command:08x}")
            if length > self.max_payload:
                raise ProtocolError(f"message data of {length} bytes exceeds {self.max_payload}")
            end = pos + HEADER.size + length
            if len(buf) < end:
                break
            data = bytes(buf[pos + HEADER.size : end])
            # A CNXN may come with a zero checksum (a reconnecting host already knows our version).
            if self.check_data and command != A_CNXN and check != checksum(data):
                raise ProtocolError("data checksum mismatch")
            out.append(Message(command, arg0, arg1, data))
            pos = end
        del buf[:pos]
        return out


def device_banner(properties: dict[str, str], features: list[str]) -> bytes:
    """The device's CNXN banner: `device::ro.product.name=..;ro.product.model=..;...;features=..`."""
    keys = ("ro.product.name", "ro.product.model", "ro.product.device")
    parts = [f"{key}={properties.get(key, '')}" for key in keys]
    parts.append("features=" + ",".join(features))
    return ("device::" + ";".join(parts)).encode()


def parse_banner(data: bytes) -> tuple[str, dict[str, str]]:
    """Splits a CNXN banner into its system type and `key=value` fields (host: `host::features=...`)."""
    text = data.rstrip(b"\0").decode("utf-8", errors="replace")
    system, _, rest = text.partition("::")
    fields: dict[str, str] = {}
    for part in rest.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            fields[key] = value
    return system.split(":")[0], fields
