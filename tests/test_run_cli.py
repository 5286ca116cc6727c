"""`harness run / retry / merge` through the CLI, as a subprocess, against a real OpenSSH sshd on
loopback. Several inventory entries point at one sshd; each test gets its own sshd, suites root,
inventory and reports folder.

The suite under test ("lab") is written into a temp dir. The device's HOME (sshd.empty_home) is the
test's control panel: files there make a test hang (lab fault) or fail (product fault), a fake `uname`
changes the build fingerprint, and a shared flock held by the test stops every device mid-test at a
known point (a rendezvous that only a parallel run can reach on all devices at once)."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.lab.peers.sshd import OpenSshServer
from harness.report.junit import xml_safe
from harness.results.model import Verdict
from harness.run.gate import DeviceGate, gate_code
from harness.waiting import poll_until
from tests.run_records import journal_lines, no_workers_left, outcomes, results_of, verdicts

pytestmark = pytest.mark.peer("sshd")

SUITE_TOML = """
id = "lab"
version = "1.0.0"
title_en = "Lab"
title_zh = "实验"

[[requirements]]
id = "LAB-1"
level = "MUST"
title_en = "commands run"
title_zh = "命令可运行"

[[requirements]]
id = "LAB-2"
level = "MUST"
title_en = "the product behaves"
title_zh = "产品行为正确"

