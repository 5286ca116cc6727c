"""The pure console logic: escapes, line endings, framing and the frame parser (no device needed)."""

from __future__ import annotations

import subprocess

import pytest

from harness.transports.serial_framing import (
    ConsoleState,
    Frame,
    FrameParser,
    ParseError,
    PromptPatterns,
    classify,
    last_line,
    normalize_newlines,
    shell_quote,
    strip_escapes,
)

TOKEN = "0123abcd"


def feed_all(parser: FrameParser, chunks: list[bytes]) -> bytes:
    return b"".join(parser.feed(c) for c in chunks)


def stream(output: bytes, code: int, *, crlf: bool, echo: bool = True, prompt: bytes = b"@HP# ") -> bytes:
    """What a console sends for one framed command: echo, start marker, output, end marker, prompt."""
    frame = Frame(TOKEN)
    nl = b"\r\n" if crlf else b"\n"
    out = output.replace(b"\n", nl) if crlf else output
    echoed = frame.command("cmd").encode() + b"\r\n" if echo else b""
    return echoed + frame.start + nl + out + nl + frame.end + str(code).encode() + nl + prompt


# -- escapes and newlines ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (b"\x1b[?2004hroot@board:~# ", b"root@board:~# "),  # bracketed paste on (bash)
        (b"ls\r\n\x1b[?2004l\r", b"ls\r\n\r"),  # bracketed paste off
        (b"root@board:~# \x1b[6n", b"root@board:~# "),  # cursor position query (busybox ash)
        (b"\x1b[01;34mdir\x1b[0m", b"dir"),  # colours
        (b"\x1b]0;root@board: ~\x07# ", b"# "),  # OSC window title, BEL-terminated
        (b"\x1b]2;title\x1b\\# ", b"# "),  # OSC, ST-terminated
        (b"\x1b(Bx\x1b=y\x1b>", b"xy"),  # charset and keypad modes
        (b"a\x07b\x08c\x00d", b"abcd"),  # BEL, BS, NUL
        (b"tab\there\r\n", b"tab\there\r\n"),  # text controls stay
        ("中文\n".encode(), "中文\n".encode()),
    ],
)
def test_strip_escapes(raw: bytes, clean: bytes) -> None:
    assert strip_escapes(raw) == clean


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        (b"a\r\nb", b"a\nb"),
        (b"a\r\r\nb", b"a\nb"),
        (b"a\nb", b"a\nb"),
        (b"a\rb", b"a\rb"),
        (b"\r\n\r\n", b"\n\n"),
    ],
)
def test_normalize_newlines(raw: bytes, norm: bytes) -> None:
    assert normalize_newlines(raw) == norm


@pytest.mark.parametrize("text", ["plain", "it's", "a'b'c", "", "$HOME `id` \\ \" ; # & |", "two\nlines"])
def test_shell_quote_round_trips_through_a_real_shell(text: str) -> None:
    out = subprocess.run(["sh", "-c", f"printf %s {shell_quote(text)}"], capture_output=True, check=True)
    assert out.stdout == text.encode()


# -- the framed command ------------------------------------------------------------------------------
def test_echo_of_the_framed_line_never_contains_a_marker() -> None:
    frame = Frame(TOKEN)
    line = frame.command("echo hi").encode()
    assert frame.start not in line
    assert frame.end.strip() not in line


@pytest.mark.parametrize(
    ("cmd", "out", "code"),
    [
        ("echo hi", b"hi\n", 0),
        ("printf 'no newline'", b"no newline", 0),
        ("false", b"", 1),
        ("(exit 255)", b"", 255),
        ("echo a # a comment", b"a\n", 0),
        ("echo 'quoted'; echo \"$((1+2))\"", b"quoted\n3\n", 0),
        ("printf '\\377\\376'", b"\xff\xfe", 0),
        ("echo x &\nwait", b"x\n", 0),
    ],
)
def test_framed_command_run_by_a_real_shell_parses_back(cmd: str, out: bytes, code: int) -> None:
    frame = Frame(TOKEN)
    proc = subprocess.run(["sh", "-c", frame.command(cmd)], capture_output=True)
    parser = FrameParser(frame, translate_crlf=False)
    assert parser.feed(proc.stdout) == out
    assert parser.done and parser.exit_code == code


# -- the parser ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("crlf", [True, False])
@pytest.mark.parametrize("output", [b"", b"x", b"line\n", b"a\nb\n\n", b"no newline", b"\xff\xfe\x00\x1b[0m"])
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1000])
def test_parser_any_chunking(crlf: bool, output: bytes, chunk: int) -> None:
    data = stream(output, 42, crlf=crlf)
    parser = FrameParser(Frame(TOKEN), translate_crlf=crlf)
    got = feed_all(parser, [data[i : i + chunk] for i in range(0, len(data), chunk)])
    assert got == output
    assert parser.done and parser.exit_code == 42
    assert parser.rest == b"@HP# "


def test_parser_keeps_everything_after_the_end_line() -> None:
    parser = FrameParser(Frame(TOKEN), translate_crlf=False)
    parser.feed(stream(b"out\n", 0, crlf=False))
    parser.feed(b"more")
    assert parser.rest == b"@HP# more"


def test_parser_exact_bytes_without_translation() -> None:
    # Without ONLCR on the device, a \r the command printed is the command's: it stays.
    output = b"a\r\nb\r"
    parser = FrameParser(Frame(TOKEN), translate_crlf=False)
    assert parser.feed(stream(output, 0, crlf=False)) == output


