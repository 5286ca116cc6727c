"""Runner benchmark (a script, not a test): `python bench/bench_runner.py [--devices 1,20,50] [--tests 100]
[--rounds 1]`.

What a lab host with real devices would see of the harness alone. Each simulated SSH board runs in a
process of its own (as `harness lab up` runs them), so the boards' CPU is not charged to the harness;
`harness run` is started through its real CLI and measured by the kernel's accounting of it and the
workers it forks (os.wait4: the runner's CPU plus that of every descendant it reaped):
- harness CPU per test: (CPU of D devices x T tests - CPU of D devices x 1 test) / (D x (T - 1)), the
  cost of one more test without the run's start-up; the start-up's CPU is printed beside it;
- the floor, measured the same way beside it: D processes forked from one that imported pytest and
  paramiko (as the runner forks its workers), each a plain pytest (no harness plugin) whose test runs
  the same command over a bare paramiko client (the harness's cipher order, TCP_NODELAY): what pytest
  and the SSH library alone cost on this machine, at the same device count and latency (an idle gap
  before each answer makes every instruction after it dearer: caches and clocks go cold);
- wall time of D devices x T tests over 1 device x T tests, with 20 ms latency per command and none;
- memory per device worker: the peak over samples of (the workers' summed PSS) / D, and of their USS
  (the pages each worker alone holds: what one more device costs the host) / D (PSS splits the
  pages the forked workers share with the runner, which RSS would count D times);
- stray output: lines `harness run --plain` printed that are neither its progress nor its summary;
- the CPU floor of each many-device run: no run ends before its CPU, spread over the cores, is spent,
  (start-up + D x T x CPU per test) / cores for the harness alone, and with the boards' CPU (from
  /proc: each board process and the commands it reaped) added, against 1.5x one device's wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from harness.waiting import poll_until

PASSWORD = "bench-password"
SUITE_TOML = 'id = "bench"\nversion = "1"\ntitle_en = "bench"\ntitle_zh = "基准"\n\n' \
             '[[requirements]]\nid = "B-1"\nlevel = "MUST"\ntitle_en = "runs"\ntitle_zh = "运行"\n'
# What one board process runs: a SimulatedSshServer that prints its port and host key, then takes
# "latency MS" lines on stdin (answering "ok") until stdin closes.
BOARD = """
import json, sys
from harness.lab.faults import Faults
from harness.lab.ssh.server import SimulatedSshServer
server = SimulatedSshServer(password=sys.argv[1]).start()
print(json.dumps({"port": server.port, "fingerprint": server.fingerprint}), flush=True)
for line in sys.stdin:
    server.faults = Faults(latency_ms=float(line.split()[1]))
    print("ok", flush=True)
