"""Peers of the multi-host lab tests and the agent benchmark: labs of simulated SSH boards (each lab its
own ports, inventory and state), agents as separate processes, the probe runner, a TCP path to the
database that can be cut, and the checks read from the devices' own command logs.

The probe runner is the agent's JobRunner seam with the least work a job can do on a real device: one
command over the real SSH transport, naming the job (`echo harness-job ID begin; sleep S; echo ... end`),
so hundreds of jobs cost seconds. The real runner (`harness run`) is proven by the tests that use
`harness agent` itself.

    python -m tests.agent_peers --db URL -i devices.toml --host NAME [--job-seconds S] ...
"""

from __future__ import annotations

import argparse
import contextlib
import re
import socket
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.inventory import load_inventory
from harness.lab.device.command_log import COMMAND_LOG, LoggedCommand, read_command_log
from harness.transports import open_transport
from harness.transports.base import Transport
from harness.waiting import free_port

JOB_MARK = re.compile(r"harness-job (\d+) (run|health)")


def write_ssh_lab(folder: Path, prefix: str, count: int, tags: tuple[str, ...] = ("arm64",),
                  boot_time: float = 0.2) -> Path:
    """An inventory of `count` simulated Kylin boards on SSH, named PREFIX-00.., in its own folder."""
    folder.mkdir(parents=True, exist_ok=True)
    ssh = 'user = "root", key_file = "state/client_key", known_hosts = "state/known_hosts"'
    tag_list = ", ".join(f'"{t}"' for t in tags)
    ports: set[int] = set()
    while len(ports) < count + 1:
        ports.add(free_port())
    adb, *device_ports = sorted(ports)
    parts = [f'[lab]\nstate_dir = "state"\nadb_server = {adb}\n']
    for i, port in enumerate(device_ports):
        name = f"{prefix}-{i:02d}"
        parts.append(f"""
[devices.{name}]
kind = "board"
profile = "kylin"
tags = [{tag_list}]
ssh = {{ host = "127.0.0.1", port = {port}, {ssh} }}
[lab.devices.{name}]
persona = "kylin-v10"
boot_time = {boot_time}
""")
    path = folder / "devices.toml"
    path.write_text("".join(parts))
    return path


def start_ssh_lab(folder: Path, prefix: str, count: int, tags: tuple[str, ...] = ("arm64",),
                  boot_time: float = 0.2, timeout: float = 120.0):  # -> (Lab, inventory)
    """write_ssh_lab, then up; on fresh ports again when one was taken meanwhile (a shared machine)."""
    from harness.lab.lab import Lab, LabError

    for attempt in range(4):
        inventory = write_ssh_lab(folder, prefix, count, tags, boot_time)
        lab = Lab(inventory)
        try:
            lab.up(timeout=timeout)
            return lab, inventory
        except LabError as exc:
            if "Address already in use" not in str(exc) or attempt == 3:
                raise
    raise AssertionError("unreachable")


def command_logs(inventory: Path, since: float = 0.0) -> dict[str, list[LoggedCommand]]:
    """Each simulated device's own command log (harness.lab.device.command_log), from `since` on."""
    state = inventory.parent / "state" / "devices"
    return {d.name: [c for c in read_command_log(d / COMMAND_LOG) if c.start >= since]
            for d in sorted(state.iterdir()) if d.is_dir()}


def overlaps(logs: dict[str, list[LoggedCommand]]) -> list[str]:
    """Every pair of commands that ran at the same time on one device (an unfinished one runs for ever)."""
    found = []
    for device, commands in logs.items():
        latest: LoggedCommand | None = None
        for cmd in commands:  # in start order
            if latest is not None and (latest.end is None or cmd.start < latest.end):
                found.append(f"{device}: {latest.cmd!r} and {cmd.cmd!r}")
            if latest is None or latest.end is None or (cmd.end is None or cmd.end > latest.end):
                latest = cmd
    return found


def completed_jobs(logs: dict[str, list[LoggedCommand]]) -> Counter[tuple[int, str]]:
    """(job id, device) -> how many times the job's command ran to its end with exit 0 on that device."""
    runs: Counter[tuple[int, str]] = Counter()
    for device, commands in logs.items():
        for cmd in commands:
            m = JOB_MARK.search(cmd.cmd)
            if m and cmd.exit == 0 and "end" in cmd.cmd:
                runs[(int(m[1]), device)] += 1
    return runs


