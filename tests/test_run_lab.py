"""`harness run / retry / merge` through the CLI, as a subprocess, against the simulated lab: one lab of
five devices (one per persona; SSH, ADB and serial links) for the whole module.

Each test writes its own small suite into a temp dir. The suite's tests run in the harness's worker
processes, on this host, so a folder of flag files beside the suite (`ctl`) is the test's control
panel: a flag makes a test reboot its device, break its link through the lab's fault injection, fail
as a product would, or stop at a rendezvous until the flag goes away."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.lab.lab import Lab
from harness.results.build import build_results
from harness.results.model import Outcome, Verdict
from harness.results.reader import read_results
from harness.results.schema import first_violation
from harness.transports import open_transport
from harness.waiting import poll_until
from tests.run_records import journal_lines, no_workers_left, outcomes, results_of, verdicts

from .lab_inventory import write_lab

REPO = Path(__file__).resolve().parents[1]
DEADLINE = 60.0
SSH, ADB, SERIAL = "euler-ft2000", "handset-hmos", "ohos-rk3568"
ALL = ["euler-ft2000", "handset-hmos", "kylin-v10", "nonconforming-board", "ohos-rk3568"]

SUITE_TOML = """
id = "labrun"
version = "1.0.0"
title_en = "Runner on the lab"
title_zh = "模拟实验室上的运行器"

[[requirements]]
id = "RUN-1"
level = "MUST"
title_en = "commands run"
title_zh = "命令可运行"

[[requirements]]
id = "RUN-2"
level = "MUST"
title_en = "the product behaves"
title_zh = "产品行为正确"

