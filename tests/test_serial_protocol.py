"""The serial command protocol's pure parts (no device): POSIX cksum, the report parser against foreign
text inserted anywhere, and the board-side functions run by real dash, bash and busybox ash."""

from __future__ import annotations

import os
import random
import shutil
import subprocess

import pytest

from harness.transports.serial_protocol import (
    COMMAND,
    Report,
    ReportParser,
    Status,
    Strategy,
    chunk_line,
    control_line,
    posix_cksum,
    prompt_bytes,
    report_line,
    restore_line,
    run_line,
    runner_line,
    setup_lines,
    strategy_for,
    undo_onlcr,
)

TOKEN = "0123456789ab"
FOREIGN = [b"<30>Dec  2 14:03:11 board syslogd: started\n", b"[  12.345678] usb 1-1: new device\r\n",
           b"no newline at all ", b"__HR0123456789ab 9 9 9 9 9 x\n", b"\n"]


def report(token: str, code: int, out: bytes, err: bytes) -> bytes:
    """A report as the board prints it (see serial_protocol's module docstring)."""
    tok = token.encode()
    status = b"__HR%s %d %d %d %d %d\n" % (tok, code, posix_cksum(out), len(out), posix_cksum(err), len(err))
    sent = b"\n" + status * 2
    if out or err:
        sent += b"__HB" + tok + b"\n" + out + err + b"\n" + (b"__HZ" + tok + b"\n") * 2
    return sent + prompt_bytes(token)


def parse(stream: bytes, *, chunk: int = 1 << 30, inline_max: int = 1 << 20, crlf: bool = False) -> Report:
    parser = ReportParser(TOKEN, inline_max, translate_crlf=crlf)
    for at in range(0, len(stream), chunk):
        if parser.feed(stream[at : at + chunk]):
            break
    return parser.report()


@pytest.mark.parametrize("size", [0, 1, 3, 255, 256, 65536, 100_003])
def test_posix_cksum_equals_the_cksum_program(size: int) -> None:
    data = os.urandom(size)
    printed = subprocess.run(["cksum"], input=data, capture_output=True, check=True).stdout.split()
    assert (posix_cksum(data), size) == (int(printed[0]), int(printed[1]))


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 1 << 30])
@pytest.mark.parametrize(("out", "err"), [(b"", b""), (b"hi\n", b""), (b"", b"oops\n"),
                                          (b"a\nb", b"\xff\x00\r\n"), (os.urandom(5000), b"e")])
def test_a_clean_report_parses_in_any_chunking(chunk: int, out: bytes, err: bytes) -> None:
    got = parse(b"stale @HPfeedfacecafe# " + report(TOKEN, 7, out, err), chunk=chunk)
    assert got.status is not None and got.status.code == 7
    assert got.streams() == (out, err)


def test_foreign_text_inserted_anywhere_is_never_taken_for_output() -> None:
    out, err = b"line one\nline two\n", b"warning\n"
    clean = report(TOKEN, 3, out, err)
    rng = random.Random(1)
    recovered = 0
    for at in range(len(clean) + 1):
        for foreign in FOREIGN:
            got = parse(clean[:at] + foreign + clean[at:], chunk=rng.choice([1, 5, 1 << 30]))
            streams = got.streams()
            assert streams in (None, (out, err)), (at, foreign)  # right, or known to be damaged
            if got.status is not None:
                assert got.status.code == 3
            recovered += streams is not None
    assert recovered > len(clean)  # most single insertions cost nothing: a spare copy stands in


def test_a_report_ends_at_its_prompt_even_when_every_marker_is_damaged() -> None:
    parser = ReportParser(TOKEN, 1 << 20)
    assert not parser.feed(b"\n__HR0123XX456789ab 0 1 2 3 4\n__HB01XX23456789ab\nbody")
    assert parser.feed(b"\n@HP" + TOKEN.encode() + b"# ")
    assert parser.report().streams() is None


def test_output_past_the_inline_limit_is_left_for_chunks() -> None:
    got = parse(report(TOKEN, 0, b"x" * 100, b"")[:70], inline_max=50)  # the status lines suffice
    assert got.status == Status(0, posix_cksum(b"x" * 100), 100, posix_cksum(b""), 0) and got.body is None


def test_memory_stays_bounded_under_a_flood() -> None:
    parser = ReportParser(TOKEN, 100, slack=1000)
    parser.feed(b"\n__HR" + TOKEN.encode() + b" 0 1 10 1 0\n__HB" + TOKEN.encode() + b"\n")
    for _ in range(1000):
        parser.feed(b"kernel noise " * 100)
    assert len(parser._buf) < 2000
    assert parser.feed(b"\n__HZ" + TOKEN.encode() + b"\n") and parser.report().body is None