[[requirements]]
id = "LAB-3"
level = "SHOULD"
title_en = "extras"
title_zh = "附加"
"""

SUITE_PY = r'''
import pytest


@pytest.mark.requirement("LAB-1")
def test_echo(dut):
    assert dut.run("echo hi").stdout_text == "hi\n"


@pytest.mark.requirement("LAB-1")
def test_rendezvous(dut):
    # Say "here", then wait while the test holds the lock: every device stops at this point.
    result = dut.run(f"touch ~/arrived.{dut.name} && flock -s ~/lock true", timeout=60)
    assert result.exit_code == 0


@pytest.mark.requirement("LAB-2")
def test_no_hang(dut):
    # ~/hang is a lab fault: the command hangs, times out, and the test is an ERROR.
    assert dut.run("if [ -e ~/hang ]; then sleep 30; fi; true", timeout=1.5).exit_code == 0


@pytest.mark.requirement("LAB-2")
def test_product(dut):
    # ~/broken is a product fault: a MUST fails.
    assert dut.run("test ! -e ~/broken").exit_code == 0, "the product is broken"


@pytest.mark.requirement("LAB-3")
@pytest.mark.parametrize("n", range(4))
def test_many(dut, n):
    assert dut.run(f"echo {n}").stdout_text.strip() == str(n)
'''

TEST_IDS = [
    "lab/test_lab.py::test_echo",
    "lab/test_lab.py::test_rendezvous",
    "lab/test_lab.py::test_no_hang",
    "lab/test_lab.py::test_product",
    *(f"lab/test_lab.py::test_many[{n}]" for n in range(4)),
]
DEADLINE = 60.0


class Lab:
    """One sshd, N device names on it, a suites root and a reports folder."""

    def __init__(self, tmp: Path, sshd: OpenSshServer, devices: list[str]) -> None:
        self.tmp, self.sshd, self.devices = tmp, sshd, devices
        self.home = sshd.empty_home
        self.suites = tmp / "suites"
        (self.suites / "lab").mkdir(parents=True)
        (self.suites / "lab" / "suite.toml").write_text(SUITE_TOML)
        (self.suites / "lab" / "test_lab.py").write_text(SUITE_PY)
        self.reports = tmp / "reports"
        self.inventory = tmp / "devices.toml"
        self.write_inventory()
        # A fake `uname` first on the device's PATH: the build fingerprint (ID/VERSION_ID/uname -r)
        # is then whatever ~/kernel_release says.
        (self.home / ".bashrc").write_text('export PATH="$HOME/bin:$PATH"\n')
        (self.home / "bin").mkdir()
        uname = self.home / "bin" / "uname"
        uname.write_text('#!/bin/sh\nif [ "$1" = -r ]; then cat "$HOME/kernel_release"; '
                         'else exec /usr/bin/uname "$@"; fi\n')
        uname.chmod(0o755)
        self.set_build("6.1.0-lab-a")

    def write_inventory(self) -> None:
        s = self.sshd
        self.inventory.write_text("".join(
            f'[devices.{name}]\nkind = "board"\nprofile = "generic-linux"\ntags = ["lab"]\n'
            f'ssh = {{ host = "127.0.0.1", port = {s.port}, user = "{s.user}", key_file = "{s.client_key}", '
            f'host_key = "{s.fingerprint}" }}\n\n' for name in self.devices))

    def set_build(self, release: str) -> None:
        (self.home / "kernel_release").write_text(release + "\n")

    def flag(self, name: str, on: bool = True) -> None:
        path = self.home / name
        if on:
            path.touch()
        else:
            path.unlink(missing_ok=True)

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "harness", "-i", str(self.inventory), *args]

    def harness(self, *args: str, common: bool = True) -> subprocess.CompletedProcess[str]:
        extra = ["--reports", str(self.reports), "--plain"] if common else []
        return subprocess.run(self.argv(*args, *extra), capture_output=True, text=True, timeout=DEADLINE,
                              cwd=self.tmp)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args, "--reports", str(self.reports), "--plain"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.tmp)

    def run_dir(self, run_id: str) -> Path:
        return self.reports / run_id

    def wait_arrived(self, devices: list[str] | None = None) -> None:
        names = devices or self.devices
        poll_until(lambda: all((self.home / f"arrived.{d}").exists() for d in names), DEADLINE,
                   what="every device to reach the rendezvous")

    @contextmanager
    def held_lock(self) -> Iterator[None]:
        with open(self.home / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def lab_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    # Every run signs its bundle: a private key dir, never the tester's ~/.config/harness.
    monkeypatch.setenv("HARNESS_KEY_DIR", str(tmp_path / "keys"))
    servers: list[OpenSshServer] = []

    def make(n: int) -> Lab:
        sshd = OpenSshServer().start()
        servers.append(sshd)
        return Lab(tmp_path, sshd, [f"dev{i}" for i in range(n)])

    yield make
    for s in servers:
        s.cleanup()












# -- the tests ---------------------------------------------------------------------------------------


def test_parallel_run_on_five_devices_passes_the_gate(lab_factory) -> None:
    lab = lab_factory(5)
    with lab.held_lock():
        proc = lab.start("run", "lab", "--all", "--suites-root", str(lab.suites), "--run-id", "par",
                         "--junit", str(lab.tmp / "ci" / "junit.xml"))
        # Only a parallel runner gets all five devices into the same test at the same time.
        lab.wait_arrived()
    out, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0, out + err
    run = lab.run_dir("par")
    for dev in lab.devices:
        recs = results_of(run, dev)
        assert sorted(r["test_id"] for r in recs) == sorted(TEST_IDS)
        assert {r["outcome"] for r in recs} == {"PASS"}
        assert f"[{dev}] PASS lab/test_lab.py::test_echo" in out  # plain progress, one line per test
    assert verdicts(run) == dict.fromkeys(lab.devices, "CERTIFIED")
    info = json.loads((run / "run.json").read_text())
    assert info["run_id"] == "par" and info["devices"] == lab.devices and info["end"] >= info["start"]
    assert info["suites"][0]["id"] == "lab" and info["suites"][0]["content_hash"].startswith("sha256:")
    assert info["operator"] and info["host"] and info["harness_version"] and "run" in info["command_line"]
    assert (lab.reports / "latest").resolve() == run.resolve()
    junit = (run / "junit.xml").read_text()
    assert junit == (lab.tmp / "ci" / "junit.xml").read_text()
    assert junit.count("<testsuite ") == 5 and junit.count("<testcase ") == 5 * len(TEST_IDS)
    assert str(run) in out


def test_product_failure_exits_1_and_retry_is_guarded_by_the_build(lab_factory) -> None:
    lab = lab_factory(2)
    lab.flag("broken")
    first = lab.harness("run", "--suites-root", str(lab.suites), "--run-id", "r1")
    assert first.returncode == 1, first.stdout + first.stderr
    run = lab.run_dir("r1")
    assert verdicts(run) == dict.fromkeys(lab.devices, "NOT CERTIFIED")
    assert "failure" in (run / "junit.xml").read_text()
    before = {d: len(journal_lines(run, d)) for d in lab.devices}

    lab.flag("broken", False)
    lab.set_build("6.1.0-lab-b")  # the device now runs another build
    refused = lab.harness("retry", "r1")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "retry refused" in refused.stderr
    assert "6.1.0-lab-b" in refused.stderr and "--force" in refused.stderr
    assert {d: len(journal_lines(run, d)) for d in lab.devices} == before  # nothing ran

    forced = lab.harness("retry", "r1", "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    for dev in lab.devices:
        history = [(r["attempt"], r["outcome"]) for r in results_of(run, dev)
                   if r["test_id"] == "lab/test_lab.py::test_product"]
        assert history == [(1, "FAIL"), (2, "PASS")]
        # Only what failed was retried.
        assert sum(r["attempt"] == 2 for r in results_of(run, dev)) == 1
    assert verdicts(run) == dict.fromkeys(lab.devices, "CERTIFIED")


def test_lab_fault_exits_3_and_retry_after_the_fix_turns_error_into_pass(lab_factory) -> None:
    lab = lab_factory(2)
    lab.flag("hang")
    first = lab.harness("run", "lab", "--tag", "lab", "--suites-root", str(lab.suites), "--run-id", "f1")
    assert first.returncode == 3, first.stdout + first.stderr
    run = lab.run_dir("f1")
    assert verdicts(run) == dict.fromkeys(lab.devices, "INCOMPLETE")
    lab.flag("hang", False)
    again = lab.harness("retry", "latest")
    assert again.returncode == 0, again.stdout + again.stderr
    for dev in lab.devices:
        history = [(r["attempt"], r["outcome"]) for r in results_of(run, dev)
                   if r["test_id"] == "lab/test_lab.py::test_no_hang"]
        assert history == [(1, "ERROR"), (2, "PASS")]
    assert verdicts(run) == dict.fromkeys(lab.devices, "CERTIFIED")
    results = json.loads((run / "results.json").read_text())
    assert "ERROR" in json.dumps(results)  # the first attempt stays in the history


def test_ctrl_c_ends_the_run_cleanly_with_every_record_written(lab_factory) -> None:
    lab = lab_factory(3)
    with lab.held_lock():
        proc = lab.start("run", "--suites-root", str(lab.suites), "--run-id", "int")
        lab.wait_arrived()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 3, out + err
    run = lab.run_dir("int")
    for dev in lab.devices:
        lines = journal_lines(run, dev)
        assert lines[-1]["type"] == "end" and lines[-1]["interrupted"] is True
        recs = {r["test_id"]: r["outcome"] for r in results_of(run, dev)}
        assert recs["lab/test_lab.py::test_echo"] == "PASS"
        assert recs["lab/test_lab.py::test_rendezvous"] == "NOT_RUN"  # in flight when Ctrl-C came
        assert "lab/test_lab.py::test_product" not in recs  # never started
    assert verdicts(run) == dict.fromkeys(lab.devices, "INCOMPLETE")
    assert "interrupted" in out and (run / "junit.xml").is_file()
    assert no_workers_left(run)
    # --resume finishes the run: the test Ctrl-C cut short runs again, and its PASS stands.
    resumed = lab.harness("run", "--resume", "int")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    for dev in lab.devices:
        assert set(outcomes(run, dev).values()) == {"PASS"}, outcomes(run, dev)
    assert verdicts(run) == dict.fromkeys(lab.devices, "CERTIFIED")


def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(lab_factory) -> None:
    lab = lab_factory(3)
    with lab.held_lock():
        proc = lab.start("run", "--suites-root", str(lab.suites), "--run-id", "k")
        lab.wait_arrived()
        proc.kill()
        proc.communicate(timeout=DEADLINE)
    run = lab.run_dir("k")
    poll_until(lambda: no_workers_left(run), 10, what="the workers to die with the harness")
    assert not (run / "results.json").exists()
    resumed = lab.harness("run", "--resume", "k")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    for dev in lab.devices:
        counts = Counter(r["test_id"] for r in results_of(run, dev))
        assert counts == Counter(TEST_IDS), counts  # every test exactly once
        assert set(outcomes(run, dev).values()) == {"PASS"}
    assert verdicts(run) == dict.fromkeys(lab.devices, "CERTIFIED")
    nothing = lab.harness("run", "--resume", "k")
    assert nothing.returncode == 0 and "nothing to resume" in nothing.stdout
    assert all(Counter(r["test_id"] for r in results_of(run, d)) == Counter(TEST_IDS) for d in lab.devices)


def test_three_shards_merged_equal_the_unsharded_run(lab_factory) -> None:
    lab = lab_factory(2)
    lab.flag("broken")  # a mix of outcomes makes the comparison mean something
    # Started together on the same devices: each waits for the device locks the one before holds.
    wait = ("--wait-lock", str(DEADLINE))
    procs = [lab.start("run", "--suites-root", str(lab.suites), "--run-id", f"s{k}", "--shard", f"{k}/3", *wait)
             for k in (1, 2, 3)]
    procs.append(lab.start("run", "--suites-root", str(lab.suites), "--run-id", "whole", *wait))
    codes = []
    for p in procs:
        out, err = p.communicate(timeout=DEADLINE)
        codes.append(p.returncode)
    # A shard alone leaves MUST requirements uncovered (INCOMPLETE, 3) unless it holds the failure (1).
    assert set(codes[:3]) <= {1, 3} and codes[3] == 1, codes
    shard_sizes = [len(results_of(lab.run_dir(f"s{k}"), "dev0")) for k in (1, 2, 3)]
    assert sum(shard_sizes) == len(TEST_IDS) and all(shard_sizes)
    merged = lab.harness("merge", "s1", "s2", "s3", "--run-id", "merged")
    assert merged.returncode == 1, merged.stdout + merged.stderr  # test_product fails: NOT CERTIFIED
    for dev in lab.devices:
        assert outcomes(lab.run_dir("merged"), dev) == outcomes(lab.run_dir("whole"), dev)
        assert outcomes(lab.run_dir("whole"), dev)["lab/test_lab.py::test_product"] == "FAIL"
    assert verdicts(lab.run_dir("merged")) == verdicts(lab.run_dir("whole"))
    info = json.loads((lab.run_dir("merged") / "run.json").read_text())
    assert info["merged_from"] == ["s1", "s2", "s3"]


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["run", "lba"], "unknown suite 'lba' (did you mean 'lab'?)"),
        (["run", "--shard", "4/3"], "--shard '4/3'"),
        (["run", "--shard", "x"], "expected K/N"),
        (["run", "--device", "nosuch"], "no device named 'nosuch'"),
        (["run", "--resume", "no-such-run"], "no run 'no-such-run'"),
        (["retry", "no-such-run"], "no run 'no-such-run'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(lab_factory, args: list[str], expect: str) -> None:
    lab = lab_factory(1)
    with_root = args[0] == "run" and "--resume" not in args
    done = lab.harness(*args, "--suites-root", str(lab.suites)) if with_root else lab.harness(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and expect in done.stderr, done.stderr
    assert not lab.reports.exists() or not any(lab.reports.iterdir())  # no run dir was made


PLUGIN_PY = """import os, pathlib
def pytest_configure(config):
    pathlib.Path(os.environ["PLUGIN_MARKS"], __name__).touch()