def test_parser_ignores_other_tokens_and_split_echo() -> None:
    old = Frame("ffff0000")
    stale = old.start + b"\r\nold output\r\n" + old.end + b"0\r\n"
    parser = FrameParser(Frame(TOKEN), translate_crlf=True)
    got = parser.feed(stale + b"__HS " + TOKEN.encode() + b"\r\n" + stream(b"new\n", 3, crlf=True))
    assert got == b"new\n" and parser.exit_code == 3


def test_parser_streams_output_before_the_end_arrives() -> None:
    parser = FrameParser(Frame(TOKEN), translate_crlf=False)
    first = parser.feed(Frame(TOKEN).start + b"\n" + b"x" * 1000)
    assert len(first) >= 1000 - len(Frame(TOKEN).end) - 2  # handed on, only a marker-sized tail held
    assert not parser.done


def test_parser_holds_back_a_partial_end_marker() -> None:
    frame = Frame(TOKEN)
    parser = FrameParser(frame, translate_crlf=False)
    got = parser.feed(frame.start + b"\nhello\n" + frame.end[:5])
    assert frame.end[:5] not in got
    got += parser.feed(frame.end[5:] + b"0\n")
    assert got == b"hello" and parser.exit_code == 0


def test_parser_does_not_split_crlf_across_chunks() -> None:
    frame = Frame(TOKEN)
    parser = FrameParser(frame, translate_crlf=True)
    big = b"y" * 200 + b"\r"
    got = parser.feed(frame.start + b"\r\n" + big)
    got += parser.feed(b"\nz\r\n" + frame.end + b"0\r\n")
    assert got == b"y" * 200 + b"\nz"


def test_parser_memory_stays_bounded_before_the_start_marker() -> None:
    parser = FrameParser(Frame(TOKEN))
    for _ in range(1000):
        parser.feed(b"kernel noise " * 100)
    assert len(parser._buf) < 64


def test_parser_rejects_an_end_marker_without_exit_code() -> None:
    frame = Frame(TOKEN)
    parser = FrameParser(frame)
    with pytest.raises(ParseError):
        parser.feed(frame.start + b"\n" + frame.end + b"garbage\n")


# -- prompts --------------------------------------------------------------------------------------
PATTERNS = PromptPatterns()


@pytest.mark.parametrize(
    ("screen", "state"),
    [
        (b"Lab Board OS 1.0\r\n\r\nboard login: ", ConsoleState.LOGIN),
        (b"board login: root\r\nPassword: ", ConsoleState.PASSWORD),
        (b"\r\nLogin incorrect\r\nboard login: ", ConsoleState.INCORRECT),
        (b"\x1b[?2004hroot@board:~# ", ConsoleState.SHELL),
        (b"root@board:~# \x1b[6n", ConsoleState.SHELL),
        (b"user@host:~$ ", ConsoleState.SHELL),
        (b"[    1.234567] Run /sbin/init as init process\r\n", None),
        (b"board login: root\r\n", None),
    ],
)
def test_classify(screen: bytes, state: ConsoleState | None) -> None:
    assert classify(screen, PATTERNS) is state


def test_last_line() -> None:
    assert last_line(b"one\r\ntwo\r\n\x1b[1mthree> ") == "three> "


def test_flush_gives_the_held_back_output_of_an_unfinished_command() -> None:
    frame = Frame(TOKEN)
    parser = FrameParser(frame, translate_crlf=True)
    got = parser.feed(frame.start + b"\r\nstarted\r\n")
    assert got + parser.flush() == b"started\n"
    assert parser.flush() == b""


def test_short_output_is_handed_on_at_once_holding_only_a_possible_marker_start() -> None:
    frame = Frame(TOKEN)
    parser = FrameParser(frame, translate_crlf=True)
    assert parser.feed(frame.start + b"\r\nrunning\r\n") == b"running"  # only the newline waits
    assert parser.feed(b"__H") == b""  # could be the end marker
    assert parser.feed(b"x more") == b"\n__Hx more"  # was not


def test_a_boot_line_cut_after_hash_is_not_a_shell_prompt() -> None:
    # A real kernel's banner arrives in pieces: "... GNU ld (GNU Binutils for Debian) 2.40) #" then
    # "1 SMP ...". Taking the piece for a prompt made the driver type its setup mid-boot.
    from harness.transports.serial_framing import ConsoleState, PromptPatterns, classify

    cut = b"[    0.000000] Linux version 6.1.0-56-arm64 (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld 2.40) #"
    assert classify(cut, PromptPatterns()) is None
    assert classify(b"\r\nroot@board:~# ", PromptPatterns()) is ConsoleState.SHELL
    assert classify(b"\r\n/ # ", PromptPatterns()) is ConsoleState.SHELL


@pytest.mark.parametrize(
    ("cmd", "fresh"),
    [
        ("true", False),
        ("uname -a", False),
        ("cat /proc/cpuinfo | grep -c processor", False),
        ("a && b || c", False),
        ("echo x >&2", False),
        ("ls /etc/exports /usr/bin/set-foo", False),
        ("exit 3", True),
        ("echo before; exit 3", True),
        ("cd /tmp", True),
        ("FOO=1", True),
        ("x[2]+=1", True),
        ("sleep 5 &", True),
        ("f() { :; }", True),
        (". /etc/os-release && echo $NAME", True),
        ("exec sh", True),
        ("read line", True),
    ],
)
def test_commands_that_change_the_shell_run_in_a_subshell(cmd: str, fresh: bool) -> None:
    from harness.transports.serial_framing import Frame, changes_shell_state

    assert changes_shell_state(cmd) is fresh
    assert ("( eval " in Frame("t").command(cmd)) is fresh
    assert "( eval " not in Frame("t").command(cmd, subshell=False)