server.stop()
"""
# The floor: one process that imports pytest and paramiko, then forks a plain pytest per board (argv:
# a JSON list of board ports, the suite folder); its exit code is the worst of theirs.
FLOOR = """
import gc, json, os, sys
os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # as the harness's workers: pytest's own plugins only
import paramiko, pytest
from harness.transports.ssh_channel import start_exec
ports, suite = json.loads(sys.argv[1]), sys.argv[2]
gc.freeze()  # as the runner does before it forks
pids = []
for port in ports:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            log = os.open(os.path.join(suite, f"floor-{port}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.environ["FLOOR_PORT"] = str(port)
            code = int(pytest.main(["-p", "no:cacheprovider", "-q", "--import-mode=importlib",
                                    "--rootdir", suite, suite]))
        finally:
            os._exit(code)
    pids.append(pid)
codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
if any(codes):
    print("floor workers failed:", codes, "(logs: floor-PORT.log beside the suite)")
    sys.exit(1)
"""
FLOOR_TEST = """
import os, sys
sys.path.insert(0, BENCH_DIR)
import pytest
from bench_runner import bare_link
from harness.transports.ssh_channel import start_exec


@pytest.fixture(scope="session")
def link():
    transport = bare_link(int(os.environ["FLOOR_PORT"]))
    yield transport
    transport.close()


@pytest.mark.parametrize("n", range(TESTS))
def test_cmd(link, n):
    chan = link.open_session()
    start_exec(chan, "true")  # as the harness sends it: not waiting for the reply
    assert chan.recv_exit_status() == 0
    chan.close()
"""
# The lines `harness run --plain` prints of its own: progress, the summary table, where the run went.
OWN_LINE = re.compile(r"^(\[[\w.-]+\] |running on \d+ device|run \S+ finished: |[┏┃┡│└]|/\S+\.zip$)")


class Board:
    def __init__(self, log: IO[bytes]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", BOARD, PASSWORD], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.port, self.fingerprint = int(info["port"]), str(info["fingerprint"])

    def set_latency(self, ms: float) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"latency {ms}\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "ok":
            raise SystemExit("a board did not take its latency")

    def cpu(self) -> float:
        """CPU seconds the board has used so far: its own and that of the commands it ran and reaped."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def write_suite(root: Path, tests: int) -> Path:
    suite = root / f"suites-{tests}" / "bench"
    suite.mkdir(parents=True)
    (suite / "suite.toml").write_text(SUITE_TOML)
    (suite / "test_bench.py").write_text(
        "import pytest\n\n\n@pytest.mark.requirement('B-1')\n"
        f"@pytest.mark.parametrize('n', range({tests}))\n"
        "def test_cmd(dut, n):\n    assert dut.run('true').exit_code == 0\n")
    return suite.parent


def write_floor_suite(root: Path, tests: int) -> Path:
    suite = root / f"floor-{tests}"
    suite.mkdir(parents=True)
    (suite / "test_floor.py").write_text(
        FLOOR_TEST.replace("BENCH_DIR", repr(str(Path(__file__).resolve().parent)))
        .replace("TESTS", str(tests)))
    return suite


def write_inventory(path: Path, boards: list[Board]) -> list[str]:
    names = [f"board{i:02d}" for i in range(len(boards))]
    path.write_text("".join(
        f'[devices.{n}]\nkind = "board"\nprofile = "generic-linux"\n'
        f'ssh = {{ host = "127.0.0.1", port = {b.port}, user = "root", password = "{PASSWORD}", '
        f'host_key = "{b.fingerprint}" }}\n\n' for n, b in zip(names, boards, strict=True)))
    return names


def _descendants(root_pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, todo = [], list(children.get(root_pid, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _memory_kb(pid: int) -> tuple[int, int]:
    """(PSS, USS) of a process in KiB: its share of every page it maps, and the pages only it maps."""
    pss = uss = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                uss += int(line.split()[1])
    return pss, uss


@dataclass
class RunFigures:
    wall: float
    cpu: float  # seconds, the runner and every worker it reaped
    board_cpu: float  # seconds, the boards of the run (their processes and the commands they ran)
    tests: int
    worker_pss_mb: float  # peak summed PSS of the workers / devices
    worker_uss_mb: float  # peak summed USS of the workers / devices: what one more device adds
    stray: list[str]


def run_floor(work: Path, suite: Path, boards: list[Board], run_id: str) -> RunFigures:
    """The floor's processes over `boards`, measured as a harness run is."""
    argv = [sys.executable, "-c", FLOOR, json.dumps([b.port for b in boards]), str(suite)]
    figures = measure(argv, work / f"{run_id}.out", boards, len(boards))
    tests = len(boards) * int(suite.name.split("-")[1])
    return dataclasses.replace(figures, tests=tests, stray=[])


def measure(argv: list[str], out_path: Path, boards: list[Board], devices: int) -> RunFigures:
    """Run argv to its end: wall time, its CPU and its descendants' (wait4), the boards' CPU, the
    peak summed PSS of its descendants per device. A failed run ends the benchmark."""
    boards_before = sum(b.cpu() for b in boards)
    with open(out_path, "w") as out:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        peak = peak_uss = 0
        status: list[tuple[int, resource.struct_rusage]] = []

        def sample_until_exit() -> bool:
            nonlocal peak, peak_uss
            sizes = [_memory_kb(p) for p in _descendants(proc.pid)]
            peak = max(peak, sum(pss for pss, _ in sizes))
            peak_uss = max(peak_uss, sum(uss for _, uss in sizes))
            pid, code, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status.append((code, usage))
            return bool(pid)

        # Sampling reads every worker's smaps: every 0.25 s keeps it from stealing the run's CPU.
        poll_until(sample_until_exit, 3600, interval=0.25, what="the benchmark run")
        wall = time.monotonic() - t0
    board_cpu = sum(b.cpu() for b in boards) - boards_before
    proc.returncode = 0  # reaped by wait4 above; keeps Popen from waiting again
    code, usage = status[0]
    printed = out_path.read_text(errors="replace").splitlines()
    if os.waitstatus_to_exitcode(code) != 0:
        raise SystemExit(f"{out_path.stem} exited {os.waitstatus_to_exitcode(code)}: {printed[-5:]}")
    return RunFigures(wall=wall, cpu=usage.ru_utime + usage.ru_stime, board_cpu=board_cpu, tests=0,
                      worker_pss_mb=peak / 1024 / devices, worker_uss_mb=peak_uss / 1024 / devices,
                      stray=printed)


def run_once(work: Path, suites: Path, boards: list[Board], devices: list[str], run_id: str) -> RunFigures:
    argv = [sys.executable, "-m", "harness", "-i", str(work / "devices.toml"), "run", "bench",
            "--suites-root", str(suites), "--reports", str(work / "reports"), "--run-id", run_id,
            "--plain", *(a for d in devices for a in ("--device", d))]
    figures = measure(argv, work / f"{run_id}.out", boards, len(devices))
    tests = 0
    for device in devices:
        journal = work / "reports" / run_id / "journal" / f"{device}.jsonl"
        tests += sum(1 for raw in journal.read_text().splitlines() if json.loads(raw)["type"] == "result")
    return dataclasses.replace(figures, tests=tests,
                               stray=[line for line in figures.stray if not OWN_LINE.match(line)])


def bare_link(port: int):  # -> paramiko.Transport (imported here: the boards do not need it)
    """A bare paramiko client to the board on `port`, set up as the harness's link is (TCP_NODELAY, its
    ciphers): the floor's link and the back-to-back baseline's."""
    import socket

    import paramiko

    from harness.transports.ssh_connect import cipher_order

    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport = paramiko.Transport(sock)
    options = transport.get_security_options()
    options.ciphers = cipher_order(tuple(options.ciphers))
    transport.connect(username="root", password=PASSWORD)  # a board of this bench, on loopback
    return transport


def link_cpu_per_command_ms(board: Board, commands: int = 300) -> float:
    """The serial baseline: CPU of a bare paramiko client per `true` on the same kind of board (one
    session per command, as the harness does), back to back in this process."""
    transport = bare_link(board.port)
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(commands):
        channel = transport.open_session()
        channel.exec_command("true")
        channel.recv_exit_status()
        channel.close()
    after = resource.getrusage(resource.RUSAGE_SELF)
    transport.close()
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / commands * 1000


def least(runs: list[RunFigures]) -> RunFigures:
    """Each figure the least of the runs of one case: other work on a shared machine only ever adds
    wall and CPU time. Results and PSS are the last run's; the stray lines are every run's."""
    return dataclasses.replace(runs[-1], wall=min(f.wall for f in runs), cpu=min(f.cpu for f in runs),
                               board_cpu=min(f.board_cpu for f in runs),
                               stray=[line for f in runs for line in f.stray])


def ratio_text(value: float, base: float) -> str:
    """value/base as "1.23x", or "n/a" where run-to-run noise left the base at or near nothing
    (too few tests or rounds for a difference of two runs)."""
    return f"{value / base:.2f}x" if base > 0.05 else "n/a (more --tests)"


def cpu_floor(devices: int, tests: int, cores: int, harness_ms: float, board_ms: float,
              start_cpu: float, one_device_wall: float) -> str:
    """What this machine can give at best: a run cannot end before its CPU, spread over every core, is
    spent. The harness's alone (start-up and tests), then with the boards' (on a real lab host the
    boards are elsewhere), against the target of 1.5x one device's wall time."""
    harness = (start_cpu + devices * tests * harness_ms / 1000) / cores
    with_boards = harness + devices * tests * board_ms / 1000 / cores
    return (f"CPU floor on {cores} cores: the harness alone {harness:5.2f} s = "
            f"{harness / one_device_wall:4.2f}x 1 device, with the boards' CPU ({board_ms:.2f} ms per "
            f"command) {with_boards:5.2f} s = {with_boards / one_device_wall:4.2f}x (target 1.5x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", default="1,20,50", help="device counts, comma-separated")
    ap.add_argument("--tests", type=int, default=100)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=1,
                    help="run each case this many times and keep the least (sharing the machine only adds)")
    args = ap.parse_args()
    counts = sorted({int(c) for c in args.devices.split(",")} | {1})
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        work = Path(tmp)
        many, one_test = write_suite(work, args.tests), write_suite(work, 1)
        floor_many, floor_one = write_floor_suite(work, args.tests), write_floor_suite(work, 1)
        with open(work / "boards.log", "wb") as board_log:
            boards = [Board(board_log) for _ in range(max(counts))]
            try:
                names = write_inventory(work / "devices.toml", boards)
                cores = len(os.sched_getaffinity(0))
                print(f"{cores} cores; {args.tests} tests per device; boards in their own "
                      f"processes; the harness's CPU from wait4")
                stray: list[str] = []
                link_ms = link_cpu_per_command_ms(boards[0])
                print(f"a bare paramiko client back to back: {link_ms:.2f} ms CPU per command; the floor "
                      f"below: pytest with that client, no harness, the same boards and latency")
                for latency in (args.latency_ms, 0.0):
                    for b in boards:
                        b.set_latency(latency)
                    print(f"latency {latency:g} ms per command:")
                    base: RunFigures | None = None
                    for count in counts:
                        used = boards[:count]
                        fulls, starts, floors, floor_starts = [], [], [], []
                        for r in range(args.rounds):
                            run_id = f"d{count}-l{latency:g}-r{r}"
                            fulls.append(run_once(work, many, used, names[:count], run_id))
                            starts.append(run_once(work, one_test, used, names[:count], run_id + "-start"))
                            floors.append(run_floor(work, floor_many, used, run_id + "-floor"))
                            floor_starts.append(run_floor(work, floor_one, used, run_id + "-floor-start"))
                        full, start = least(fulls), least(starts)
                        floor, floor_start = least(floors), least(floor_starts)
                        base = base or full
                        more_tests = count * (args.tests - 1)
                        per_test_ms = (full.cpu - start.cpu) / more_tests * 1000
                        floor_ms = (floor.cpu - floor_start.cpu) / more_tests * 1000
                        board_ms = (full.board_cpu - start.board_cpu) / more_tests * 1000
                        stray += full.stray + start.stray
                        ratio = full.wall / base.wall
                        print(f"  {count:3d} device(s): wall {full.wall:6.2f} s = {ratio:4.2f}x 1 device; "
                              f"harness CPU per test {per_test_ms:5.2f} ms = "
                              f"{ratio_text(per_test_ms, floor_ms)} the floor's {floor_ms:.2f} ms (start-up "
                              f"{start.cpu:.2f} s CPU); per worker {full.worker_pss_mb:5.1f} MB PSS, "
                              f"{full.worker_uss_mb:4.1f} MB its own; "
                              f"{full.tests} results")
                        if count > 1:
                            print("        " + cpu_floor(count, args.tests, cores, per_test_ms, board_ms,
                                                          start.cpu, base.wall))
                board_log.flush()
                print(f"stray lines from harness run: {len(stray)}"
                      + "".join(f"\n  {line!r}" for line in stray[:5]))
                print(f"lines the boards printed (their own log, not the run's): "
                      f"{len((work / 'boards.log').read_bytes().splitlines())}")
            finally:
                for b in boards:
                    b.stop()


if __name__ == "__main__":
    main()
