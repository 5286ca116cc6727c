"""The serial command protocol's pure parts (no device): POSIX cksum, the report parser against foreign
text inserted anywhere, and the board-side functions run by real dash, bash and busybox ash."""

from __future__ import annotations

import os
import random
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.transports.serial_protocol import (
    COMMAND,
    PromptWatch,
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


# -- more rules of the report parser ------------------------------------------------------------------
def status_line(code: bytes, out_crc: bytes, out_len: bytes, err_crc: bytes = b"4294967295",
                err_len: bytes = b"0") -> bytes:
    return b"__HR" + TOKEN.encode() + b" " + b" ".join([code, out_crc, out_len, err_crc, err_len]) + b"\n"


def body(data: bytes) -> bytes:
    return b"__HB" + TOKEN.encode() + b"\n" + data + b"\n__HZ" + TOKEN.encode() + b"\n"


def test_a_report_without_output_is_complete_at_its_status_line() -> None:
    # Nothing more will come for it: the driver must not wait for a body (or the prompt) that never comes.
    parser = ReportParser(TOKEN, 1 << 20)
    assert parser.feed(b"\n" + status_line(b"0", b"4294967295", b"0"))
    assert parser.report().streams() == (b"", b"")


def test_output_over_the_inline_limit_is_complete_at_its_status_line() -> None:
    parser = ReportParser(TOKEN, 50)
    assert parser.feed(b"\n" + status_line(b"0", str(posix_cksum(b"x" * 51)).encode(), b"51"))
    assert parser.report().body is None  # the body stays on the board, fetched in chunks


@pytest.mark.parametrize("out", [b"x", b"\n"])
def test_one_byte_of_output_is_waited_for(out: bytes) -> None:
    assert parse(report(TOKEN, 0, out, b""), chunk=1).streams() == (out, b"")


def test_a_report_stays_complete_as_more_of_the_stream_arrives() -> None:
    parser = ReportParser(TOKEN, 1 << 20)
    assert parser.feed(b"\n" + status_line(b"0", b"4294967295", b"0"))
    assert parser.feed(b"the next prompt, kernel chatter") is True
    assert parser.feed(b"") is True
    assert parser.report().streams() == (b"", b"")


def test_same_length_damage_in_either_stream_is_caught_by_its_cksum() -> None:
    out, err = b"abc", b"def"
    line = status_line(b"0", str(posix_cksum(out)).encode(), b"3", str(posix_cksum(err)).encode(), b"3")
    assert parse(b"\n" + line + body(out + err)).streams() == (out, err)
    assert parse(b"\n" + line + body(b"abX" + err)).streams() is None  # stdout damaged, stderr whole
    assert parse(b"\n" + line + body(out + b"deX")).streams() is None  # stderr damaged, stdout whole


def test_a_damaged_status_line_is_passed_over_for_its_copy() -> None:
    crc = str(posix_cksum(b"hi")).encode()
    good = status_line(b"5", crc, b"2")
    for damaged in (status_line(b"5", crc[:3] + b"x" + crc[3:], b"2"),  # a letter in a cksum
                    status_line(b"5", b"-x", b"2"),
                    status_line(b"5", crc, b"2 7"),  # a field too many
                    status_line(b"1005", crc, b"2")):  # no exit code has four digits
        got = parse(b"\n" + damaged + good + body(b"hi"))
        assert got.status == Status(5, posix_cksum(b"hi"), 2, 4294967295, 0), damaged
        assert got.streams() == (b"hi", b"")


def test_every_exit_code_a_shell_gives_is_read() -> None:
    for code in (0, 1, 127, 255):
        assert parse(report(TOKEN, code, b"", b"")).status == Status(code, 4294967295, 0, 4294967295, 0)


def test_a_status_line_is_found_at_the_very_first_byte_and_with_a_tty_carriage_return() -> None:
    crc = str(posix_cksum(b"hi")).encode()
    assert parse(status_line(b"0", crc, b"2") + body(b"hi")).streams() == (b"hi", b"")
    # Before `stty -onlcr` took effect (or on a tty that adds it anyway) a status line ends in \r\n.
    assert parse(status_line(b"0", crc, b"2").replace(b"\n", b"\r\n")).status == Status(
        0, posix_cksum(b"hi"), 2, 4294967295, 0)


def test_the_body_is_kept_when_both_status_lines_are_lost() -> None:
    # The driver asks for the status again and checks this body against it (serial_session._complete).
    got = parse(b"\n__HR" + TOKEN.encode() + b" 0 1\n" + body(b"hi") + prompt_bytes(TOKEN))
    assert got.status is None and got.body == b"hi"


def test_carriage_returns_are_kept_unless_translation_is_asked_for() -> None:
    # A board set to -onlcr sends the bytes as written: a \r\n the command printed is its own.
    out = b"a\r\nb"
    assert parse(report(TOKEN, 0, out, b"")).streams() == (out, b"")
    parser = ReportParser(TOKEN, 1 << 20)
    parser.feed(report(TOKEN, 0, out, b""))
    assert parser.report().streams() == (out, b"")


def test_a_report_that_fits_the_inline_limit_and_slack_is_never_dropped() -> None:
    whole = b"noise " + report(TOKEN, 0, b"x" * 10, b"")
    end = whole.index(prompt_bytes(TOKEN))
    parser = ReportParser(TOKEN, 10, slack=end - 10)  # exactly as much as it takes, up to its prompt
    assert parser.feed(whole[:end])
    assert parser.report().streams() == (b"x" * 10, b"")


def test_a_flood_keeps_the_status_and_an_end_marker_cut_at_its_edge() -> None:
    parser = ReportParser(TOKEN, 100, slack=1000)
    parser.feed(b"\n" + status_line(b"0", b"1", b"10") + b"__HB" + TOKEN.encode() + b"\n")
    end_mark = b"\n__HZ" + TOKEN.encode() + b"\n"
    assert not parser.feed(b"kernel noise " * 100 + end_mark[:10])  # the flood ends mid-marker
    assert parser.feed(end_mark[10:])
    assert parser.report().status == Status(0, 1, 10, 4294967295, 0)  # the chunks need it: not asked again
    assert parser.report().body is None


def test_an_end_marker_right_at_the_edge_of_a_flood_ends_the_report() -> None:
    parser = ReportParser(TOKEN, 100, slack=1000)
    parser.feed(b"\n" + status_line(b"0", b"1", b"10") + b"__HB" + TOKEN.encode() + b"\n")
    end_mark = b"\n__HZ" + TOKEN.encode() + b"\n"
    assert parser.feed(b"kernel noise " * 100 + end_mark + b"x" * 17)  # what is kept starts with the marker
    assert parser.report().body is None


def test_a_status_line_after_damaged_ones_and_before_a_damaged_one_is_found() -> None:
    crc = str(posix_cksum(b"hi")).encode()
    damaged = status_line(b"5", crc, b"2 7")
    got = parse(b"\n" + damaged + status_line(b"5", crc, b"2") + damaged + body(b"hi"))
    assert got.streams() == (b"hi", b"")


def test_a_prompt_right_after_a_flood_ends_the_report() -> None:
    parser = ReportParser(TOKEN, 100, slack=1000)
    parser.feed(b"\n__HR" + TOKEN.encode() + b" damaged\n")
    assert parser.feed(b"kernel noise " * 100 + prompt_bytes(TOKEN) + b"x" * 18)  # the flood trims to the prompt
    assert parser.report().status is None


def test_the_prompt_watch_finds_its_prompt_split_across_reads() -> None:
    prompt = prompt_bytes(TOKEN)
    for cut in range(1, len(prompt)):
        watch = PromptWatch(TOKEN)
        assert not watch.feed(b"boot noise " + prompt[:cut])
        assert watch.feed(prompt[cut:] + b"more")
        assert watch.feed(b"") and watch.done  # stays found
    watch = PromptWatch(TOKEN)
    assert not watch.feed(b"@HPother# " + prompt_bytes("0123456789ac"))  # another token's prompt
    assert not watch.feed(prompt[:-1] + b"x")


# -- the lines typed -----------------------------------------------------------------------------------
def test_each_setup_line_ends_by_giving_the_prompt_the_token_it_is_waited_for_by() -> None:
    pairs = setup_lines(TOKEN)
    assert len({token for _, token in pairs}) == len(pairs)
    for line, token in pairs:
        assert re.findall(r"__ht=(\w+)", line)[-1] == token, line  # the prompt shows this token once it ran
        assert token.startswith(TOKEN)


def test_bash_and_dash_fork_whatever_the_version_check_says() -> None:
    assert strategy_for("/bin/bash") is Strategy.FORK  # bash's version unknown yet: its name says it
    assert strategy_for("/usr/bin/busybox") is Strategy.CHILD


@pytest.mark.parametrize("shell", SHELLS, ids=["dash", "bash", "ash"])
@pytest.mark.parametrize("strategy", list(Strategy))
def test_the_session_a_real_shell_is_given_and_the_shell_it_is_left(shell: list[str], strategy: Strategy,
                                                                   tmp_path: Path) -> None:
    if shutil.which(shell[0]) is None:
        pytest.fail(f"{shell[0]} is not installed (scripts/system-deps.sh installs it)")
    # A leader that has ended but is not reaped yet is gone. The holder forks a child that exits, waits
    # until it is a zombie without reaping it (WNOWAIT), and only then sends its pid through the FIFO.
    holder = ("import os, time\n"
              "pid = os.fork()\n"
              "if pid == 0:\n    os._exit(0)\n"
              "os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)\n"
              "print(pid, flush=True)\nos.close(1)\ntime.sleep(60)\n")
    fifo = tmp_path / "zombie"
    os.mkfifo(fifo)
    zombie = f'{shlex.quote(sys.executable)} -c {shlex.quote(holder)} >{fifo} & zh=$!; read -r __hp <{fifo}'
    script = "\n".join([
        "PS1='orig1 '; PS2='orig2 '; PROMPT_COMMAND='echo from-prompt-command'",
        *[line for line, _ in setup_lines("t0")],
        'echo "ps2=[$PS2]"; echo "pc=[${PROMPT_COMMAND-unset}]"; echo "folder=$__hd"',
        runner_line("t1", strategy),
        run_line("aaaaaaaaaaaa", "echo hi", 1000),
        run_line("bbbbbbbbbbbb", "echo $$", 1000), 'echo "login=$$"',
        '__hg; echo "ended=$?"',
        'sleep 30 & __hp=$!; __hg; echo "running=$?"; kill "$__hp"; wait "$__hp" 2>/dev/null; __hp=',
        zombie, '__hg; echo "zombie=$?"; kill "$zh"; wait "$zh" 2>/dev/null; __hp=',
        restore_line("ffffffffffff", False),
        'echo "ps1=[$PS1]"; echo "ps2-restored=[$PS2]"',
        *[line for line, _ in setup_lines("t2")],
        'echo "again=$__hd"', restore_line("gggggggggggg", True), "echo after-logout"])
    done = subprocess.run(shell + ["-c", script], capture_output=True, cwd="/tmp", timeout=30,
                          env=dict(os.environ, TMPDIR=str(tmp_path)))
    stream = done.stdout

    def value(name: bytes) -> bytes:
        return stream.split(name + b"=", 1)[1].split(b"\n", 1)[0]

    # No continuation prompt, no PROMPT_COMMAND output between reports; the private folder in $TMPDIR.
    assert (value(b"ps2"), value(b"pc")) == (b"[]", b"[unset]")
    assert value(b"folder").startswith(str(tmp_path).encode() + b"/")
    parser = ReportParser("aaaaaaaaaaaa", 1000)
    parser.feed(stream)
    status = parser.report().status
    assert status is not None and status.out_crc == posix_cksum(b"hi\n")  # checked by cksum, not by size alone
    parser = ReportParser("bbbbbbbbbbbb", 1000)
    parser.feed(stream)
    streams = parser.report().streams()
    assert streams is not None
    # FORK: eval in a forked subshell of the login shell (its $$); CHILD: a fresh `sh -c` (its own $$).
    assert (streams[0].strip() == value(b"login")) is (strategy is Strategy.FORK)
    # The liveness check that decides whether a timed-out command is gone.
    assert (value(b"ended"), value(b"running"), value(b"zombie")) == (b"1", b"0", b"1")
    # Restored: the prompts as they were; a fresh, unpredictable folder each time; logged out when asked.
    assert b"__HQffffffffffff\n" in stream and (value(b"ps1"), value(b"ps2-restored")) == (b"[orig1 ]", b"[orig2 ]")
    assert value(b"again") != value(b"folder") and not os.path.exists(value(b"again"))
    assert stream.endswith(b"__HQgggggggggggg\n") and b"after-logout" not in stream