@dataclass
class _ProbeJob:
    runner: ProbeRunner
    job_id: int
    device: str
    health: bool

    def wait(self):  # -> JobResult
        from harness.agent.runner import JobResult

        kind = "health" if self.health else "run"
        seconds = self.runner.seconds
        cmd = f"echo harness-job {self.job_id} {kind} begin; sleep {seconds:g}; echo harness-job {self.job_id} end"
        try:
            transport = self.runner.transport(self.device)
            result = transport.run(cmd, timeout=self.runner.timeout)
        except HarnessError as exc:
            self.runner.drop(self.device)
            return JobResult(state="error", note=f"lab trouble: {exc}")
        if result.exit_code != 0:
            return JobResult(state="fail", exit_code=result.exit_code, note="the probe failed")
        return JobResult(state="pass", exit_code=0, verdict="CERTIFIED")

    def stop(self) -> None:
        # Closing the link stops the command on the device; after --stop-delay, as a run that takes
        # a while to stop cleanly (harness run writing its records) would.
        if self.runner.stop_delay > 0:
            threading.Timer(self.runner.stop_delay, self.runner.drop, args=(self.device,)).start()
        else:
            self.runner.drop(self.device)


class ProbeRunner:
    """JobRunner: one command per job over a kept SSH connection per device (one job per device at a
    time, so one connection each)."""

    def __init__(self, inventory: Path, seconds: float, timeout: float = 30.0, stop_delay: float = 0.0) -> None:
        self.inventory = load_inventory(inventory)
        self.seconds = seconds
        self.timeout = timeout
        self.stop_delay = stop_delay
        self._links: dict[str, Transport] = {}
        self._lock = threading.Lock()

    def transport(self, device: str) -> Transport:
        with self._lock:
            link = self._links.get(device)
            if link is None:
                link = self._links[device] = open_transport(self.inventory.get(device))
        return link

    def drop(self, device: str) -> None:
        with self._lock:
            link = self._links.pop(device, None)
        if link is not None:
            with contextlib.suppress(Exception):
                link.close()

    def start(self, spec) -> _ProbeJob:  # JobSpec -> RunningJob
        return _ProbeJob(self, spec.job_id, spec.device, spec.health)


class _Sleep:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._stop = threading.Event()

    def wait(self):  # -> JobResult
        from harness.agent.runner import JobResult

        if self._stop.wait(self.seconds):  # the job's own time, cut short by stop()
            return JobResult(state="error", note="stopped")
        return JobResult(state="pass", exit_code=0)

    def stop(self) -> None:
        self._stop.set()


class SleepRunner:
    """JobRunner for the scheduler's own figures (bench/bench_agents.py --no-lab): a job holds its device
    for a set time and touches nothing, so what remains is the queue's and the agent's own work."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def start(self, spec) -> _Sleep:  # JobSpec -> RunningJob
        return _Sleep(self.seconds)


class CuttableProxy:
    """A TCP forwarder to the database that a test can cut (every connection dropped, new ones refused)
    and restore: one agent cut off from PostgreSQL while the others are not."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def main(argv: list[str] | None = None) -> int:
    from harness.agent.dburl import resolve_url
    from harness.agent.loop import Agent, AgentConfig

    parser = argparse.ArgumentParser(prog="tests.agent_peers")
    parser.add_argument("--db", required=True)
    parser.add_argument("-i", "--inventory", type=Path, required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--job-seconds", type=float, default=0.1)
    parser.add_argument("--job-timeout", type=float, default=30.0)
    parser.add_argument("--heartbeat", type=float, default=0.5)
    parser.add_argument("--host-timeout", type=float, default=10.0)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--health-every", type=float, default=0.0)
    parser.add_argument("--stop-delay", type=float, default=0.0, help="A job takes this long to stop.")
    parser.add_argument("--warm", action="store_true", help="Connect to every device before starting.")
    parser.add_argument("--sleep-only", action="store_true", help="Jobs hold their device, touch nothing.")
    opts = parser.parse_args(argv)
    specs = list(load_inventory(opts.inventory).devices.values())
    config = AgentConfig(host=opts.host, db_url=resolve_url(opts.db), devices=specs, heartbeat=opts.heartbeat,
                         host_timeout=opts.host_timeout, poll=opts.poll, health_every=opts.health_every)
    if opts.sleep_only:
        try:
            return Agent(config, SleepRunner(opts.job_seconds)).run()
        except HarnessError as exc:
            print(f"harness: lab trouble: {exc}", file=sys.stderr)
            return 3
    runner = ProbeRunner(opts.inventory, opts.job_seconds, opts.job_timeout, opts.stop_delay)
    if opts.warm:  # every link up before the first job, as a baseline that keeps its links would have
        for spec in specs:
            runner.transport(spec.name).run("true", timeout=opts.job_timeout)
    try:
        return Agent(config, runner).run()
    except HarnessError as exc:
        print(f"harness: lab trouble: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
