"""Rules of the prompt reading (harness.transports.serial_framing) that the serial transport relies on:
which line a prompt is on, and what the console is asking for. Pure; no console."""

from __future__ import annotations

import pytest

from harness.transports.serial_framing import (
    ConsoleState,
    PromptPatterns,
    classify,
    last_line,
)


def test_the_line_a_prompt_is_on_survives_redraws_and_bad_bytes() -> None:
    assert last_line(b"boot\r\n\rlogin: ") == "login: "  # a console that returns the carriage first
    assert last_line(b"a\nb\nroot@board:~# \xff") == "root@board:~# \ufffd"  # not UTF-8: replaced, not an error
    screen = b"\xfe\xfflogin: root\r\nPassword: \r\nLogin incorrect\r\n\xffboard login: "
    assert classify(screen, PromptPatterns()) is ConsoleState.INCORRECT
    assert classify(b"\xff\xfe# ", PromptPatterns()) is ConsoleState.SHELL


# A login or password prompt that someone else's line (syslog, the kernel) cut in two: its head starts
# one of the lines before, its tail is the last line. The driver must still answer it.
SYSLOG = "[   12.345678] usb 1-1: new full-rate USB device number 2"  # no "lo" nor "p" to make a prompt of
S = SYSLOG.encode()


@pytest.mark.parametrize(("screen", "state"), [
    (b"board lo" + S + b"\ngin: ", ConsoleState.LOGIN),
    (b"board login: root\r\nPass" + S + b"\r\nword: ", ConsoleState.PASSWORD),  # the tty's \r\n
    (b"P" + S + b"\nassword: ", ConsoleState.PASSWORD),  # cut after its first character
    (b"board lo" + S + b"\r\n\rgin: ", ConsoleState.LOGIN),  # a console that returns the carriage first
    (b"board lo\n" + S + b"\ngin: ", ConsoleState.LOGIN),  # the foreign line came on a line of its own
    (b"Login incorrect\nboard lo" + S + b"\ngin: ", ConsoleState.INCORRECT),  # the refusal before counts
    (b"board lo\x1b[0m" + S + b" \xff\ngin: ", ConsoleState.LOGIN),  # escapes and bytes not UTF-8
])
def test_a_prompt_cut_in_two_by_a_foreign_line_is_still_recognised(screen: bytes, state: ConsoleState) -> None:
    assert classify(screen, PromptPatterns()) is state


def test_a_cut_prompt_is_found_up_to_four_lines_back_not_five() -> None:
    # The likeliest cut is the newest, but a burst of up to four foreign lines is looked through.
    four = "board lo" + "\n".join([SYSLOG] * 4) + "\ngin: "
    assert classify(four.encode(), PromptPatterns()) is ConsoleState.LOGIN
    five = "board lo" + "\n".join([SYSLOG] * 5) + "\ngin: "
    assert classify(five.encode(), PromptPatterns()) is None


def test_a_prompt_already_answered_is_not_rejoined() -> None:
    # Once the cursor has moved to a new line the prompt was answered (or scrolled): nothing to send.
    assert classify(f"board lo{SYSLOG}\ngin: \r\n".encode(), PromptPatterns()) is None
    assert classify(f"board lo{SYSLOG}\ngin: root\r\n".encode(), PromptPatterns()) is None


def test_a_devices_own_anchored_login_prompt_is_rejoined_too() -> None:
    # devices.toml may set login_prompt; one anchored at the start of the line must match the rejoined
    # prompt as the board printed it, with nothing of the foreign line in front.
    patterns = PromptPatterns(login=r"^board login: $")
    assert classify(f"board lo{SYSLOG}\ngin: ".encode(), patterns) is ConsoleState.LOGIN
    assert classify(f"other lo{SYSLOG}\ngin: ".encode(), patterns) is None
