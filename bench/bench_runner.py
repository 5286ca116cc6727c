"""Runner benchmark (a script, not a test): `python bench/bench_runner.py [--devices 20] [--tests 100]`.

Against simulated SSH boards (SimulatedSshServer, in this process) it measures, through the real CLI:
- harness overhead per test: a test's duration minus the time its device command took (median), and the
  whole run's wall time per test minus the device command time per test;
- wall time of D devices x T tests over 1 device x T tests, with 20 ms added latency per command and
  with none (1.0 would be perfect parallelism; the workers share this machine's cores);
- peak memory: the summed RSS of the harness process and its workers, sampled while they run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.lab.faults import Faults
from harness.lab.ssh.server import SimulatedSshServer
from harness.waiting import poll_until

PASSWORD = "bench-password"
SUITE_TOML = 'id = "bench"\nversion = "1"\ntitle_en = "bench"\ntitle_zh = "基准"\n\n' \
             '[[requirements]]\nid = "B-1"\nlevel = "MUST"\ntitle_en = "runs"\ntitle_zh = "运行"\n'


def write_suite(root: Path, tests: int) -> None:
    suite = root / "bench"
    suite.mkdir(parents=True)
    (suite / "suite.toml").write_text(SUITE_TOML)
    (suite / "test_bench.py").write_text(
        "import pytest\n\n\n@pytest.mark.requirement('B-1')\n"
        f"@pytest.mark.parametrize('n', range({tests}))\n"
        "def test_cmd(dut, n):\n    assert dut.run('true').exit_code == 0\n")


def write_inventory(path: Path, boards: list[SimulatedSshServer]) -> list[str]:
    names = [f"board{i:02d}" for i in range(len(boards))]
    path.write_text("".join(
        f'[devices.{n}]\nkind = "board"\nprofile = "generic-linux"\n'
        f'ssh = {{ host = "127.0.0.1", port = {b.port}, user = "root", password = "{PASSWORD}", '
        f'host_key = "{b.fingerprint}" }}\n\n' for n, b in zip(names, boards, strict=True)))
    return names


def _tree_memory_kb(root_pid: int) -> tuple[int, int]:
    """Summed (RSS, PSS) of a process and all its descendants. PSS splits each shared page between the
    processes that map it: the forked workers share most of their memory with the runner, which RSS
    would count twenty times."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        children.setdefault(int(fields["PPid"].strip()), []).append(int(entry))
    rss = pss = 0
    todo = [root_pid]
    while todo:
        pid = todo.pop()
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
        todo.extend(children.get(pid, []))
    return rss, pss


def run_once(work: Path, inventory: Path, devices: list[str], run_id: str) -> dict[str, float]:
    argv = [sys.executable, "-m", "harness", "-i", str(inventory), "run", "bench",
            "--suites-root", str(work / "suites"), "--reports", str(work / "reports"), "--run-id", run_id,
            "--plain", *(a for d in devices for a in ("--device", d))]
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = peak_pss = 0

    def sample_until_exit() -> bool:
        nonlocal peak, peak_pss
        rss, pss = _tree_memory_kb(proc.pid)
        peak, peak_pss = max(peak, rss), max(peak_pss, pss)
        return proc.poll() is not None

    # Sampling reads every process's smaps: every 0.5 s keeps it from stealing the run's CPU.
    poll_until(sample_until_exit, 3600, interval=0.5, what="the benchmark run")
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        detail = proc.stderr.read() if proc.stderr else ""
        raise SystemExit(f"run {run_id} exited {proc.returncode}: {detail}")
    overheads, command_time, tests = [], 0.0, 0
    for device in devices:
        for raw in (work / "reports" / run_id / "journal" / f"{device}.jsonl").read_text().splitlines():
            line = json.loads(raw)
            if line["type"] != "result":
                continue
            device_time = sum(e["duration"] for e in line["evidence"])
            overheads.append(line["duration"] - device_time)
            command_time += device_time
            tests += 1
    return {"wall": wall, "tests": tests, "overhead_median_ms": statistics.median(overheads) * 1000,
            "wall_overhead_per_test_ms": (wall - command_time / len(devices)) / (tests / len(devices)) * 1000,
            "peak_rss_mb": peak / 1024, "peak_pss_mb": peak_pss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=20)
    ap.add_argument("--tests", type=int, default=100)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        work = Path(tmp)
        write_suite(work / "suites", args.tests)
        boards = [SimulatedSshServer(password=PASSWORD).start() for _ in range(args.devices)]
        try:
            names = write_inventory(work / "devices.toml", boards)
            for latency in (args.latency_ms, 0.0):
                for b in boards:
                    b.faults = Faults(latency_ms=latency)
                one = run_once(work, work / "devices.toml", names[:1], f"one-{latency:g}")
                many = run_once(work, work / "devices.toml", names, f"many-{latency:g}")
                print(f"latency {latency:g} ms per command, {args.tests} tests per device:")
                print(f"  1 device : wall {one['wall']:.2f} s, peak memory PSS {one['peak_pss_mb']:.0f} MB "
                      f"(RSS {one['peak_rss_mb']:.0f} MB)")
                print(f"  {args.devices} devices: wall {many['wall']:.2f} s, "
                      f"peak memory PSS {many['peak_pss_mb']:.0f} MB (RSS {many['peak_rss_mb']:.0f} MB; "
                      f"harness + {args.devices} workers)")
                print(f"  wall ratio {args.devices}x/1x: {many['wall'] / one['wall']:.2f}")
                print(f"  harness overhead per test (test duration - device command time), median: "
                      f"{one['overhead_median_ms']:.2f} ms (1 device), {many['overhead_median_ms']:.2f} ms "
                      f"({args.devices} devices)")
                print(f"  run wall time per test minus device command time: "
                      f"{one['wall_overhead_per_test_ms']:.1f} ms (1 device, incl. start-up), "
                      f"{many['wall_overhead_per_test_ms']:.1f} ms ({args.devices} devices)")
        finally:
            for b in boards:
                b.stop()


if __name__ == "__main__":
    main()
