"""The pure console logic: escapes, shell quoting and prompts (no device needed)."""

from __future__ import annotations

import subprocess

import pytest

from harness.transports.serial_framing import (
    ConsoleState,
    PromptPatterns,
    classify,
    last_line,
    shell_quote,
    strip_escapes,
)


# -- escapes ---------------------------------------------------------------------------
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


@pytest.mark.parametrize("text", ["plain", "it's", "a'b'c", "", "$HOME `id` \\ \" ; # & |", "two\nlines"])
def test_shell_quote_round_trips_through_a_real_shell(text: str) -> None:
    out = subprocess.run(["sh", "-c", f"printf %s {shell_quote(text)}"], capture_output=True, check=True)
    assert out.stdout == text.encode()


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


def test_a_boot_line_cut_after_hash_is_not_a_shell_prompt() -> None:
    # A real kernel's banner arrives in pieces: "... GNU ld (GNU Binutils for Debian) 2.40) #" then
    # "1 SMP ...". Taking the piece for a prompt made the driver type its setup mid-boot.
    from harness.transports.serial_framing import ConsoleState, PromptPatterns, classify

    cut = b"[    0.000000] Linux version 6.1.0-56-arm64 (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld 2.40) #"
    assert classify(cut, PromptPatterns()) is None
    assert classify(b"\r\nroot@board:~# ", PromptPatterns()) is ConsoleState.SHELL
    assert classify(b"\r\n/ # ", PromptPatterns()) is ConsoleState.SHELL
