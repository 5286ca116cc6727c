"""Benchmark of the simulated lab (a script, not a timed test):

1. start-up of the default lab (devices.toml, in a temporary copy so its state stays out of the repo):
   `Lab.up()` until every device answers, against a baseline measured in the same run: starting one
   bare python process that opens a listening socket and says so;
2. memory per simulated device: PSS of its process tree (the device process, its sandbox anchor and
   what runs in the sandbox), from /proc/PID/smaps_rollup;
3. a 20-device lab (the five personas repeated) up together, every device answering a command
   through the project's transports.

    .venv/bin/python bench/bench_lab.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.lab.lab import Lab  # noqa: E402
from harness.transports import open_transport  # noqa: E402
from tests.lab_inventory import write_lab  # noqa: E402

PERSONAS = ("ohos-rk3568", "euler-ft2000", "handset-hmos", "kylin-v10", "nonconforming-board")


def baseline_seconds() -> float:
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen();"
         " print('listening', flush=True)"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "listening"
    return time.monotonic() - started


def tree_pids(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return pids


def pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def device_memory(lab: Lab) -> dict[str, int]:
    """PSS (kB) of each device's process tree, its sandbox anchor's tree included."""
    out = {}
    for status in lab.status():
        anchor = status.get("anchor_pid")
        pids = tree_pids(status["pid"]) + (tree_pids(anchor) if anchor else [])
        out[status["name"]] = sum(pss_kb(p) for p in set(pids))
    return out


def default_lab(folder: Path) -> None:
    folder.mkdir(parents=True)
    inventory = folder / "devices.toml"
    shutil.copy(REPO / "devices.toml", inventory)
    base = min(baseline_seconds() for _ in range(3))
    lab = Lab(inventory)
    started = time.monotonic()
    lab.up()
    took = time.monotonic() - started
    try:
        memory = device_memory(lab)
    finally:
        lab.down()
    print(f"baseline: one bare python process with a socket: {base * 1000:.0f} ms")
    print(f"default lab ({len(memory)} devices) up and answering: {took:.2f} s "
          f"({took / base:.1f}x the baseline; target 3 s)")
    for name, kb in memory.items():
        print(f"  {name:<22} PSS {kb / 1024:6.1f} MiB (device process + sandbox)")
    print(f"  mean per device: {sum(memory.values()) / len(memory) / 1024:.1f} MiB")


def twenty_devices(folder: Path) -> None:
    """20 devices: four labs' worth of the five personas, merged into one inventory."""
    text, names = "", []
    for copy in range(4):
        (folder / f"part{copy}").mkdir(parents=True)
        inventory, _ = write_lab(folder / f"part{copy}", boot_time=0.3)
        part = inventory.read_text().split("\n", 3)[3]  # drop [lab] state_dir and adb_server lines
        for persona in PERSONAS:
            part = part.replace(f"devices.{persona}]", f"devices.{persona}-{copy}]")
            part = part.replace(f"tty/{persona}\"", f"tty/{persona}-{copy}\"")
            names.append(f"{persona}-{copy}")
        text += part
    adb_port = int(text.split('server = "127.0.0.1:', 1)[1].split('"', 1)[0])
    text = "\n".join(line if "server = " not in line else
                     line.split('server = "127.0.0.1:')[0] + f'server = "127.0.0.1:{adb_port}"'
                     + line.split('server = "127.0.0.1:')[1].split('"', 1)[1]
                     for line in text.splitlines())
    inventory = folder / "devices.toml"
    inventory.write_text(f'[lab]\nstate_dir = "state"\nadb_server = {adb_port}\n' + text)
    lab = Lab(inventory)
    started = time.monotonic()
    lab.up(timeout=120)
    took = time.monotonic() - started

    def answer(name: str) -> bool:
        link = open_transport(lab.inventory.get(name))
        try:
            return link.run("for i in 1 2 3; do echo $i; done | wc -l", 30).stdout_text.strip() == "3"
        finally:
            link.close()

    try:
        started_cmd = time.monotonic()
        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(answer, names))
        cmd_took = time.monotonic() - started_cmd
        memory = device_memory(lab)
    finally:
        lab.down()
    print(f"20-device lab up and answering: {took:.2f} s; all answer a command: {all(answers)} "
          f"({sum(answers)}/20 in {cmd_took:.2f} s, in parallel)")
    print(f"  total PSS {sum(memory.values()) / 1024:.0f} MiB, "
          f"{sum(memory.values()) / len(memory) / 1024:.1f} MiB per device")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-lab-") as tmp:
        default_lab(Path(tmp) / "default")
        twenty_devices(Path(tmp) / "twenty")


if __name__ == "__main__":
    main()