[[requirements]]
id = "RUN-3"
level = "SHOULD"
title_en = "extras"
title_zh = "附加"
"""

# CTL and INVENTORY are filled in per test. Every flag is read on the host, by the worker.
SUITE_PY = r'''
from pathlib import Path

import pytest

from harness.lab.faults import Faults
from harness.lab.lab import Lab
from harness.waiting import poll_until

CTL = Path(__CTL__)
INVENTORY = Path(__INVENTORY__)
WAIT = 40.0


def flag(name, dut):
    return (CTL / f"{name}.{dut.name}").exists() or (CTL / name).exists()


@pytest.mark.requirement("RUN-1")
def test_echo(dut):
    assert dut.run("echo hi").stdout_text == "hi\n"


@pytest.mark.requirement("RUN-1")
def test_rendezvous(dut):
    # Arrive, then wait for the others named in ctl/wait_for and while ctl/hold exists.
    assert dut.run("echo here").exit_code == 0
    (CTL / f"arrived.{dut.name}").touch()
    wanted = (CTL / "wait_for").read_text().split() if (CTL / "wait_for").exists() else []
    poll_until(lambda: all((CTL / f"arrived.{n}").exists() for n in wanted), WAIT, interval=0.05,
               what="every device at the rendezvous")
    poll_until(lambda: not (CTL / "hold").exists(), WAIT, interval=0.05, what="the hold to end")


@pytest.mark.requirement("RUN-1")
def test_reboot(dut):
    if not flag("reboot", dut):
        assert dut.run("true").exit_code == 0  # no reboot asked for: still a PASS the device stands behind
        return
    assert dut.run("echo before > /tmp/reboot-marker").exit_code == 0
    dut.reboot_and_wait(30)
    (CTL / f"rebooted.{dut.name}").touch()
    # A power cycle: /tmp is fresh.
    assert dut.run("test -e /tmp/reboot-marker; echo $?").stdout_text.strip() == "1"


@pytest.mark.requirement("RUN-1")
def test_after_reboot(dut):
    assert dut.run("echo after-reboot").stdout_text == "after-reboot\n"


@pytest.mark.requirement("RUN-2")
def test_drop(dut):
    # ctl/drop.<device>: the lab drops the link once this command's output starts (lab trouble).
    lab = Lab(INVENTORY) if flag("drop", dut) else None
    if lab is not None:
        lab.set_faults(dut.name, Faults(drop_mid_output=True))
    try:
        out = dut.run("seq 1 5000", timeout=20).stdout_text
    finally:
        if lab is not None:
            lab.set_faults(dut.name, Faults())
    assert out.split()[-1] == "5000"


@pytest.mark.requirement("RUN-1")
def test_after_drop(dut):
    assert dut.run("echo after-drop").stdout_text == "after-drop\n"


@pytest.mark.requirement("RUN-2")
def test_product(dut):
    # ctl/broken.<device>: a product fault, a MUST fails.
    assert not flag("broken", dut), "the product is broken"
    assert dut.run("true").exit_code == 0


@pytest.mark.requirement("RUN-3")
@pytest.mark.parametrize("n", range(4))
def test_many(dut, n):
    assert dut.run(f"echo {n}").stdout_text.strip() == str(n)
'''

TEST_IDS = [
    "labrun/test_labrun.py::test_echo",
    "labrun/test_labrun.py::test_rendezvous",
    "labrun/test_labrun.py::test_reboot",
    "labrun/test_labrun.py::test_after_reboot",
    "labrun/test_labrun.py::test_drop",
    "labrun/test_labrun.py::test_after_drop",
    "labrun/test_labrun.py::test_product",
    *(f"labrun/test_labrun.py::test_many[{n}]" for n in range(4)),
]
T = {t.split("::")[1]: t for t in TEST_IDS}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    inventory, _ = write_lab(tmp_path_factory.mktemp("runlab"), boot_time=0.3)
    with Lab(inventory) as the_lab:
        yield the_lab


class Bench:
    """One test's suite, control folder and reports folder, on the module's lab."""

    def __init__(self, lab: Lab, tmp: Path) -> None:
        self.lab, self.tmp = lab, tmp
        self.ctl = tmp / "ctl"
        self.ctl.mkdir()
        self.suites = tmp / "suites"
        (self.suites / "labrun").mkdir(parents=True)
        (self.suites / "labrun" / "suite.toml").write_text(SUITE_TOML)
        code = SUITE_PY.replace("__CTL__", repr(str(self.ctl))).replace(
            "__INVENTORY__", repr(str(lab.inventory_path)))
        (self.suites / "labrun" / "test_labrun.py").write_text(code)
        self.reports = tmp / "reports"
        self.env = {**os.environ, "HARNESS_KEY_DIR": str(tmp / "keys")}

    def flag(self, name: str, on: bool = True) -> None:
        path = self.ctl / name
        if on:
            path.touch()
        else:
            path.unlink(missing_ok=True)

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "harness", "-i", str(self.lab.inventory_path), *args,
                "--reports", str(self.reports), "--plain"]

    def run_args(self, run_id: str, devices: list[str], *extra: str) -> list[str]:
        return ["run", "labrun", "--suites-root", str(self.suites), "--run-id", run_id,
                *(a for d in devices for a in ("--device", d)), *extra]

    def harness(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=DEADLINE,
                              cwd=self.tmp, env=self.env)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=self.tmp, env=self.env)

    def run_dir(self, run_id: str) -> Path:
        return self.reports / run_id

    def wait_arrived(self, devices: list[str]) -> None:
        poll_until(lambda: all((self.ctl / f"arrived.{d}").exists() for d in devices), DEADLINE,
                   what="every device at the rendezvous")


@pytest.fixture
def bench(lab: Lab, tmp_path: Path) -> Bench:
    return Bench(lab, tmp_path)






def history(run: Path, device: str, test_id: str) -> list[tuple[int, str]]:
    return [(r["attempt"], r["outcome"]) for r in results_of(run, device) if r["test_id"] == test_id]






def transport_of(run: Path, device: str) -> str:
    return next(line["transport"] for line in journal_lines(run, device) if line["type"] == "device")


def boots(lab: Lab) -> dict[str, int]:
    return {s["name"]: s["boots"] for s in lab.status()}




# -- the tests ---------------------------------------------------------------------------------------


def test_parallel_run_on_all_five_devices(bench: Bench) -> None:
    (bench.ctl / "wait_for").write_text(" ".join(ALL))
    # Each device's test_rendezvous waits for all five: only a parallel runner gets them there at once.
    done = bench.harness(*bench.run_args("par", ALL))
    assert done.returncode == 0, done.stdout + done.stderr
    run = bench.run_dir("par")
    for dev in ALL:
        recs = results_of(run, dev)
        assert sorted(r["test_id"] for r in recs) == sorted(TEST_IDS), dev
        assert {r["outcome"] for r in recs} == {"PASS"}, (dev, recs)
        assert f"[{dev}] PASS {T['test_rendezvous']}" in done.stdout
    assert verdicts(run) == dict.fromkeys(ALL, "CERTIFIED")
    assert {d: transport_of(run, d) for d in (SSH, ADB, SERIAL)} == {SSH: "ssh", ADB: "adb", SERIAL: "serial"}


def results_json_test(run: Path, device: str, test_id: str) -> dict:
    data = json.loads((run / "results.json").read_text())
    dev = next(d for d in data["devices"] if d["name"] == device)
    return next(t for t in dev["tests"] if t["test_id"] == test_id)


def test_reboot_mid_suite_on_every_link_then_the_next_tests_pass(bench: Bench) -> None:
    devices = ["kylin-v10", ADB, SERIAL]  # ssh, adb, serial
    bench.flag("reboot")
    before = boots(bench.lab)
    done = bench.harness(*bench.run_args("rb", devices))
    assert done.returncode == 0, done.stdout + done.stderr
    run = bench.run_dir("rb")
    after = boots(bench.lab)
    for dev in devices:
        assert after[dev] == before[dev] + 1, dev  # a real power cycle of that device, exactly one
        assert (bench.ctl / f"rebooted.{dev}").exists()
        assert outcomes(run, dev) == dict.fromkeys(TEST_IDS, "PASS"), dev
        assert Counter(r["test_id"] for r in results_of(run, dev)) == Counter(TEST_IDS)
        # The build is read again after the reboot and journaled (a reboot into another build shows):
        # the reboot test's own result follows the identity line its reboot wrote.
        lines = journal_lines(run, dev)
        test = next(line for line in lines if line.get("test_id", "").endswith("::test_reboot"))
        booted = next(e for e in test["evidence"] if e["command"].startswith("[reboot]"))
        back = booted["started"] + booted["duration"]
        assert any(line["type"] == "device" and line["at"] >= back for line in lines), dev
    assert verdicts(run) == dict.fromkeys(devices, "CERTIFIED")


def test_dropped_link_is_error_the_next_test_passes_and_retry_turns_it_into_pass(bench: Bench) -> None:
    devices = [SSH, ADB]
    for dev in devices:
        bench.flag(f"drop.{dev}")
    first = bench.harness(*bench.run_args("drop", devices))
    assert first.returncode == 3, first.stdout + first.stderr  # lab trouble, not a product failure
    run = bench.run_dir("drop")
    for dev in devices:
        got = outcomes(run, dev)
        assert got[T["test_drop"]] == "ERROR", (dev, got)  # never FAIL: the lab broke, not the product
        message = next(r["message"] for r in results_of(run, dev) if r["test_id"] == T["test_drop"])
        assert "ConnectionLost" in message or "CommandTimeout" in message, message
        # The link came back: the next test of the same device ran and passed, and so did the rest.
        assert got == {**dict.fromkeys(TEST_IDS, "PASS"), T["test_drop"]: "ERROR"}, (dev, got)
    assert verdicts(run) == dict.fromkeys(devices, "INCOMPLETE")
    assert transport_of(run, SSH) == "ssh" and transport_of(run, ADB) == "adb"

    for dev in devices:  # the lab is fixed
        bench.flag(f"drop.{dev}", on=False)
    again = bench.harness("retry", "drop")
    assert again.returncode == 0, again.stdout + again.stderr
    for dev in devices:
        assert history(run, dev, T["test_drop"]) == [(1, "ERROR"), (2, "PASS")]
        assert sum(r["attempt"] == 2 for r in results_of(run, dev)) == 1  # only the ERROR was retried
        attempts = results_json_test(run, dev, T["test_drop"])["attempts"]
        assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "ERROR"), (2, "PASS")]
    assert verdicts(run) == dict.fromkeys(devices, "CERTIFIED")


def test_retry_is_refused_on_a_changed_build_and_forced_with_force(bench: Bench) -> None:
    devices = [ADB, "kylin-v10"]
    bench.flag("broken")
    first = bench.harness(*bench.run_args("fp", devices))
    assert first.returncode == 1, first.stdout + first.stderr
    run = bench.run_dir("fp")
    recorded = next(line["identity"]["fingerprint"] for line in journal_lines(run, ADB) if line["type"] == "device")
    assert recorded
    lines_before = {d: len(journal_lines(run, d)) for d in devices}
    bench.flag("broken", on=False)

    handset = open_transport(bench.lab.inventory.get(ADB), "adb")
    new_build = recorded + ".hotfix1"
    try:
        # The handset now runs another build (until its next reboot).
        assert handset.run(f"setprop ro.build.fingerprint '{new_build}'", 10).ok
        assert handset.run("getprop ro.build.fingerprint", 10).stdout_text.strip() == new_build
        refused = bench.harness("retry", "fp")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and "retry refused" in refused.stderr
        assert ADB in refused.stderr and new_build in refused.stderr and "--force" in refused.stderr
        assert {d: len(journal_lines(run, d)) for d in devices} == lines_before  # nothing ran

        forced = bench.harness("retry", "fp", "--force")
        assert forced.returncode == 0, forced.stdout + forced.stderr
    finally:
        handset.run(f"setprop ro.build.fingerprint '{recorded}'", 10)
        handset.close()
    for dev in devices:
        assert history(run, dev, T["test_product"]) == [(1, "FAIL"), (2, "PASS")]
    builds = [line["identity"]["fingerprint"] for line in journal_lines(run, ADB) if line["type"] == "device"]
    assert builds == [recorded, new_build]  # the forced attempt says which build it ran on
    assert verdicts(run) == dict.fromkeys(devices, "CERTIFIED")


def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(bench: Bench) -> None:
    bench.flag("hold")
    proc = bench.start(*bench.run_args("kill", ALL))
    try:
        bench.wait_arrived(ALL)  # every device is inside test_rendezvous
    finally:
        proc.kill()
        proc.communicate(timeout=DEADLINE)
    run = bench.run_dir("kill")
    poll_until(lambda: no_workers_left(run), 10, what="the workers to die with the harness")
    assert not (run / "results.json").exists()
    for dev in ALL:  # killed mid-run: the first test has its record, the one in flight has none
        assert [r["test_id"] for r in results_of(run, dev)] == [T["test_echo"]], dev
    bench.flag("hold", on=False)
    resumed = bench.harness("run", "--resume", "kill")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    for dev in ALL:
        counts = Counter(r["test_id"] for r in results_of(run, dev))
        assert counts == Counter(TEST_IDS), (dev, counts)  # every test exactly once
        assert set(outcomes(run, dev).values()) == {"PASS"}
    assert verdicts(run) == dict.fromkeys(ALL, "CERTIFIED")


def test_three_shards_merged_equal_the_unsharded_run(bench: Bench) -> None:
    devices = ["kylin-v10", ADB, SERIAL]
    bench.flag("broken.kylin-v10")  # a mix of outcomes makes the comparison mean something
    codes = {}
    for run_id, extra in (("s1", ("--shard", "1/3")), ("s2", ("--shard", "2/3")), ("s3", ("--shard", "3/3")),
                          ("whole", ())):
        done = bench.harness(*bench.run_args(run_id, devices, *extra))
        codes[run_id] = done.returncode
    # A shard alone leaves MUST requirements uncovered (3) unless it holds the failure (1).
    assert {codes["s1"], codes["s2"], codes["s3"]} <= {1, 3} and codes["whole"] == 1, codes
    for dev in devices:
        shard_ids = [set(outcomes(bench.run_dir(s), dev)) for s in ("s1", "s2", "s3")]
        assert all(shard_ids) and sum(map(len, shard_ids)) == len(TEST_IDS), shard_ids  # disjoint, complete
    merged = bench.harness("merge", "s1", "s2", "s3", "--run-id", "merged")
    assert merged.returncode == 1, merged.stdout + merged.stderr
    for dev in devices:
        assert outcomes(bench.run_dir("merged"), dev) == outcomes(bench.run_dir("whole"), dev), dev
    assert outcomes(bench.run_dir("whole"), "kylin-v10")[T["test_product"]] == "FAIL"
    assert verdicts(bench.run_dir("merged")) == verdicts(bench.run_dir("whole")) == {
        "kylin-v10": "NOT CERTIFIED", ADB: "CERTIFIED", SERIAL: "CERTIFIED"}


def test_the_real_suites_pass_on_the_console_only_board(bench: Bench) -> None:
    # Over a serial console stderr is merged into the output: a check that parses output must not
    # trip over a command's chatter on stderr (dd's statistics did, on the OpenHarmony board only).
    done = bench.harness("run", "identity", "kernel", "hardware", "security", "--device", SERIAL,
                         "--run-id", "real")
    run = bench.run_dir("real")
    got = outcomes(run, SERIAL)
    bad = {t: o for t, o in got.items() if o in ("FAIL", "ERROR", "NOT_RUN")}
    assert not bad, (bad, done.stdout[-2000:])
    assert sum(1 for o in got.values() if o == "PASS") >= 30
    assert transport_of(run, SERIAL) == "serial"


def test_the_typed_results_document_carries_every_byte_of_a_real_run(bench: Bench) -> None:
    """A product failure, a dropped link, repeats and a retry: the results.json of that run, read into
    the typed document and written back, is the same bytes; and the builder's document is the file's
    (but for the moment it was made)."""
    devices = [SSH, ADB, SERIAL]
    bench.flag(f"broken.{SSH}")
    bench.flag(f"drop.{ADB}")
    first = bench.harness(*bench.run_args("typed", devices, "--repeat", "2"))
    assert first.returncode == 1, first.stdout + first.stderr
    bench.flag(f"drop.{ADB}", on=False)
    again = bench.harness("retry", "typed")
    assert again.returncode == 1, again.stdout + again.stderr
    path = bench.run_dir("typed") / "results.json"
    text = path.read_text(encoding="utf-8")
    assert first_violation(json.loads(text)) is None

    document = read_results(path)
    assert json.dumps(document.to_dict(), ensure_ascii=False) + "\n" == text
    assert {d.name: d.verdict for d in document.devices} == {
        SSH: Verdict.NOT_CERTIFIED, ADB: Verdict.CERTIFIED, SERIAL: Verdict.CERTIFIED}
    drop = next(t for t in document.device(ADB).tests if t.test_id == T["test_drop"])  # type: ignore[union-attr]
    assert [(a.attempt, a.repeat, a.outcome) for a in drop.attempts] == [
        (1, 0, Outcome.ERROR), (1, 1, Outcome.ERROR), (2, 0, Outcome.PASS), (2, 1, Outcome.PASS)]
    assert drop.repeats == 2 and drop.outcome is Outcome.PASS

    rebuilt = build_results(bench.run_dir("typed"))
    on_disk = json.loads(text)
    del rebuilt["generated"], on_disk["generated"]
    assert rebuilt == on_disk
