"""The hdc wire formats and the command framing, without a peer (the transport tests use the real ones)."""

from __future__ import annotations

import pytest

from harness.transports.hdc_wire import (
    FrameReader,
    WireError,
    command_frame,
    frame,
    framed_command,
    handshake_reply,
    parse_handshake,
    split_pid_line,
)


def test_frames_split_whatever_the_read_boundaries() -> None:
    stream = frame(b"one") + frame(b"") + frame(b"three!")
    for cut in range(len(stream) + 1):
        reader = FrameReader()
        assert reader.feed(stream[:cut]) + reader.feed(stream[cut:]) == [b"one", b"", b"three!"]
        assert reader.pending == 0


def test_oversized_frame_is_refused() -> None:
    with pytest.raises(WireError, match="larger than allowed"):
        FrameReader(max_message=10).feed(frame(b"x" * 11))


def test_handshake_round_trip_and_refusal() -> None:
    greeting = b"OHOS HDC\0\0\0H" + (0x0102ABCD).to_bytes(4, "big") + b"\0" * 28
    banner, channel = parse_handshake(greeting)
    assert (banner, channel) == (b"OHOS HDC\0\0\0H", 0x0102ABCD)
    reply = handshake_reply(banner, "127.0.0.1:27601")
    assert reply[:4] == (44).to_bytes(4, "big") and reply[4:16] == banner
    assert reply[16:].rstrip(b"\0") == b"127.0.0.1:27601" and len(reply) == 48
    with pytest.raises(WireError, match="not an hdc server"):
        parse_handshake(b"SSH-2.0-OpenSSH_9.2\r\n")
    with pytest.raises(WireError, match="longer than"):
        handshake_reply(banner, "x" * 32)
    assert command_frame("list targets") == (13).to_bytes(4, "big") + b"list targets\0"


def test_pid_line() -> None:
    token = "ab12"
    assert split_pid_line(b"HARNESS_PID_ab12 4", token) is None  # not complete yet
    assert split_pid_line(b"HARNESS_PID_ab12 4711\nout", token) == (4711, b"out")
    # Another command's pid line, or the server's complaint, is not ours.
    assert split_pid_line(b"HARNESS_PID_ffff 1\n", token) == (None, b"HARNESS_PID_ffff 1\n")
    assert split_pid_line(b"[Fail]Not match target founded\r\n", token)[0] is None


def test_framed_command_keeps_the_command_verbatim() -> None:
    text = framed_command("echo 'a b' # c &", "t0")
    assert "\necho 'a b' # c &\n" in text and text.startswith("printf 'HARNESS_PID_t0 %d\\n' $$\n")
    assert text.endswith("printf '\\n%s%d\\n' HARNESS_EXIT_t0 $?")