"""


def test_workers_load_the_harness_plugin_and_the_named_ones_never_every_installed_one(
        lab_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pytest plugin installed beside the harness (a developer tool's) stays out of a run's workers;
    one the lab names in $HARNESS_PYTEST_PLUGINS is loaded."""
    lab = lab_factory(1)
    site, marks = tmp_path / "site", tmp_path / "marks"
    marks.mkdir()
    site.mkdir()
    for name in ("stray_plugin", "named_plugin"):
        (site / f"{name}.py").write_text(PLUGIN_PY)
    info = site / "stray_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: stray-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pytest11]\nstray = stray_plugin\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("PLUGIN_MARKS", str(marks))
    # The plugin is installed for real: plain pytest there loads it.
    subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", str(lab.suites)], capture_output=True,
                   timeout=DEADLINE, cwd=lab.tmp, env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": ""})
    assert (marks / "stray_plugin").exists()
    (marks / "stray_plugin").unlink()

    done = lab.harness("run", "lab", "--suites-root", str(lab.suites), "-k", "test_echo")
    assert "PASS lab/test_lab.py::test_echo" in done.stdout, done.stdout + done.stderr  # one test: INCOMPLETE
    assert not (marks / "stray_plugin").exists() and not (marks / "named_plugin").exists()

    monkeypatch.setenv("HARNESS_PYTEST_PLUGINS", "named_plugin")
    done = lab.harness("run", "lab", "--suites-root", str(lab.suites), "-k", "test_echo")
    assert "PASS lab/test_lab.py::test_echo" in done.stdout, done.stdout + done.stderr  # one test: INCOMPLETE
    assert (marks / "named_plugin").exists() and not (marks / "stray_plugin").exists()


