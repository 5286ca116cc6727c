"""Pure hdc client-server wire formats (no I/O): the length framing, the channel handshake, and the
framing our shell commands carry so that hdc, which returns no exit codes, gives us `$?` and the pid.

Client <-> server: every message is a u32 big-endian length, then the bytes. The server speaks first
with a ChannelHandShake: the banner "OHOS HDC" in 12 bytes (byte 11 a feature tag), then the channel
id as u32 big-endian. The client answers with the banner and the target's connect key, NUL-padded to
32 bytes. Then one command as NUL-terminated text; the server's replies are raw text (a command's
output, or its own "[Fail]..." lines) until it closes the channel."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

LENGTH = struct.Struct(">I")
BANNER = b"OHOS HDC"
BANNER_SIZE = 12
CONNECT_KEY_SIZE = 32
HANDSHAKE_MIN = BANNER_SIZE + 4
# A reply message is never larger than this (the server sends at most a few hundred KiB at once).
MAX_MESSAGE = 16 * 1024 * 1024
# The server's own complaints start like this ("[Fail]Not match target founded, ...").
FAIL_PREFIX = b"[Fail]"


class WireError(ValueError):
    """Bytes no hdc server would send."""


def frame(payload: bytes) -> bytes:
    return LENGTH.pack(len(payload)) + payload


def command_frame(command: str) -> bytes:
    return frame(command.encode() + b"\0")


def parse_handshake(message: bytes) -> tuple[bytes, int]:
    """(the 12-byte banner to echo back, the channel id) of the server's first message."""
    if len(message) < HANDSHAKE_MIN or not message.startswith(BANNER):
        raise WireError(f"not an hdc server: its first message is {message[:16]!r}")
    return message[:BANNER_SIZE], LENGTH.unpack_from(message, BANNER_SIZE)[0]


def handshake_reply(banner: bytes, connect_key: str) -> bytes:
    key = connect_key.encode()
    if len(key) >= CONNECT_KEY_SIZE:
        raise WireError(f"connect key {connect_key!r} is longer than {CONNECT_KEY_SIZE - 1} bytes")
    return frame(banner + key.ljust(CONNECT_KEY_SIZE, b"\0"))


@dataclass
class FrameReader:
    """Splits the server's byte stream into messages, whatever the read boundaries were."""

    max_message: int = MAX_MESSAGE
    _buf: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        out: list[bytes] = []
        pos = 0
        while len(buf) - pos >= LENGTH.size:
            (length,) = LENGTH.unpack_from(buf, pos)
            if length > self.max_message:
                raise WireError(f"an hdc message of {length} bytes is larger than allowed")
            end = pos + LENGTH.size + length
            if len(buf) < end:
                break
            out.append(bytes(buf[pos + LENGTH.size : end]))
            pos = end
        del buf[:pos]
        return out

    @property
    def pending(self) -> int:
        return len(self._buf)


# --- the command framing ----------------------------------------------------------------------------
# hdcd runs the text with `/bin/sh -c` in a new session (its pid is the process group), stdout and
# stderr merged on one pipe that is also its stdin. The frame prints the shell's pid first (so a
# timeout can kill the group from a second channel), reads stdin from /dev/null (never its own
# output), runs the command in a subshell (so `exit N` still reaches the end) and prints `$?` after a
# newline, as the ADB transport's legacy framing does.


def framed_command(cmd: str, token: str) -> str:
    return (f"printf '{pid_marker(token)}%d\\n' $$\nexec </dev/null\n(\n{cmd}\n)\n"
            f"printf '\\n%s%d\\n' {exit_marker(token)} $?")


def pid_marker(token: str) -> str:
    return f"HARNESS_PID_{token} "


def exit_marker(token: str) -> str:
    return f"HARNESS_EXIT_{token}"


_PID_LINE = re.compile(rb"HARNESS_PID_[0-9a-f]+ (\d+)\n")


def split_pid_line(pending: bytes, token: str) -> tuple[int | None, bytes] | None:
    """None while the first line is incomplete; else (the pid, or None when the first line is not
    our pid line, and the bytes after it)."""
    newline = pending.find(b"\n")
    if newline < 0:
        return None if len(pending) < 256 else (None, pending)
    head = pending[: newline + 1]
    m = _PID_LINE.fullmatch(head)
    if m is None or not head.startswith(pid_marker(token).encode()):
        return None, pending
    return int(m[1]), pending[newline + 1 :]


def kill_group_command(pid: int) -> str:
    """Stop a timed-out command: its shell leads a session and a process group of the same id."""
    return f"kill -9 -{int(pid)} 2>/dev/null; kill -9 {int(pid)} 2>/dev/null; true"
