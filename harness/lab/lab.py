"""The lab in a box: every simulated device of an inventory's [lab] section as its own background
process, plus the lab's own adb and hdc servers, up and down as one.

    with Lab(Path("devices.toml")) as lab:       # up() ... down()
        lab.set_faults("euler-ft2000", Faults(latency_ms=200))
        lab.reboot("handset-hmos")

up() returns once EVERY device answers: each device process reports over a pipe that it has booted,
then a real probe (the SSH banner, the console listening, adb saying `device`). Every process is
recorded in `<state_dir>/lab.json` as soon as it starts, so down() (from any process) stops exactly
those, and a failed up() stops what it started before it returns. up() and down() hold the state dir's
lock (`<state_dir>/lab.lock`, harness.locks): two at once on one lab run one after the other, and the
second `lab up` finds the lab up and says so."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.errors import ConfigError, HarnessError
from harness.inventory import load_inventory
from harness.lab.device.main import control_socket_path
from harness.lab.faults import Faults
from harness.lab.hdc.build import build_hdc, link_binaries
from harness.lab.hdc.server import HdcServer
from harness.lab.lab_config import LabConfig
from harness.lab.lab_keys import prepare_ssh_keys
from harness.lab.lab_records import DeviceRecord, LabRecords, ProcessRecord, kill, terminate
from harness.lab.peers.adb_server import AdbServer
from harness.locks import FileLock, LockHolder
from harness.waiting import Deadline, poll_until

UP_TIMEOUT = 30.0
DOWN_TIMEOUT = 10.0
CONTROL_TIMEOUT = 5.0
ADB_START_TIMEOUT = 20.0  # AdbServer.start's own wait for its port


class LabError(HarnessError):
    """Lab trouble: a device did not come up, isolation is unavailable, the lab is already up."""


class Lab:
    def __init__(self, inventory: Path, *, only: Sequence[str] = ()) -> None:
        self.inventory_path = Path(inventory).resolve()
        inv = load_inventory(self.inventory_path)
        if inv.lab is None:
            raise ConfigError(f"{self.inventory_path}: no [lab] section: nothing to simulate")
        self.inventory = inv
        self.config: LabConfig = inv.lab
        self.names = [self.config.get(n).name for n in only] or list(self.config.devices)
        self._procs: dict[int, subprocess.Popen[bytes]] = {}  # ours to reap

    @property
    def _hdc_names(self) -> list[str]:
        return [n for n in self.names if self.config.devices[n].hdc_port is not None]

    @property
    def records_path(self) -> Path:
        return self.config.state_dir / "lab.json"

    def records(self) -> LabRecords | None:
        return LabRecords.load(self.records_path)

    @contextlib.contextmanager
    def _state_locked(self, action: str, wait: float) -> Iterator[None]:
        """One up() or down() at a time on this state dir, whichever process runs it."""
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.config.state_dir / "lab.lock", f"the lab in {self.config.state_dir}")
        lock.acquire(LockHolder.me(action), wait)
        with lock:
            yield

    # -- up ---------------------------------------------------------------------------------------

    def up(self, timeout: float = UP_TIMEOUT) -> list[dict[str, Any]]:
        if self._hdc_names:
            # Before the deadline: the first build of the real hdc and hdcd takes minutes, later ones
            # come from the cache at once.
            link_binaries(build_hdc(), self.config.hdc_bin_dir)
        deadline = Deadline(timeout)
        with self._state_locked("lab up", timeout):
            return self._up(deadline)

    def _up(self, deadline: Deadline) -> list[dict[str, Any]]:
        state = self.config.state_dir
        old = self.records()
        if old is not None and any(p.alive for p in old.processes()):
            raise LabError(f"the lab of {self.inventory_path} is already up (run `harness lab down` first)")
        for sub in ("logs", "run", "tty", "devices"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        prepare_ssh_keys(self.inventory, self.config, self.names)
        adb_names = [n for n in self.names if self.config.devices[n].adb_port is not None]
        adb_thread, adb_box = self._start_adb_server() if adb_names else (None, [])
        pipes: dict[str, int] = {}
        server: AdbServer | None = None
        records = LabRecords(inventory=str(self.inventory_path), adb_server_port=self.config.adb_server_port)
        hdc_server: HdcServer | None = None
        try:
            if self._hdc_names:
                supervisor, hdc_server = self._start_hdc_server()
                records = dataclasses.replace(records, hdc_server=ProcessRecord.of(supervisor.pid),
                                              hdc_server_port=hdc_server.port)
                records.save(self.records_path)  # recorded before anything else can fail
            for name in self.names:
                pipes[name] = self._spawn(name, records)
                records.save(self.records_path)  # each at once: whatever happens next, down() finds it
            reports = self._await_ready(pipes, deadline)
            if adb_thread is not None:
                adb_thread.join(deadline.remaining())
                if not adb_box or isinstance(adb_box[0], BaseException):
                    why = adb_box[0] if adb_box else "timeout"
                    raise LabError(f"the lab's adb server did not start: {why}")
                server = adb_box[0]
                assert server is not None and server.proc is not None
                self._procs[server.proc.pid] = server.proc
                records = LabRecords(inventory=records.inventory, devices=records.devices,
                                     adb_server=ProcessRecord.of(server.proc.pid),
                                     adb_server_port=server.port, hdc_server=records.hdc_server,
                                     hdc_server_port=records.hdc_server_port)
                records.save(self.records_path)
            for name, report in reports.items():
                anchor = report.get("anchor_pid")
                old_rec = records.devices[name]
                records.devices[name] = DeviceRecord(
                    name=name, persona=old_rec.persona, process=old_rec.process,
                    ports=report.get("ports", {}), log=old_rec.log,
                    anchor=ProcessRecord.of(anchor) if anchor else None)
            records.save(self.records_path)
            for name in adb_names:
                assert server is not None
                self._adb_connect(server, name, deadline)
            for name in self._hdc_names:
                assert hdc_server is not None
                self._hdc_connect(hdc_server, name)
            for name in self.names:
                self._probe(name, deadline)
        except BaseException:
            ours = list(self._procs.values())
            self._down()  # everything lab.json names, gracefully
            self._stop_unrecorded(adb_thread, adb_box, ours)
            raise
        return self.status()

    def _stop_unrecorded(self, adb_thread: threading.Thread | None, adb_box: list[Any],
                         ours: list[subprocess.Popen[bytes]]) -> None:
        """After a failed up(): what may have started without reaching lab.json, stopped now. The adb
        server's thread is waited for (it may still be starting it), then the server is stopped."""
        if adb_thread is not None:
            adb_thread.join(ADB_START_TIMEOUT + 5.0)
            if adb_box and isinstance(adb_box[0], AdbServer):
                with contextlib.suppress(Exception):
                    adb_box[0].stop()
        for proc in ours:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def _spawn(self, name: str, records: LabRecords) -> int:
        read_end, write_end = os.pipe()
        log_path = self.config.state_dir / "logs" / f"{name}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "harness.lab.device.main", "--inventory", str(self.inventory_path),
                 "--device", name, "--ready-fd", str(write_end)],
                pass_fds=(write_end,), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group, and it outlives the `lab up` that started it
                cwd=self.config.state_dir,
            )
        os.close(write_end)
        self._procs[proc.pid] = proc
        records.devices[name] = DeviceRecord(name=name, persona=self.config.devices[name].persona,
                                             process=ProcessRecord.of(proc.pid), ports={}, log=str(log_path))
        return read_end

    def _await_ready(self, pipes: dict[str, int], deadline: Deadline) -> dict[str, dict[str, Any]]:
        """One JSON line from each device process: it booted, or why not."""
        got: dict[str, bytes] = {name: b"" for name in pipes}
        reports: dict[str, dict[str, Any]] = {}
        with selectors.DefaultSelector() as sel:
            for name, fd in pipes.items():
                sel.register(fd, selectors.EVENT_READ, name)
            try:
                while len(reports) < len(pipes):
                    events = sel.select(deadline.remaining())
                    if not events:
                        waiting = sorted(set(pipes) - set(reports))
                        raise LabError(f"simulated devices did not come up in time: {', '.join(waiting)}")
                    for key, _ in events:
                        name = key.data
                        chunk = os.read(pipes[name], 65536)
                        got[name] += chunk
                        if chunk and not got[name].endswith(b"\n"):
                            continue
                        sel.unregister(pipes[name])
                        reports[name] = self._ready_report(name, got[name])
            finally:
                for fd in pipes.values():
                    os.close(fd)
        return reports

    def _ready_report(self, name: str, line: bytes) -> dict[str, Any]:
        try:
            report: dict[str, Any] = json.loads(line)
        except ValueError:
            log = self.config.state_dir / "logs" / f"{name}.log"
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            raise LabError(f"simulated device {name} exited while booting: {' '.join(tail) or 'no message'}"
                           ) from None
        if not report.get("ready"):
            raise LabError(str(report.get("error") or f"simulated device {name} failed"))
        return report

    def _start_adb_server(self) -> tuple[threading.Thread, list[Any]]:
        home = self.config.state_dir / "adb"
        home.mkdir(exist_ok=True)
        box: list[Any] = []

        def start() -> None:
            try:
                box.append(AdbServer(port=self.config.adb_server_port, home=home).start())
            except BaseException as exc:  # handed to up(), which reports it
                box.append(exc)

        thread = threading.Thread(target=start, name="lab-adb-server", daemon=True)
        thread.start()
        return thread, box

    def _start_hdc_server(self) -> tuple[subprocess.Popen[bytes], HdcServer]:
        """The lab's own real hdc server (never on 8710: the lab config refuses it), under a supervisor
        that starts it again should it die (see harness.lab.hdc.supervisor). Returns the supervisor,
        the leader of the group that holds both, and a client of the server."""
        home = self.config.state_dir / "hdc"
        client = HdcServer(self.config.hdc_bin_dir / "hdc", port=self.config.hdc_server_port, home=home)
        log_path = self.config.state_dir / "logs" / "hdc-server.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "harness.lab.hdc.supervisor", "--hdc", str(client.hdc),
                 "--port", str(client.port), "--home", str(home)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                cwd=self.config.state_dir)
        self._procs[proc.pid] = proc
        with contextlib.suppress(TimeoutError):  # judged just below
            poll_until(lambda: proc.poll() is not None or _listening(client.port), 20.0,
                       what=f"the lab's hdc server on {client.address}")
        if proc.poll() is not None or not _listening(client.port):
            raise LabError(f"the lab's hdc server did not start on {client.address} (log {log_path})")
        return proc, client

    def _hdc_connect(self, server: HdcServer, name: str) -> None:
        address = f"127.0.0.1:{self.config.devices[name].hdc_port}"
        try:
            server.tconn(address)
        except (RuntimeError, subprocess.SubprocessError) as exc:
            raise LabError(f"simulated device {name}: {exc}") from None

    def _adb_connect(self, server: AdbServer, name: str, deadline: Deadline) -> None:
        address = f"127.0.0.1:{self.config.devices[name].adb_port}"
        try:
            server.connect(address, timeout=max(deadline.remaining(), 1.0))
        except (RuntimeError, subprocess.SubprocessError) as exc:
            raise LabError(f"simulated device {name}: adb connect {address}: {exc}") from None

    def _probe(self, name: str, deadline: Deadline) -> None:
        """A real probe of each link, beyond the device's own word."""
        lab = self.config.devices[name]
        try:
            if lab.ssh_port is not None:
                poll_until(lambda: _ssh_banner(lab.ssh_port), deadline.remaining(),
                           what=f"{name}'s SSH banner")
            if lab.console_port is not None:
                poll_until(lambda: _listening(lab.console_port), deadline.remaining(),
                           what=f"{name}'s console")
            if lab.serial:
                poll_until(lambda: self.config.tty_path(name).exists(), deadline.remaining(),
                           what=f"{name}'s console pty")
        except TimeoutError as exc:
            raise LabError(f"simulated device {name}: {exc}") from None

    # -- down -------------------------------------------------------------------------------------

    def down(self, timeout: float = DOWN_TIMEOUT) -> list[str]:
        """Stop every process the lab recorded; idempotent. Returns the names of stopped devices. Waits
        for a `lab up` in progress (up to its own timeout) and then stops what it started."""
        with self._state_locked("lab down", UP_TIMEOUT + timeout):
            return self._down(timeout)

    def _down(self, timeout: float = DOWN_TIMEOUT) -> list[str]:
        records = self.records()
        if records is None:
            return []
        anchors = [r.anchor for r in records.devices.values() if r.anchor is not None]
        for name in records.devices:
            with contextlib.suppress(LabError):  # the anchor of the device's current boot
                anchor = self._control(name, {"op": "status"}, timeout=1.0)["status"].get("anchor_pid")
                if anchor:
                    anchors.append(ProcessRecord.of(anchor))
        procs = records.processes()
        terminate(procs)
        if not self._all_gone(procs, timeout / 2):
            kill(procs + anchors)
            self._all_gone(procs, timeout / 2)
        # A device's sandbox dies with it (its anchor reads EOF on its stdin); make sure of it.
        if not self._all_gone(anchors, timeout / 2):
            kill(anchors)
        for proc in self._procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)
        self._procs.clear()
        for name in records.devices:
            with contextlib.suppress(FileNotFoundError):
                control_socket_path(self.config, name).unlink()
            with contextlib.suppress(FileNotFoundError):
                self.config.tty_path(name).unlink()
        with contextlib.suppress(FileNotFoundError):
            self.records_path.unlink()
        return list(records.devices)

    def _all_gone(self, procs: list[ProcessRecord], timeout: float) -> bool:
        def gone() -> bool:
            for proc in self._procs.values():
                proc.poll()  # reap our own children, or they would linger as zombies
            return not any(p.alive for p in procs)

        try:
            poll_until(gone, timeout, interval=0.02, what="lab processes to exit")
        except TimeoutError:
            return False
        return True

    # -- run time ---------------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        records = self.records()
        out = []
        for name in self.config.devices:
            lab = self.config.devices[name]
            rec = records.devices.get(name) if records else None
            entry: dict[str, Any] = {"name": name, "persona": lab.persona, "state": "down", "pid": None,
                                     "ports": rec.ports if rec else {}}
            if rec is not None and rec.process.alive:
                entry["pid"] = rec.process.pid
                try:
                    live = self._control(name, {"op": "status"}, timeout=2.0)["status"]
                    entry.update(state=live["state"], boots=live["boots"], anchor_pid=live["anchor_pid"],
                                 boot_completed=live["boot_completed"], faults=live["faults"])
                except LabError as exc:
                    entry.update(state="unresponsive", error=str(exc))
            out.append(entry)
        return out

    def set_faults(self, name: str, faults: Faults) -> None:
        self._control(name, {"op": "set_faults", "faults": faults.to_dict()})

    def reboot(self, name: str) -> None:
        self._control(name, {"op": "reboot"})

    def _control(self, name: str, request: dict[str, Any],
                 timeout: float = CONTROL_TIMEOUT) -> dict[str, Any]:
        self.config.get(name)
        path = control_socket_path(self.config, name)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(str(path))
                sock.sendall(json.dumps(request).encode() + b"\n")
                with sock.makefile("rb") as stream:
                    answer: dict[str, Any] = json.loads(stream.readline(1 << 20) or b"{}")
        except (OSError, ValueError) as exc:
            raise LabError(f"simulated device {name} does not answer on {path}: {exc}") from None
        if not answer.get("ok"):
            raise LabError(f"simulated device {name}: {answer.get('error', 'no answer')}")
        return answer

    def __enter__(self) -> Lab:
        self.up()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.down()


