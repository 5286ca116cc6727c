"""The pytest plugin, run as the runner runs it (a pytest subprocess) against a real OpenSSH sshd on
loopback: journal lines, evidence, outcomes, recovery, timeouts, selection, secrets. Plus the pure
outcome and selection policies."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import CommandTimeout, ConnectionLost
from harness.lab.peers.sshd import OpenSshServer
from harness.plugin.outcome import PhaseOutcome, TestTimedOut, classify, combine
from harness.plugin.selection import Shard, select, suite_test_id
from harness.results.model import Outcome
from harness.waiting import poll_until

REPO = Path(__file__).resolve().parent.parent
SECRET = "Tr0ub4dor-plugin-secret"

pytestmark = pytest.mark.peer("sshd")

# -- pure policy ------------------------------------------------------------------------------------


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001 - returns what was raised, whatever it is
        return caught


def test_classify_maps_each_kind_of_ending() -> None:
    assert classify("call", "passed", None).outcome is Outcome.PASS
    fail = classify("call", "failed", _raised(AssertionError("exit code was 3")))
    assert (fail.outcome, fail.message) == (Outcome.FAIL, "exit code was 3")
    assert classify("call", "failed", _raised(pytest.fail.Exception("nope"))).outcome is Outcome.FAIL
    lost = classify("call", "failed", ConnectionLost("link dropped"))
    assert (lost.outcome, lost.message) == (Outcome.ERROR, "ConnectionLost: link dropped")
    assert classify("setup", "failed", CommandTimeout("slow", usable=False)).outcome is Outcome.ERROR
    bug = classify("call", "failed", TypeError("bad arg"))
    assert (bug.outcome, bug.message) == (Outcome.ERROR, "TypeError: bad arg")
    setup = classify("setup", "failed", AssertionError("fixture assert"))
    assert setup.outcome is Outcome.ERROR and setup.message.startswith("error in setup")
    assert classify("teardown", "failed", ValueError("x")).outcome is Outcome.ERROR
    timed = classify("call", "failed", TestTimedOut(2))
    assert (timed.outcome, timed.message) == (Outcome.ERROR, "timed out after 2 s")
    skip = classify("setup", "skipped", _raised(pytest.skip.Exception("no GPU")))
    assert (skip.outcome, skip.message) == (Outcome.SKIP, "no GPU")
    # A skip must say why: without a reason it is an error, never a quiet pass.
    assert classify("call", "skipped", _raised(pytest.skip.Exception(""))).outcome is Outcome.ERROR
    assert classify("call", "skipped", None, xfail_reason="known bug").outcome is Outcome.FAIL
    assert classify("call", "passed", None, xfail_reason="known bug").outcome is Outcome.PASS
    # Lab trouble under xfail is still lab trouble, never an "expected" product failure.
    assert classify("call", "skipped", ConnectionLost("gone"), xfail_reason="known bug").outcome is Outcome.ERROR
    assert classify("setup", "skipped", ValueError("x"), xfail_reason="known bug").outcome is Outcome.ERROR
    assert classify("call", "skipped", TestTimedOut(2), xfail_reason="known bug").outcome is Outcome.ERROR
    notrun = classify("setup", "skipped", None, xfail_reason="[NOTRUN] flaky rig")
    assert notrun.outcome is Outcome.SKIP and "flaky rig" in notrun.message


def test_combine_keeps_the_most_severe_and_every_message() -> None:
    passed = PhaseOutcome("setup", Outcome.PASS)
    assert combine([passed, PhaseOutcome("call", Outcome.PASS), PhaseOutcome("teardown", Outcome.PASS)]) == (
        Outcome.PASS,
        "",
    )
    outcome, message = combine(
        [passed, PhaseOutcome("call", Outcome.FAIL, "bad"), PhaseOutcome("teardown", Outcome.ERROR, "boom")]
    )
    assert outcome is Outcome.FAIL and message == "call: bad; teardown: boom"
    assert (
        combine([passed, PhaseOutcome("call", Outcome.PASS), PhaseOutcome("teardown", Outcome.ERROR, "x")])[0]
        is Outcome.ERROR
    )
    assert combine([])[0] is Outcome.NOT_RUN


def test_shards_partition_deterministically_and_only_applies_after() -> None:
    ids = [f"s/test_{c}.py::t" for c in "gfedcba"]
    shards = [Shard.parse(f"{k}/3").select(ids) for k in (1, 2, 3)]
    assert set().union(*shards) == set(ids) and sum(map(len, shards)) == len(ids)
    assert shards[0] == {"s/test_a.py::t", "s/test_d.py::t", "s/test_g.py::t"}  # sorted, index % 3 == 0
    chosen = select(ids, shard=Shard(1, 3), only=["s/test_a.py::t", "s/test_b.py::t", "s/nope.py::t"])
    assert [ids[i] for i in chosen.keep] == ["s/test_a.py::t"] and chosen.missing == ["s/nope.py::t"]


def test_test_ids_are_relative_to_the_suites_root(tmp_path: Path) -> None:
    suite = tmp_path / "root" / "kernel"
    (suite / "sub").mkdir(parents=True)
    (suite / "suite.toml").write_text("")
    path = suite / "sub" / "test_cfg.py"
    assert suite_test_id(path, "kernel/sub/test_cfg.py::test_x[a]") == (
        "kernel/sub/test_cfg.py::test_x[a]",
        "kernel",
    )
    assert suite_test_id(tmp_path / "loose" / "test_y.py", "loose/test_y.py::t") == (
        "loose/test_y.py::t",
        "loose",
    )


# -- the plugin in a real pytest process against a real sshd ----------------------------------------

DEMO_TOML = """id = "demo"
version = "1.0"
title_en = "Demo"
title_zh = "演示"

