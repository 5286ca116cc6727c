"""harness.checks.memleak and kdump on real outputs: the sampling script run over a loopback sshd on this
machine's Debian (the listener sshd and the session it forked) and on the QEMU board (busybox), and the
kdump target listed on the QEMU board before and after a real crash captured by its crash kernel
(makedumpfile's kdump-compressed dump and vmcore-dmesg's log); then each rule edge by edge."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.checks import kdump, memleak

DATA = Path(__file__).resolve().parent / "data" / "devices"
LINUX = ["systemd", "systemd-journald", "sshd"]
BOUND = memleak.Bound(min_growth_kib=512, max_growth_percent=10.0)


def sampled(source: str) -> memleak.Sampling:
    return memleak.parse_samples((DATA / source / "memleak.txt").read_text())


def test_debian_sshd_is_steady_and_its_session_is_not_the_service() -> None:
    sampling = sampled("debian")
    assert sampling.rounds == 4
    [sshd] = sampling.of("sshd")
    # The session's sshd (its parent is the listener) is left out; the listener is judged on RssAnon.
    [session] = set(sampling.ppids) - set(sampling.processes)
    assert sampling.ppids[session] == sshd.pid
    assert [s.source for s in sshd.samples] == ["RssAnon"] * 4
    judged = {j.service: j for j in memleak.judge(LINUX, sampling, 4, BOUND)}
    assert judged["sshd"].problem is None and judged["sshd"].growth_kib == 0
    assert judged["systemd"].problem == "systemd: not running (no process named 'systemd' in /proc)"
    # journald's 16-character name is kept as 15 by the kernel.
    assert judged["systemd-journald"].problem == (
        "systemd-journald: not running (no process named 'systemd-journal' in /proc)")


def test_qemu_busybox_board_samples_its_sshd() -> None:
    sampling = sampled("qemu")
    assert sampling.rounds == 4
    judged = {j.service: j for j in memleak.judge(LINUX, sampling, 4, BOUND)}
    assert judged["sshd"].problem is None and judged["sshd"].source == "RssAnon", judged["sshd"]
    assert judged["sshd"].seconds >= 3.0  # three 1 s intervals by the board's own clock
    assert judged["systemd"].problem is not None


def test_the_script_runs_under_busybox_ash_as_under_dash() -> None:
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        pytest.skip("busybox is not installed (scripts/system-deps.sh installs busybox-static)")
    script = memleak.sample_script(["busybox", "sh"], 3, 0.1)
    out = subprocess.run([str(busybox), "ash", "-c", script], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    sampling = memleak.parse_samples(out.stdout)
    assert sampling.rounds == 3 and sampling.of("busybox"), out.stdout


def series(*kib: int, pid: int = 10, comm: str = "sshd", source: str = "RssAnon") -> memleak.Process:
    return memleak.Process(pid, comm, [memleak.Sample(n, 100.0 + 2 * n, k, source)
                                       for n, k in enumerate(kib, start=1)])


def sampling_of(*procs: memleak.Process, rounds: int = 4) -> memleak.Sampling:
    return memleak.Sampling(rounds, {p.pid: p for p in procs}, {p.pid: 1 for p in procs})


def test_a_steady_rise_beyond_the_bound_fails_with_the_figures() -> None:
    leak = sampling_of(series(1000, 1400, 1800, 2200))
    [j] = memleak.judge(["sshd"], leak, 4, BOUND)
    assert j.problem == ("sshd (pid 10): RssAnon 1000 -> 2200 KiB (+1200 KiB) over 6.0 s: a steady rise beyond "
                         "the bound of 512 KiB")
    assert memleak.problems([j, *memleak.judge(["sshd"], sampling_of(series(1, 1, 1, 1)), 4, BOUND)]) == [j.problem]
    # The same rise with one dip is no steady rise; a rise within the bound passes; so does a flat line.
    for values in ((1000, 1400, 1300, 2200), (1000, 1100, 1200, 1512), (1000, 1000, 1000, 1000)):
        [j] = memleak.judge(["sshd"], sampling_of(series(*values)), 4, BOUND)
        assert j.problem is None, (values, j.problem)
    # One KiB over the bound fails.
    [j] = memleak.judge(["sshd"], sampling_of(series(1000, 1100, 1200, 1513)), 4, BOUND)
    assert j.problem is not None


def test_the_bound_is_the_larger_of_the_floor_and_the_percentage() -> None:
    assert BOUND.allowed(1000) == 512.0
    assert BOUND.allowed(10_000) == 1000.0
    big = sampling_of(series(10_000, 10_400, 10_800, 11_000))
    assert memleak.judge(["sshd"], big, 4, BOUND)[0].problem is None
    big = sampling_of(series(10_000, 10_400, 10_800, 11_001))
    assert "beyond the bound of 1000 KiB" in (memleak.judge(["sshd"], big, 4, BOUND)[0].problem or "")


def test_figures_name_every_pid_of_a_judgement() -> None:
    j = memleak.Judgement("sshd", (10, 11), 1000, 1200, 6.0, "Pss", None)
    assert j.figures() == "sshd (pid 10, 11): Pss 1000 -> 1200 KiB (+200 KiB) over 6.0 s"
    assert memleak.Judgement("cron", (), None, None, 0.0, "", "x").figures() == "cron: no samples"


def test_the_script_matches_the_last_service_named_as_the_first(tmp_path: Path) -> None:
    # Run by this machine's /bin/sh: the kernel names the shell running it "sh" (comm is the name it was
    # executed by, a link's own); the service named last must be matched as well as the first.
    shell = "sh"
    script = memleak.sample_script(["no-such-service", shell], 3, 0.1)
    proc = subprocess.Popen(["/bin/sh", "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    sampling = memleak.parse_samples(out)
    assert sampling.rounds == 3 and proc.pid in sampling.processes, out
    assert len(sampling.processes[proc.pid].samples) == 3
    script = memleak.sample_script([shell, "no-such-service"], 1, 0.1)
    assert script.startswith(f"names=' {shell} no-such-service '\n")


def test_steady_rise() -> None:
    assert memleak.steady_rise([1, 1, 2])
    assert memleak.steady_rise([1, 2, 2])
    assert memleak.steady_rise([1, 2])
    assert not memleak.steady_rise([1, 1, 1])
    assert not memleak.steady_rise([2, 3, 1])
    assert not memleak.steady_rise([5])
    assert not memleak.steady_rise([3, 2, 4])


def test_too_few_samples_or_a_restart_is_never_a_pass() -> None:
    [j] = memleak.judge(["sshd"], sampling_of(series(1000, 1000)), 4, BOUND)
    assert j == memleak.Judgement("sshd", (10,), 1000, 1000, 2.0, "RssAnon",
                                  "sshd: too few samples (2 of 4) to judge a trend")
    restarted = sampling_of(series(1000, 1000, pid=10), memleak.Process(
        11, "sshd", [memleak.Sample(3, 106.0, 900, "RssAnon"), memleak.Sample(4, 108.0, 900, "RssAnon")]))
    [j] = memleak.judge(["sshd"], restarted, 4, BOUND)
    # The figures are the longest-lived pid's, under the service's own name.
    assert j == memleak.Judgement("sshd", (10,), 1000, 1000, 2.0, "RssAnon",
                                  "sshd: restarted during the sampling (pids 10, 11)")
    # Two processes of one name for the whole run are no restart: each is judged, the leaking one fails.
    both = sampling_of(series(1000, 1000, 1000, 1000, pid=10), series(500, 600, 700, 800, pid=11))
    assert memleak.judge(["sshd"], both, 4, BOUND)[0] == memleak.Judgement("sshd", (10,), 1000, 1000, 6.0,
                                                                            "RssAnon", None)
    both = sampling_of(series(1000, 1000, 1000, 1000, pid=10), series(500, 700, 900, 1100, pid=11))
    assert (memleak.judge(["sshd"], both, 4, BOUND)[0].problem or "").startswith("sshd (pid 11): RssAnon 500")
    # Three samples are enough when three are asked for.
    assert memleak.judge(["sshd"], sampling_of(series(1, 1, 1), rounds=3), 3, BOUND)[0].problem is None
    [absent] = memleak.judge(["cron"], both, 4, BOUND)
    assert absent == memleak.Judgement("cron", (), None, None, 0.0, "",
                                       "cron: not running (no process named 'cron' in /proc)")
    with pytest.raises(ValueError, match="at least 3 samples, 2 configured"):
        memleak.judge(["sshd"], sampling_of(series(1, 1)), 2, BOUND)


def test_parse_prefers_rssanon_then_pss_then_vmrss_and_ignores_foreign_lines() -> None:
    text = ("noise @@M 1 1.0 5 1 a 1 2 3\n@@M 1 1.00 5 1 a - 20 30\n@@M 2 2.5 5 1 a - - 31\n"
            "@@M 3 4 5 1 a - - -\n@@M-END 3\n@@M 4 5 5 1 a 7 8 9\n@@M 1 1 6 5 a 1 1 1\n@@M x\n")
    sampling = memleak.parse_samples(text)
    assert sampling.rounds == 3
    assert list(sampling.processes) == [5]  # 6 is a worker of 5 (same name), the unreadable round dropped
    assert [(s.round, s.kib, s.source, s.uptime) for s in sampling.processes[5].samples] == [
        (1, 20, "Pss", 1.0), (2, 31, "VmRSS", 2.5), (4, 7, "RssAnon", 5.0)]
    assert memleak.parse_samples("@@M-END ?\n").rounds == 0
    assert memleak.parse_samples("@@M 1 1.0 5 1 a 1 2 3\n").rounds == 0  # never got to the end
    assert memleak.comm_of("systemd-journald") == "systemd-journal"


# -- kdump -------------------------------------------------------------------------------------------


def listing(name: str) -> kdump.Listing:
    return kdump.parse_listing((DATA / "qemu" / f"kdump-{name}.txt").read_text())


def test_qemu_crash_captured_by_makedumpfile_and_vmcore_dmesg() -> None:
    before, after = listing("before"), listing("after")
    assert kdump.capture_problem(before, after, ["/var/crash"]) is None
    dump = kdump.newest_dump(before, after)
    assert dump is not None and dump.vmcore is not None and dump.log is not None
    assert dump.vmcore.format == "kdump-compressed (makedumpfile)", dump.vmcore
    assert dump.vmcore.size > 4 * 1024 * 1024
    assert kdump.vmcore_problem(dump, 1024) is None
    assert dump.log_crash_lines >= 2  # "sysrq: Trigger a crash" and "Kernel panic - not syncing"
    assert kdump.log_problem(dump) is None
    # A dump the board had before the crash is no capture of this one.
    assert kdump.capture_problem(after, after, ["/var/crash"]) == (
        f"no new dump under /var/crash after the crash ({len(kdump.captures(after))} older ones)")


def test_dump_formats_by_header() -> None:
    def fmt(header: str) -> str | None:
        return kdump.DumpFile("/var/crash/x/vmcore", 1, header).format

    assert fmt("7f454c4602010100") == "ELF core"
    assert fmt("4b44554d50202020") == "kdump-compressed (makedumpfile)"
    assert fmt("6d616b6564756d70") == "makedumpfile flattened"
    assert fmt("4449534b44554d50") == "diskdump"
    assert fmt("0000000000000000") is None and fmt("") is None


def test_layouts_of_the_distributions() -> None:
    text = ("@@K 20000000 4b 44 55 4d 50 20 20 20 |/var/crash/20261203130500/dump.20261203130500\n"
            "@@K 4000 5b 20 20 20 20 30 2e 30 |/var/crash/20261203130500/dmesg.20261203130500\n"
            "@@P 1 |/var/crash/20261203130500/dmesg.20261203130500\n"
            "@@K 1000 7f 45 4c 46 02 01 01 00 |/var/crash/127.0.0.1-2026-12-03-13:05:00/vmcore-incomplete\n"
            "@@K 10 61 62 |/var/crash/notes/readme.txt\n")
    found = kdump.captures(kdump.parse_listing(text))
    assert sorted(found) == ["/var/crash/127.0.0.1-2026-12-03-13:05:00", "/var/crash/20261203130500"]
    debian = found["/var/crash/20261203130500"]
    assert debian.vmcore is not None and debian.vmcore.name == "dump.20261203130500" and debian.log_crash_lines == 1
    empty = kdump.Listing({}, {}, ())
    assert kdump.capture_problem(empty, kdump.parse_listing(text), ["/var/crash"]) is None
    only_incomplete = kdump.parse_listing(text.splitlines()[3] + "\n")
    assert kdump.capture_problem(empty, only_incomplete, ["/var/crash"]) == (
        "a dump folder appeared after the crash but holds no dump: "
        "/var/crash/127.0.0.1-2026-12-03-13:05:00: vmcore-incomplete")


def test_vmcore_and_log_problems() -> None:
    def capture(size: int, header: str, log_size: int | None = 100, crash_lines: int = 1) -> kdump.Capture:
        log = kdump.DumpFile("/c/d/vmcore-dmesg.txt", log_size, "") if log_size is not None else None
        return kdump.Capture("/c/d", kdump.DumpFile("/c/d/vmcore", size, header), log, crash_lines, False)

    assert kdump.vmcore_problem(None, 1024) == "no new dump file to check"
    assert kdump.vmcore_problem(capture(1024 * 1024, "7f454c46"), 1024) is None
    assert kdump.vmcore_problem(capture(1024 * 1024 - 1, "7f454c46"), 1024) == (
        "/c/d/vmcore (ELF core) is 1048575 bytes, under the 1024 KiB of a real memory image")
    assert kdump.vmcore_problem(capture(10**8, "00000000"), 1024) == (
        "/c/d/vmcore starts with '00000000': not an ELF core or a makedumpfile dump")
    assert kdump.vmcore_problem(capture(10**8, ""), 1024) == (
        "/c/d/vmcore starts with 'nothing readable': not an ELF core or a makedumpfile dump")
    assert kdump.log_problem(None) == "no new dump to find the kernel log beside"
    assert kdump.log_problem(capture(1, "", log_size=None)) == (
        "/c/d holds no kernel log (vmcore-dmesg.txt or dmesg.<stamp>)")
    assert kdump.log_problem(capture(1, "", log_size=0)) == "/c/d/vmcore-dmesg.txt is empty"
    assert kdump.log_problem(capture(1, "", crash_lines=0)) == (
        "/c/d/vmcore-dmesg.txt does not show the crash (no 'Trigger a crash' or 'Kernel panic' line)")
    assert kdump.log_problem(capture(1, "")) is None


def test_missing_target_and_the_listing_script_on_a_real_shell(tmp_path: Path) -> None:
    crash = tmp_path / "crash" / "2026-12-03-13:05:00"
    crash.mkdir(parents=True)
    (crash / "vmcore").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(100))
    (crash / "vmcore-dmesg.txt").write_text("[ 0.9] sysrq: Show Memory\n[ 1.0] sysrq: Trigger a crash\n"
                                            "[ 1.1] Kernel panic - not syncing: x\n")
    targets = [str(tmp_path / "crash") + "/", str(tmp_path / "none")]
    out = subprocess.run(["sh", "-c", kdump.listing_script(targets)], capture_output=True, text=True, timeout=30)
    found = kdump.parse_listing(out.stdout)
    assert found.missing_targets == (str(tmp_path / "none"),)
    [capture] = kdump.captures(found).values()
    assert capture.vmcore is not None and capture.vmcore.format == "ELF core" and capture.vmcore.size == 108
    assert capture.log_crash_lines == 2
    assert capture.vmcore.path == f"{crash}/vmcore"  # the target's trailing slash is not doubled
    nothing = kdump.parse_listing(f"@@T-MISSING |{tmp_path}/a\n")
    assert kdump.capture_problem(nothing, nothing, [f"{tmp_path}/a"]) == (
        f"the kdump target {tmp_path}/a does not exist after the crash")


def test_listing_edges() -> None:
    text = ("@@K 5 7f 45 4c 46 |/c/a/vmcore.flat  \n@@T-MISSING |/var/cr|ash\n"
            "@@K 9 4b 44 55 4d 50 20 20 20 |/c/b/vmcore\n@@K 3 5b |/c/c/vmcore-dmesg.txt\n"
            "@@K 3 5b |/c/d/dmesg.2026\n")
    found = kdump.parse_listing(text)
    assert found.missing_targets == ("/var/cr|ash",)
    caps = kdump.captures(found)
    assert sorted(caps) == ["/c/a", "/c/b", "/c/c", "/c/d"]
    assert caps["/c/a"].vmcore is not None and caps["/c/a"].vmcore.name == "vmcore.flat"
    assert caps["/c/b"].log is None and caps["/c/b"].log_crash_lines == 0
    assert caps["/c/c"].log is not None and caps["/c/c"].log_crash_lines == 0  # no @@P line: none seen
    empty = kdump.Listing({}, {}, ())
    assert kdump.newest_dump(empty, empty) is None
    # One of two targets missing is no problem when the other has the dump.
    assert kdump.capture_problem(empty, found, ["/var/crash", "/var/cr|ash"]) is None
    only_logs = kdump.parse_listing("@@K 3 5b |/c/c/vmcore-dmesg.txt\n@@K 3 5b |/c/d/dmesg.2026\n")
    assert kdump.capture_problem(empty, only_logs, ["/a", "/b"]) == (
        "a dump folder appeared after the crash but holds no dump: /c/c: no dump file; /c/d: no dump file")
    assert kdump.capture_problem(only_logs, only_logs, ["/a", "/b"]) == (
        "no new dump under /a, /b after the crash (2 older ones)")
    gone = kdump.parse_listing("@@T-MISSING |/a\n@@T-MISSING |/b\n")
    assert kdump.capture_problem(empty, gone, ["/a", "/b"]) == "the kdump target /a, /b does not exist after the crash"