def test_onlcr_is_undone_exactly() -> None:
    out = b"a\nb\r\nc\r"
    wire = report(TOKEN, 0, out, b"").replace(b"\n", b"\r\n")
    assert undo_onlcr(out.replace(b"\n", b"\r\n")) == out
    assert parse(wire, chunk=3, crlf=True).streams() == (out, b"")


def test_a_status_line_without_cksum_is_checked_by_length() -> None:
    line = b"\n__HR" + TOKEN.encode() + b" 1 - 3 - 0\n"
    body = b"__HB" + TOKEN.encode() + b"\nabc\n__HZ" + TOKEN.encode() + b"\n"
    assert parse(line + body).streams() == (b"abc", b"")
    longer = body.replace(b"abc", b"abXc")
    assert parse(line + longer).streams() is None  # an insertion always changes the length


@pytest.mark.parametrize(("exe", "bash", "strategy"), [
    ("/bin/busybox", "", Strategy.CHILD), ("/usr/bin/dash", "", Strategy.FORK),
    ("/usr/bin/bash", "5.2.15(1)-release", Strategy.FORK), ("/system/bin/toybox", "", Strategy.CHILD),
    ("/system/bin/mksh", "", Strategy.CHILD), ("", "", Strategy.CHILD)])
def test_strategy_per_shell(exe: str, bash: str, strategy: Strategy) -> None:
    assert strategy_for(exe, bash) is strategy


def test_typed_lines_never_hold_a_marker_and_stay_short() -> None:
    lines = [line for line, _ in setup_lines(TOKEN)] + [runner_line(TOKEN, s) for s in Strategy] + [
        run_line(TOKEN, "echo hi", 10), control_line(TOKEN, "true"), report_line(TOKEN, COMMAND, 0),
        chunk_line(TOKEN, '"$__hd/o"', 1024, 3), restore_line(TOKEN, True)]
    for line in lines:
        assert len(line) < 1000  # busybox ash's line editor takes 1024 bytes
        for tag in ("__HR", "__HB", "__HZ", "__HQ"):
            assert tag + TOKEN not in line and tag + "$" not in line
        assert "@HP" + TOKEN not in line


SHELLS = [["dash"], ["bash"], ["busybox", "sh"]]


@pytest.mark.parametrize("shell", SHELLS, ids=["dash", "bash", "ash"])
@pytest.mark.parametrize("strategy", list(Strategy))
def test_board_functions_in_a_real_shell(shell: list[str], strategy: Strategy) -> None:
    if shutil.which(shell[0]) is None:
        pytest.fail(f"{shell[0]} is not installed (scripts/system-deps.sh installs it)")
    script = "\n".join([line for line, _ in setup_lines("t0")] + [
        runner_line("t1", strategy),
        report_line("999999999999", COMMAND, 0),  # before any command ran: still a whole status line
        run_line("aaaaaaaaaaaa", 'echo "[$1]" out; echo err >&2; cd /; X=1; exit 3', 1000),
        run_line("bbbbbbbbbbbb", 'echo "${X:-clean} $(pwd)"', 1000),
        chunk_line("cccccccccccc", '"$__hd/o"', 4, 1),
        report_line("dddddddddddd", COMMAND, 0),
        control_line("eeeeeeeeeeee", "echo in-the-login-shell"),
        'echo "folder=$__hd"', restore_line("ffffffffffff", False), 'echo "after=$__hd"'])
    done = subprocess.run(shell + ["-c", script], capture_output=True, cwd="/tmp", timeout=30)
    stream = done.stdout

    def of(token: str, inline_max: int = 1000) -> Report:
        parser = ReportParser(token, inline_max)
        parser.feed(stream)
        return parser.report()

    before = of("999999999999", 0)
    assert before.status is not None and before.status.total == 0
    first = of("aaaaaaaaaaaa")
    assert first.status is not None and first.status.code == 3
    assert first.streams() == (b"[] out\n", b"err\n")  # the function's own $1 is not the command's
    second = of("bbbbbbbbbbbb").streams()
    assert second is not None and second[0].split()[0] == b"clean"  # no state leaked
    assert of("cccccccccccc", 4).streams() == (second[0][4:8], b"")  # chunk 1 of 4 bytes
    again = of("dddddddddddd", 0)
    assert again.status is not None and again.status.out_len == len(second[0]) and again.body is None
    assert of("eeeeeeeeeeee").streams() == (b"in-the-login-shell\n", b"")
    folder = stream.split(b"folder=")[1].split(b"\n")[0]
    assert folder and not os.path.exists(folder)  # removed by the restore
    assert b"__HQffffffffffff" in stream and b"after=\n" in stream