# -- pure parts --------------------------------------------------------------------------------------


def test_gate_precedence() -> None:
    ok, cond = DeviceGate("a", Verdict.CERTIFIED), DeviceGate("b", Verdict.CONDITIONAL)
    bad, inc = DeviceGate("c", Verdict.NOT_CERTIFIED), DeviceGate("d", Verdict.INCOMPLETE)
    gone = DeviceGate("e", Verdict.CERTIFIED, reachable=False)
    assert gate_code([ok, cond]) == 0
    assert gate_code([ok, cond], strict=True) == 1
    assert gate_code([ok, inc]) == 3 and gate_code([ok, gone]) == 3
    assert gate_code([inc, bad]) == 1  # a product failure outranks lab trouble
    assert gate_code([ok, bad], interrupted=True) == 3  # a cut-short run is no verdict
    assert gate_code([]) == 3


def test_junit_text_loses_xml_illegal_characters() -> None:
    assert xml_safe("ok\x00\x1b[31mred\x07\ufffe") == "ok[31mred"
    assert xml_safe("tab\tnew\nline") == "tab\tnew\nline"


def test_start_time_of_run_id_sorts() -> None:
    from harness.run.runid import new_run_id, valid_run_id

    a, b = new_run_id(1_000_000_000), new_run_id(2_000_000_000)
    assert a < b and valid_run_id(a) and not valid_run_id("../x") and not valid_run_id("latest")
    assert time.strftime("%Y%m%d", time.localtime(1_000_000_000)) in a


def test_worker_output_is_masked_before_it_reaches_worker_log() -> None:
    import io

    from harness.run.worker import _Redacting
    from harness.secrets import register

    register("worker-log-secret-77")
    sink = io.StringIO()
    stream = _Redacting(sink)
    stream.write("AssertionError: device said ROOT_PW=worker-log-secret-77 on ceo-board\n")
    stream.flush()
    assert sink.getvalue() == "AssertionError: device said ROOT_PW=******** on ceo-board\n"