[[requirements]]
id = "DEMO-1"
level = "MUST"
title_en = "m"
title_zh = "m"
"""

DEMO_TESTS = """
import pytest
from harness.errors import ConnectionLost


@pytest.mark.requirement("DEMO-1")
def test_pass(dut):
    result = dut.run("echo hello; echo oops >&2; exit 0")
    assert result.stdout_text == "hello\\n"
    dut.metric("answer", 42, unit="n", high=50)


@pytest.mark.requirement("DEMO-1", "DEMO-X")
def test_fail(dut):
    code = dut.run("exit 3").exit_code
    assert code == 0, f"expected exit 0, got {code}"


def test_skip(dut):
    pytest.skip("no GPU on this board")


def test_lab_trouble(dut):
    raise ConnectionLost("the link went away")


def test_bug_in_suite(dut):
    return {}["missing"]


def test_big_output(dut):
    dut.run("head -c 50000 /dev/zero | tr '\\\\0' x; echo; echo TAIL-MARK")


def test_transfer(dut, tmp_path):
    (tmp_path / "a.txt").write_text("payload")
    dut.push(tmp_path / "a.txt", str(tmp_path / "remote.txt"))
    dut.pull(str(tmp_path / "remote.txt"), tmp_path / "back.txt")
    assert (tmp_path / "back.txt").read_text() == "payload"