QEMU_BOARD = "qemu-arm64"


def start_qemu_tier(lab: Lab) -> dict[str, Any]:
    """`lab up --qemu`: boot the emulated arm64 board (harness.lab.qemu.QemuBoard) and record its QEMU
    process with the lab's, so `lab down` stops it too. Slow (a real kernel under TCG) and it needs
    qemu-system-aarch64 and a built board image."""
    from harness.lab.qemu import QemuBoard

    board = QemuBoard(lab.config.state_dir / "qemu", name=QEMU_BOARD)
    board.start()
    proc = getattr(board, "_proc", None)
    records = lab.records() or LabRecords(inventory=str(lab.inventory_path))
    ports: dict[str, Any] = {"ssh": board.ssh_port, "console": board.serial_port}
    if proc is not None:
        records.devices[QEMU_BOARD] = DeviceRecord(
            name=QEMU_BOARD, persona="qemu", process=ProcessRecord.of(proc.pid, group=False), ports=ports,
            log=str(board.console_log))
        records.save(lab.records_path)
    return {"name": QEMU_BOARD, "persona": "qemu", "state": "up" if board.alive else "down",
            "pid": proc.pid if proc else None, "ports": ports}


def _ssh_banner(port: int | None) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port or 0), timeout=1.0) as sock:
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _listening(port: int | None) -> bool:
    """A local TCP socket listens on `port` (from /proc, without connecting: a connection would take
    the console's one client place)."""
    wanted = f":{port or 0:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[1].endswith(wanted) and fields[3] == "0A":
                    return True
    return False
