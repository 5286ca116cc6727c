"""Rules of the console frame parser and prompt reading (harness.transports.serial_framing) that the serial
transport relies on: what a command's output and exit code are, what is handed on and when, what a
timeout's flush may return, and how a garbled stream is refused. Pure; no console."""

from __future__ import annotations

import pytest

from harness.transports.serial_framing import (
    ConsoleState,
    Frame,
    FrameParser,
    ParseError,
    PromptPatterns,
    classify,
    last_line,
)

FRAME = Frame("0123abcd")
START, END = FRAME.start, FRAME.end  # b"__HS0123abcd", b"__HE0123abcd "


def started(**kw: bool) -> FrameParser:
    parser = FrameParser(FRAME, **kw)
    assert parser.feed(b"echo of the command line\r\n" + START + b"\r\n") == b""
    return parser


def test_a_fresh_parser_has_no_result_yet() -> None:
    parser = FrameParser(FRAME)
    assert (parser.started, parser.done, parser.exit_code, parser.rest) == (False, False, None, b"")
    assert parser.frame is FRAME
    parser.feed(START[:5])
    assert (parser.started, parser.done, parser.exit_code, parser.rest) == (False, False, None, b"")


def test_flush_before_the_start_marker_gives_nothing_not_a_held_marker_fragment() -> None:
    # An early timeout: the console showed only part of the start marker. None of it is output.
    parser = FrameParser(FRAME)
    assert parser.feed(b"boot noise " + START[:7]) == b""
    assert parser.flush() == b""
    assert parser.flush() == b""


def test_flush_after_the_end_gives_nothing_more() -> None:
    parser = started()
    assert parser.feed(b"out\n\n" + END + b"0\n@HP# ") == b"out\n"
    assert parser.flush() == b""
    assert (parser.done, parser.exit_code, parser.rest) == (True, 0, b"@HP# ")


def test_flush_mid_output_hands_on_what_was_held_back() -> None:
    parser = started()
    assert parser.feed(b"partial\r\n" + END[:6]) == b"partial"  # the last line might be the end marker
    assert parser.flush() == b"\n" + END[:6]  # the command will not finish: keep what it printed
    assert parser.flush() == b""


def test_output_is_handed_on_as_it_arrives_byte_by_byte() -> None:
    parser = started()
    assert parser.feed(b"x") == b"x"  # live output is not held back for want of a newline
    assert parser.feed(b"y") == b"y"


def test_crlf_is_translated_by_default_and_kept_when_asked() -> None:
    assert started().feed(b"a\r\nb\r\r\nc") == b"a\nb\nc"
    raw = started(translate_crlf=False)
    assert raw.feed(b"a\r\nb") == b"a\r\nb"  # streamed as it came
    body = raw.feed(b"\r\n\n" + END + b"3\n")
    assert (body, raw.exit_code) == (b"\r\n", 3)


def test_only_the_framing_newline_before_the_end_marker_is_removed() -> None:
    parser = started()
    assert parser.feed(b"no newline at all" + END + b"0\n") == b"no newline at all"  # a lost byte
    assert parser.exit_code == 0


def test_text_that_looks_like_a_start_marker_inside_the_output_is_output() -> None:
    parser = FrameParser(FRAME)
    body = parser.feed(START + b"\n" + b"log: " + START + b"\nmore\n\n" + END + b"0\n")
    assert body == b"log: " + START + b"\nmore\n"


def test_the_first_end_marker_decides_and_what_follows_is_the_rest() -> None:
    parser = started()
    body = parser.feed(b"out\n\n" + END + b"4\r\n@HP# \nnext line\n" + END + b"9\n")
    assert (body, parser.exit_code) == (b"out\n", 4)
    assert parser.rest == b"@HP# \nnext line\n" + END + b"9\n"
    parser.feed(b"later")
    assert parser.rest.endswith(b"9\nlater")


@pytest.mark.parametrize("code", [b"1X", b"X1", b"\t1", b"1\x0b", b"1 2", b"-1", b""])
def test_a_garbled_exit_code_is_refused_never_guessed(code: bytes) -> None:
    parser = started()
    with pytest.raises(ParseError) as caught:
        parser.feed(b"out\n\n" + END + code + b"\n")
    assert str(caught.value) == f"end marker without an exit code: {code.strip(b' ')!r}"


def test_a_garbled_exit_code_is_quoted_at_most_40_bytes() -> None:
    parser = started()
    with pytest.raises(ParseError) as caught:
        parser.feed(b"\n" + END + b"z" * 60 + b"\n")
    assert str(caught.value) == f"end marker without an exit code: {b'z' * 40!r}"


def test_the_line_a_prompt_is_on_survives_redraws_and_bad_bytes() -> None:
    assert last_line(b"boot\r\n\rlogin: ") == "login: "  # a console that returns the carriage first
    assert last_line(b"a\nb\nroot@board:~# \xff") == "root@board:~# \ufffd"  # not UTF-8: replaced, not an error
    screen = b"\xfe\xfflogin: root\r\nPassword: \r\nLogin incorrect\r\n\xffboard login: "
    assert classify(screen, PromptPatterns()) is ConsoleState.INCORRECT
    assert classify(b"\xff\xfe# ", PromptPatterns()) is ConsoleState.SHELL