"""


def write_suite(root: Path, name: str, toml: str, tests: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suite.toml").write_text(toml.replace('"demo"', f'"{name}"'), encoding="utf-8")
    (folder / f"test_{name}.py").write_text(textwrap.dedent(tests), encoding="utf-8")
    return folder


def inventory_text(sshd: OpenSshServer, name: str = "box", *, password: bool = False) -> str:
    auth = f'password = "{SECRET}"' if password else f'key_file = "{sshd.client_key}"'
    return (
        f'[devices.{name}]\nkind = "board"\nprofile = "generic-linux"\n'
        f'ssh = {{ host = "127.0.0.1", port = {sshd.port}, user = "{sshd.user}", {auth}, '
        f'host_key = "{sshd.fingerprint}", connect_timeout = 3 }}\n'
    )


@pytest.fixture(scope="module")
def sshd() -> Iterator[OpenSshServer]:
    with OpenSshServer(password=SECRET) as server:
        yield server


@pytest.fixture
def inventory(tmp_path: Path, sshd: OpenSshServer) -> Path:
    path = tmp_path / "devices.toml"
    path.write_text(inventory_text(sshd) + inventory_text(sshd, "pwbox", password=True))
    return path


def worker(
    paths: list[Path],
    *args: str,
    cwd: Path,
    pass_fds: tuple[int, ...] = (),
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *map(str, paths), *args]
    return subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        pass_fds=pass_fds,
        env={**os.environ, **(env or {})},
    )


def journaled(paths: list[Path], inventory: Path, run_dir: Path, *args: str, cwd: Path,
              **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """A worker on device "box" journaling into run_dir."""
    return worker(paths, "--device", "box", "--inventory", str(inventory), "--harness-run-dir", str(run_dir),
                  *args, cwd=cwd, **kwargs)


def journal(run_dir: Path, device: str = "box") -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "journal" / f"{device}.jsonl").read_text().splitlines()]


def results(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["test_id"].split("::")[1]: line for line in lines if line["type"] == "result"}


def test_journal_outcomes_evidence_and_progress_pipe(tmp_path: Path, inventory: Path) -> None:
    root = tmp_path / "suites"
    write_suite(root, "demo", DEMO_TOML, DEMO_TESTS)
    run_dir = tmp_path / "run"
    read_end, write_end = os.pipe()
    proc = journaled(
        [root / "demo"],
        inventory,
        run_dir,
        "--harness-attempt",
        "2",
        cwd=tmp_path,
        pass_fds=(write_end,),
        env={"HARNESS_PROGRESS_FD": str(write_end)},
    )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        progress = pipe.read().decode()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = journal(run_dir)
    assert progress == (run_dir / "journal" / "box.jsonl").read_text()  # the same lines, live
    # The raised ConnectionLost counts as a dropped link: the device is reconnected (and re-probed:
    # a second device line) before the next test.
    kinds = [line["type"] for line in lines]
    assert kinds == ["plan", "device"] + ["result"] * 4 + ["device"] + ["result"] * 3 + ["end"]
    assert lines[5]["test_id"].endswith("::test_lab_trouble")
    plan = lines[0]
    assert plan["attempt"] == 2 and plan["profile"] == "generic-linux" and plan["kind"] == "board"
    assert plan["tests"][0] == {
        "test_id": "demo/test_demo.py::test_pass",
        "suite": "demo",
        "requirements": ["DEMO-1"],
    }
    assert lines[1]["identity"]["kernel"] == os.uname().release
    by_name = results(lines)
    outcome = {name: (r["outcome"], r["message"]) for name, r in by_name.items()}
    assert outcome["test_pass"] == ("PASS", "")
    assert outcome["test_fail"][0] == "FAIL" and "expected exit 0, got 3" in outcome["test_fail"][1]
    assert outcome["test_skip"] == ("SKIP", "no GPU on this board")
    assert outcome["test_lab_trouble"] == ("ERROR", "ConnectionLost: the link went away")
    assert outcome["test_bug_in_suite"] == ("ERROR", "KeyError: 'missing'")
    assert outcome["test_big_output"][0] == "PASS"
    passed = by_name["test_pass"]
    assert passed["attempt"] == 2 and passed["requirements"] == ["DEMO-1"]
    (ev,) = passed["evidence"]
    assert (ev["command"], ev["exit_code"], ev["stdout"], ev["stderr"].endswith("oops\n")) == (
        "echo hello; echo oops >&2; exit 0",
        0,
        "hello\n",
        True,
    )
    assert ev["duration"] >= 0 and abs(ev["started"] - time.time()) < 60 and ev["truncated"] is False
    assert passed["metrics"] == [{"name": "answer", "value": 42.0, "unit": "n", "low": None, "high": 50.0}]
    assert by_name["test_fail"]["requirements"] == ["DEMO-1", "DEMO-X"]
    assert by_name["test_fail"]["evidence"][0]["exit_code"] == 3
    (big,) = by_name["test_big_output"]["evidence"]
    assert big["truncated"] is True and len(big["stdout"]) < 9000 and big["stdout"].endswith("TAIL-MARK\n")
    transfer = by_name["test_transfer"]
    assert transfer["outcome"] == "PASS"
    assert [(e["command"][:6], e["exit_code"]) for e in transfer["evidence"]] == [
        ("[push]", 0),
        ("[pull]", 0),
    ]
    assert lines[-1]["interrupted"] is False
    log = (run_dir / "logs" / "box" / "commands.log").read_text()
    assert "===== demo/test_demo.py::test_big_output" in log and "x" * 50000 in log  # the full output
    assert "$ exit 3" in log


def test_dropped_link_is_recovered_before_the_next_test(tmp_path: Path, inventory: Path) -> None:
    root = tmp_path / "suites"
    tests = """
    def test_1_drop(dut):
        dut.run("kill -9 $PPID; sleep 2")  # the sshd session serving this command dies

    def test_2_after(dut):
        assert dut.run("echo back").stdout_text == "back\\n"
    """
    write_suite(root, "drop", DEMO_TOML, tests)
    run_dir = tmp_path / "run"
    proc = journaled(
        [root / "drop"],
        inventory,
        run_dir,
        cwd=tmp_path,
    )
    lines = journal(run_dir)
    got = results(lines)
    assert got["test_1_drop"]["outcome"] == "ERROR" and "ConnectionLost" in got["test_1_drop"]["message"], (
        proc.stdout
    )
    assert got["test_1_drop"]["evidence"][0]["exit_code"] is None
    assert got["test_1_drop"]["evidence"][0]["error"].startswith("ConnectionLost")
    assert got["test_2_after"]["outcome"] == "PASS"
    # Reconnected and re-probed: a second device line between the two results.
    assert [line["type"] for line in lines] == ["plan", "device", "result", "device", "result", "end"]


BOOT_BUDGET = 3


def test_device_that_does_not_come_back_errors_the_rest_quickly(tmp_path: Path) -> None:
    with OpenSshServer() as doomed:
        inv = tmp_path / "devices.toml"
        inv.write_text(inventory_text(doomed))
        root = tmp_path / "suites"
        tests = f"""
        def test_1_kill_device(dut):
            dut.run("kill -9 {doomed.pid}; kill -9 $PPID; sleep 2")

        def test_2(dut):
            pass

        def test_3(dut):
            pass

        def test_4_no_device_needed():
            pass
        """
        write_suite(root, "gone", DEMO_TOML, tests)
        run_dir = tmp_path / "run"
        worker(
            [root / "gone"],
            "--device",
            "box",
            "--inventory",
            str(inv),
            "--harness-run-dir",
            str(run_dir),
            "--harness-boot-timeout",
            str(BOOT_BUDGET),
            cwd=tmp_path,
        )
    got = results(journal(run_dir))
    assert got["test_1_kill_device"]["outcome"] == "ERROR"
    for name in ("test_2", "test_3"):
        assert got[name]["outcome"] == "ERROR" and got[name]["message"].startswith("device unreachable: "), (
            got[name]
        )
    assert "NotReady" in got["test_2"]["message"]
    # The records say so in a field the builder reads (not in words it would have to match).
    assert [got[n].get("unreachable", False) for n in ("test_2", "test_3", "test_4_no_device_needed")] == [
        True, True, False]
    # One wait for the boot budget, not one per test: a second wait would last the budget again.
    # The budget is long next to a test that errors at once, so a loaded machine stays under it.
    assert got["test_3"]["duration"] < BOOT_BUDGET
    assert got["test_4_no_device_needed"]["outcome"] == "PASS"


def test_per_test_timeout_stops_the_test_and_the_remote_command(tmp_path: Path, inventory: Path) -> None:
    root = tmp_path / "suites"
    tests = f"""
    def test_1_hangs(dut):
        dut.run("{HANG_SLEEP}", timeout=60)

    def test_2_next(dut):
        assert dut.run("true").exit_code == 0
    """
    write_suite(root, "slow", DEMO_TOML, tests)
    run_dir = tmp_path / "run"
    started = time.monotonic()
    journaled(
        [root / "slow"],
        inventory,
        run_dir,
        "--harness-test-timeout",
        "1",
        cwd=tmp_path,
    )
    # Stopped at its 1 s timeout, not left to run its 37 s sleep (whatever the machine's load).
    assert time.monotonic() - started < 37
    got = results(journal(run_dir))
    assert (got["test_1_hangs"]["outcome"], got["test_1_hangs"]["message"]) == (
        "ERROR",
        "timed out after 1 s",
    )
    assert got["test_1_hangs"]["evidence"][0]["exit_code"] is None
    assert got["test_2_next"]["outcome"] == "PASS"  # the link was checked and still works
    _end_leftover(HANG_SLEEP)


# Leftover sleeps are ended by their exact command line: one unique to this process, so two test
# sessions at once (a loaded CI host, a second checkout) never end each other's.
HANG_SLEEP = f"sleep 37.{os.getpid():07d}"
LONG_SLEEP = f"sleep 41.{os.getpid():07d}"


def _end_leftover(command: str) -> None:
    """OpenSSH refuses signal requests for root sessions ("session signalling requires privilege
    separation") and a no-pty command outlives its closed channel: end the test's own leftover."""
    found = subprocess.run(["pgrep", "-f", "-x", command], capture_output=True, text=True).stdout.split()
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def test_ctrl_c_records_the_current_test_and_an_interrupted_end(tmp_path: Path, inventory: Path) -> None:
    root = tmp_path / "suites"
    marker = tmp_path / "started"
    tests = f"""
    def test_1_long(dut):
        dut.run("touch {marker}; {LONG_SLEEP}")

    def test_2_never(dut):
        pass
    """
    write_suite(root, "intr", DEMO_TOML, tests)
    run_dir = tmp_path / "run"
    # A test session started in the background of a shell script (`make test &`, a CI step) inherits
    # SIGINT ignored, and so would this pytest: give it Ctrl-C back, as the runner does for its workers
    # (harness.run.worker), so the test does not depend on how its own session was started.
    argv = [
        sys.executable,
        "-c",
        "import signal, sys, pytest; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.exit(pytest.main(sys.argv[1:]))",
        "-p",
        "no:cacheprovider",
        "-q",
        str(root / "intr"),
        "--device",
        "box",
        "--inventory",
        str(inventory),
        "--harness-run-dir",
        str(run_dir),
    ]
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        poll_until(marker.exists, 20, what="the long test to start")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 2  # pytest's "interrupted"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = journal(run_dir)
    got = results(lines)
    assert got["test_1_long"]["outcome"] == "NOT_RUN" and "interrupted" in got["test_1_long"]["message"]
    assert "test_2_never" not in got
    assert lines[-1] == {**lines[-1], "type": "end", "interrupted": True}
    _end_leftover(LONG_SLEEP)


SELECT_TESTS = "".join(f"\ndef test_{c}():\n    pass\n" for c in "abcdefg")


def test_shards_partition_the_tests_and_only_and_repeat(tmp_path: Path, inventory: Path) -> None:
    root = tmp_path / "suites"
    write_suite(root, "sel", DEMO_TOML, SELECT_TESTS)
    common = ["--device", "box", "--inventory", str(inventory)]

    def planned(run: str, *args: str) -> tuple[list[str], list[dict[str, Any]]]:
        run_dir = tmp_path / run
        proc = worker([root / "sel"], *common, "--harness-run-dir", str(run_dir), *args, cwd=tmp_path)
        assert proc.returncode in (0, 5), proc.stdout + proc.stderr
        lines = journal(run_dir)
        return [t["test_id"] for t in lines[0]["tests"]], [line for line in lines if line["type"] == "result"]

    shards = [planned(f"s{k}", "--harness-shard", f"{k}/3")[0] for k in (1, 2, 3)]
    every = [f"sel/test_sel.py::test_{c}" for c in "abcdefg"]
    assert sorted(sum(shards, [])) == every  # a partition: each test in exactly one shard
    assert shards[0] == ["sel/test_sel.py::test_a", "sel/test_sel.py::test_d", "sel/test_sel.py::test_g"]
    assert planned("s1-again", "--harness-shard", "1/3")[0] == shards[0]

    only = tmp_path / "only.txt"
    only.write_text("# retry\nsel/test_sel.py::test_c\n\nsel/test_sel.py::test_f\nsel/test_sel.py::test_zz\n")
    ids, ran = planned("only", "--harness-only", str(only))
    assert ids == ["sel/test_sel.py::test_c", "sel/test_sel.py::test_f"]
    assert sorted(r["test_id"] for r in ran) == ids
    assert journal(tmp_path / "only")[0]["missing"] == ["sel/test_sel.py::test_zz"]

    ids, ran = planned("rep", "--harness-repeat", "3", "--harness-only", str(only))
    assert (
        ids == ["sel/test_sel.py::test_c", "sel/test_sel.py::test_f"]
        and journal(tmp_path / "rep")[0]["repeat"] == 3
    )
    assert [(r["test_id"][-1], r["repeat"], r["outcome"]) for r in ran] == [
        (c, i, "PASS") for c in "cf" for i in range(3)
    ]


def test_inline_password_never_reaches_journal_or_logs(tmp_path: Path, inventory: Path) -> None:
    root = tmp_path / "suites"
    tests = f"""
    def test_leaks(dut):
        out = dut.run("echo pw={SECRET}; echo {SECRET} >&2").stdout_text
        assert out == "nothing", out
    """
    write_suite(root, "leak", DEMO_TOML, tests)
    run_dir = tmp_path / "run"
    proc = worker(
        [root / "leak"],
        "--device",
        "pwbox",
        "--inventory",
        str(inventory),
        "--harness-run-dir",
        str(run_dir),
        cwd=tmp_path,
    )
    (result,) = results(journal(run_dir, "pwbox")).values()
    assert result["outcome"] == "FAIL", proc.stdout  # logged in with the password, ran, failed
    assert result["evidence"][0]["stdout"] == "pw=********\n"
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path


EVIDENCE_TESTS = """
import pytest


@pytest.fixture(scope="module")
def shared(dut):
    return dut.run("echo shared").stdout_text


@pytest.mark.requirement("DEMO-1")
def test_runs(dut, shared):
    assert shared == "shared\\n"


@pytest.mark.requirement("DEMO-1")
def test_reuses_what_a_fixture_read(dut, shared):
    assert shared


@pytest.mark.requirement("DEMO-1")
def test_judges_the_identity(ident):
    assert ident.kernel


@pytest.mark.requirement("DEMO-1")
def test_reads_nothing_from_the_device(dut):
    assert dut.spec.kind == "board"


@pytest.mark.requirement("DEMO-1")
@pytest.mark.data_only("compares two reference tables")
def test_declared_data_only(dut):
    assert dut.spec.kind == "board"


@pytest.mark.requirement("DEMO-1")
@pytest.mark.data_only("")
def test_data_only_without_a_reason(dut):
    pass


@pytest.mark.requirement("DEMO-1")
def test_fails_without_evidence(dut):
    assert False, "a failure is reported whatever it rests on"
"""


def test_a_pass_rests_on_the_device_or_is_declared_data_only(tmp_path: Path, inventory: Path) -> None:
    folder = write_suite(tmp_path / "suites", "evid", DEMO_TOML, EVIDENCE_TESTS)
    run_dir = tmp_path / "run"
    proc = journaled([folder], inventory, run_dir, cwd=tmp_path)
    got = {name: (r["outcome"], r["message"]) for name, r in results(journal(run_dir)).items()}
    assert got["test_runs"] == ("PASS", ""), proc.stdout
    assert got["test_reuses_what_a_fixture_read"] == ("PASS", "")  # its fixture's command is its evidence
    assert got["test_judges_the_identity"] == ("PASS", "")
    assert got["test_reads_nothing_from_the_device"][0] == "ERROR"
    assert got["test_reads_nothing_from_the_device"][1].startswith("passed without device evidence")
    assert got["test_declared_data_only"] == ("PASS", "data only: compares two reference tables")
    assert got["test_data_only_without_a_reason"][0] == "ERROR"
    assert "needs a reason" in got["test_data_only_without_a_reason"][1]
    assert got["test_fails_without_evidence"][0] == "FAIL"


WEAK_TESTS = """
import pytest


@pytest.mark.requirement("DEMO-1")
def test_output_about_the_device(dut):
    out = dut.run("cat model.txt").stdout_text
    assert out == "nothing", out


@pytest.mark.requirement("DEMO-1")
def test_a_command_carrying_the_password(dut):
    assert dut.run("echo board | cat").stdout_text == "nothing"


@pytest.mark.requirement("DEMO-1")
def test_skip_naming_the_device(dut):
    pytest.skip(f"not on {dut.name}, a {dut.spec.kind}")
"""


def test_a_weak_password_is_masked_where_it_is_used_and_nowhere_else(tmp_path: Path) -> None:
    # The password is the device's kind, part of its name, and a word its output uses for other things.
    with OpenSshServer(password="board") as server:
        (server.empty_home / "model.txt").write_text(
            "model: acme board v2\nCONFIG_BOARD_ACME=y\nkind=board\nROOT_PASSWORD=board\n"
        )
        inventory = tmp_path / "devices.toml"
        inventory.write_text(
            '[devices.ceo-board]\nkind = "board"\nprofile = "generic-linux"\n'
            f'ssh = {{ host = "127.0.0.1", port = {server.port}, user = "{server.user}", password = "board", '
            f'host_key = "{server.fingerprint}", connect_timeout = 3 }}\n'
        )
        folder = write_suite(tmp_path / "suites", "weak", DEMO_TOML, WEAK_TESTS)
        run_dir = tmp_path / "run"
        proc = worker([folder], "--device", "ceo-board", "--inventory", str(inventory),
                      "--harness-run-dir", str(run_dir), cwd=tmp_path)
    lines = journal(run_dir, "ceo-board")
    device = next(line for line in lines if line["type"] == "device")
    assert (device["device"], device["kind"]) == ("ceo-board", "board"), proc.stdout
    got = results(lines)
    output = got["test_output_about_the_device"]
    assert output["outcome"] == "FAIL" and output["device"] == "ceo-board"
    # Unrelated text keeps its words; only an assignment to a password variable is masked.
    shown = "model: acme board v2\nCONFIG_BOARD_ACME=y\nkind=board\nROOT_PASSWORD=********\n"
    assert output["evidence"][0]["stdout"] == shown
    message = output["message"]
    assert message.startswith("model: acme board v2\n") and "kind=board" in message, message
    assert "ROOT_PASSWORD=********" in message and "PASSWORD=board" not in message
    carried = got["test_a_command_carrying_the_password"]
    assert carried["evidence"][0]["command"] == "echo ******** | cat"
    assert carried["evidence"][0]["stdout"] == "********\n"
    assert got["test_skip_naming_the_device"]["message"] == "not on ceo-board, a board"
    for path in run_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert "echo board" not in text and "PASSWORD=board" not in text and "ceo-***" not in text, path
    # The CLI: the load says the password is weak; errors and listings keep the device's name.
    listed = subprocess.run([sys.executable, "-m", "harness", "devices", "--no-probe", "--json", "-i", str(inventory)],
                            capture_output=True, text=True, timeout=60)
    assert [d["name"] for d in json.loads(listed.stdout)] == ["ceo-board"], listed.stderr
    assert json.loads(listed.stdout)[0]["kind"] == "board"
    assert ("device 'ceo-board', key 'ssh.password': warning: the inline password is short (5 characters), "
            "a common word and the device's kind; use a longer one, or password_env") in listed.stderr
    refused = subprocess.run([sys.executable, "-m", "harness", "-i", str(inventory), "exec", "ceo-board", "--via",
                              "adb", "--", "true"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "'ceo-board'" in refused.stderr, refused.stderr


def test_smoke_suite_runs_alone_without_a_run_dir(tmp_path: Path, inventory: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc = worker([REPO / "suites" / "smoke"], "--device", "box", "--inventory", str(inventory), cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
    assert list(cwd.iterdir()) == []  # nothing written without --harness-run-dir


def test_dut_without_device_errors_clearly(tmp_path: Path) -> None:
    proc = worker([REPO / "suites" / "smoke"], "-rE", cwd=tmp_path)
    assert proc.returncode == 1
    assert "3 errors" in proc.stdout and "this test needs a device: give --device NAME" in proc.stdout


def test_collection_error_is_planned_and_recorded_as_error(tmp_path: Path, inventory: Path) -> None:
    root = tmp_path / "suites"
    write_suite(root, "broken", DEMO_TOML, "def test_ok():\n    pass\n")
    (root / "broken" / "test_syntax.py").write_text("def test_x(:\n")
    run_dir = tmp_path / "run"
    proc = journaled(
        [root / "broken"],
        inventory,
        run_dir,
        cwd=tmp_path,
    )
    assert proc.returncode == 2  # pytest stops after collection errors
    lines = journal(run_dir)
    planned = [t["test_id"] for t in lines[0]["tests"]]
    assert planned == ["broken/test_broken.py::test_ok", "broken/test_syntax.py"]
    (error,) = [line for line in lines if line["type"] == "result"]
    assert error["test_id"] == "broken/test_syntax.py" and error["outcome"] == "ERROR"
    assert error["message"].startswith("collection error:") and "SyntaxError" in error["message"]
    assert lines[-1]["type"] == "end"


SCOPED_TOML = DEMO_TOML + """
[[requirements]]
id = "DEMO-HANDSET"
level = "MUST"
title_en = "h"
title_zh = "h"
applies_to = { kinds = ["handset"] }

[[requirements]]
id = "DEMO-LINUX"
level = "MUST"
title_en = "l"
title_zh = "l"
applies_to = { profiles = ["generic-linux"] }
"""

SCOPED_TESTS = """
import pytest


@pytest.mark.requirement("DEMO-HANDSET")
def test_handsets_only(dut):
    assert False, "must not run on a board"


@pytest.mark.requirement("DEMO-LINUX")
def test_linux_data(dut, suite_data, ident):
    assert suite_data["limit"] == 7 and suite_data["source"] == "generic-linux"
    assert ident.kernel
"""


def test_plugin_skips_what_does_not_apply_and_resolves_suite_data(tmp_path: Path, inventory: Path) -> None:
    folder = write_suite(tmp_path / "suites", "scoped", SCOPED_TOML, SCOPED_TESTS)
    (folder / "data").mkdir()
    (folder / "data" / "scoped.toml").write_text(
        '[default]\nlimit = 3\nsource = "default"\n\n[profile.generic-linux]\nlimit = 7\nsource = "generic-linux"\n'
    )
    run_dir = tmp_path / "run"
    proc = journaled([folder], inventory, run_dir, cwd=tmp_path)
    outcomes = results(journal(run_dir))
    assert outcomes["test_handsets_only"]["outcome"] == "SKIP", proc.stdout
    assert "not applicable" in outcomes["test_handsets_only"]["message"]
    assert "kinds handset" in outcomes["test_handsets_only"]["message"]
    assert outcomes["test_linux_data"]["outcome"] == "PASS", proc.stdout


def test_a_secret_straddling_the_excerpt_cut_is_still_masked() -> None:
    from harness.plugin.evidence import EXCERPT_LIMIT, excerpt
    from harness.secrets import register

    register("straddling-secret-0123456789")
    head = EXCERPT_LIMIT * 3 // 4
    data = b"a" * (head - 20) + b"API_TOKEN=straddling-secret-0123456789\n" + b"b" * (3 * EXCERPT_LIMIT)
    text, cut = excerpt(data)
    assert cut and "straddling" not in text and "0123456789" not in text
