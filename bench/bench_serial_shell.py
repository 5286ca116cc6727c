"""Benchmark: how to run a command in a busybox ash console (issue 9, item 5), on the QEMU tier.

One applet-heavy command and one shell loop, each three ways on the same board and console,
interleaved so machine noise hits all alike:
  login: `eval` in the interactive login shell itself (what the driver did before)
  fork:  `eval` in a forked subshell of it (Strategy.FORK, what bash and dash get)
  child: a fresh `sh -c` (Strategy.CHILD, what busybox ash gets)
Prints the medians and the ratios to `child`; strategy_for() is chosen from these figures.

    .venv/bin/python bench/bench_serial_shell.py [repeats]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.lab.qemu import QemuBoard, build_image, default_state_dir  # noqa: E402
from harness.transports.serial import SerialTransport  # noqa: E402
from harness.transports.serial_protocol import PromptWatch, Strategy, runner_line  # noqa: E402
from harness.transports.serial_session import ConsoleSession, _token  # noqa: E402
from harness.waiting import Deadline  # noqa: E402

COMMANDS = {
    "applets": "seq 1 50000 >/dev/null",
    "loop": "i=0; while [ $i -lt 5000 ]; do i=$((i+1)); done",
}


def _use(session: ConsoleSession, strategy: Strategy) -> None:
    token = _token()
    session._type(runner_line(token, strategy))
    session._await(PromptWatch(token), Deadline(30))


def measure(repeats: int = 3) -> dict[str, dict[str, float]]:
    state = default_state_dir()
    figures: dict[str, dict[str, float]] = {}
    with QemuBoard(state, name="bench-board", image=build_image(state), boot_timeout=120) as board, \
            SerialTransport(board.serial_spec(), connect_timeout=60) as console:
        console.connect()
        session = console._session
        assert session is not None
        for name, cmd in COMMANDS.items():
            times: dict[str, list[float]] = {"login": [], "fork": [], "child": []}
            for _ in range(repeats):
                start = time.perf_counter()
                assert session.control(cmd, Deadline(300))[0] == 0
                times["login"].append(time.perf_counter() - start)
                for strategy in (Strategy.FORK, Strategy.CHILD):
                    _use(session, strategy)
                    start = time.perf_counter()
                    assert console.run(cmd, timeout=300).ok
                    times[strategy.value].append(time.perf_counter() - start)
            medians = {way: statistics.median(t) for way, t in times.items()}
            ratios = {f"{way}_vs_child": round(m / medians["child"], 2) for way, m in medians.items()}
            figures[name] = {**{f"{way}_s": round(m, 3) for way, m in medians.items()}, **ratios}
    return figures


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=1))
