"""Where a worker's CPU per test goes (a script, not a test): `python bench/bench_worker.py [--tests 300]
[--rounds 5] [--profile]`.

One simulated SSH board in its own process (bench_runner's), and worker runs forked from this process
as `harness run` forks them (pytest and the plugin imported first), each measured by its own CPU
(getrusage of the child: its main thread and paramiko's). The CPU of one more test, (T tests - 1 test)
/ (T - 1), for layers added one at a time, in interleaved rounds (the machine is shared, and sharing only
ever adds CPU: the least of the rounds is the figure, the median beside it):
- pytest: a test of pytest alone, without the harness plugin;
- plugin: the harness plugin (journal line, outcome, selection), a test that does not use the device;
- transport: `dut.transport.run('true')`, the link without the Dut's evidence;
- dut.run: `dut.run('true')`, the bench's test (evidence, command log, masking);
against the baseline, a bare paramiko client's CPU per command on the same board, in this process.
`--profile`: the dut.run worker under cProfile (CPU time of its main thread), the top functions.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_runner import SUITE_TOML, Board, link_cpu_per_command_ms, write_inventory  # noqa: E402

BODIES = {
    "pytest": "def test_cmd(n):\n    assert n >= 0\n",
    "plugin": "def test_cmd(n):\n    assert n >= 0\n",
    "transport": "def test_cmd(dut, n):\n    assert dut.transport.run('true').exit_code == 0\n"
                 "    dut.identity()\n",
    "dut.run": "def test_cmd(dut, n):\n    assert dut.run('true').exit_code == 0\n",
}


def write_suite(root: Path, layer: str, tests: int) -> Path:
    suite = root / f"{layer}-{tests}" / "bench"
    suite.mkdir(parents=True)
    (suite / "suite.toml").write_text(SUITE_TOML)
    (suite / "test_bench.py").write_text(
        "import pytest\n\n\n@pytest.mark.requirement('B-1')\n"
        f"@pytest.mark.parametrize('n', range({tests}))\n" + BODIES[layer])
    return suite.parent


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker_cpu(work: Path, layer: str, tests: int, run: str, profile: Path | None = None) -> float:
    """CPU seconds of one forked worker's pytest.main over `tests` tests of `layer`."""
    from harness.run.worker import BASE_FLAGS, pytest_flags

    suites = work / f"{layer}-{tests}"
    flags = list(BASE_FLAGS) if layer == "pytest" else pytest_flags()
    args = [*flags, f"--rootdir={suites}", str(suites / "bench"), "--device", "board00",
            "--inventory", str(work / "devices.toml"), "--harness-run-dir", str(work / "runs" / run)]
    if layer == "pytest":
        args = [*flags, f"--rootdir={suites}", str(suites / "bench")]
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker, as harness.run.worker makes it: output to a log, progress to a pipe
        code = 1
        try:
            log = os.open(work / "worker.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.environ["HARNESS_PROGRESS_FD"] = str(os.open(os.devnull, os.O_WRONLY))
            os.chdir(suites)
            import pytest

            before = _cpu()
            if profile is not None:
                import cProfile
                import time

                profiler = cProfile.Profile(time.thread_time)
                code = int(profiler.runcall(pytest.main, args))
                profiler.dump_stats(profile)
            else:
                code = int(pytest.main(args))
            os.write(write_fd, f"{code} {_cpu() - before}".encode())
        finally:
            os._exit(code)
    os.close(write_fd)
    os.waitpid(pid, 0)
    answer = os.read(read_fd, 100).split()
    os.close(read_fd)
    if not answer or answer[0] != b"0":
        raise SystemExit(f"the {layer} worker failed: see {work / 'worker.log'}")
    return float(answer[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tests", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="also profile the dut.run worker")
    args = ap.parse_args()
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    from harness.run.worker import _prepare_fork

    _prepare_fork()  # what the runner imports before it forks its workers
    with tempfile.TemporaryDirectory(prefix="harness-bench-worker-") as tmp:
        work = Path(tmp)
        with open(work / "board.log", "wb") as board_log:
            board = Board(board_log)
            try:
                write_inventory(work / "devices.toml", [board])
                for layer in BODIES:
                    write_suite(work, layer, 1)
                    write_suite(work, layer, args.tests)
                per_test: dict[str, list[float]] = {layer: [] for layer in BODIES}
                link: list[float] = []
                for r in range(args.rounds):
                    link.append(link_cpu_per_command_ms(board))
                    for layer in BODIES:
                        start = worker_cpu(work, layer, 1, f"{layer}-1-{r}")
                        full = worker_cpu(work, layer, args.tests, f"{layer}-{args.tests}-{r}")
                        per_test[layer].append((full - start) / (args.tests - 1) * 1000)
                link_ms = min(link)
                print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {args.tests} tests, "
                      f"least of {args.rounds} rounds; baseline: a bare paramiko client "
                      f"{link_ms:.2f} ms CPU per command")
                previous = 0.0
                for layer, values in per_test.items():
                    ms = min(values)
                    print(f"  {layer:9s} {ms:5.2f} ms CPU per test = {ms / link_ms:4.2f}x the bare client "
                          f"(+{ms - previous:5.2f} ms; median {statistics.median(values):.2f})")
                    previous = ms
                if args.profile:
                    import pstats

                    out = work / "worker.prof"
                    worker_cpu(work, "dut.run", args.tests, "profile", profile=out)
                    pstats.Stats(str(out)).sort_stats("tottime").print_stats(25)
            finally:
                board.stop()


if __name__ == "__main__":
    main()
