"""What `harness lab up` started, on disk (`<state_dir>/lab.json`), so `lab down` and `lab status` from
another process find exactly those processes: pid plus the kernel's start time, so a recycled pid is
never taken for ours."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomic_file import write_atomic


@dataclass(frozen=True)
class ProcessRecord:
    pid: int
    start: int  # /proc/PID/stat starttime (clock ticks since boot)
    group: bool = True  # it leads its own process group (started in a new session)

    @classmethod
    def of(cls, pid: int, group: bool = True) -> ProcessRecord:
        return cls(pid=pid, start=start_time(pid) or 0, group=group)

    @property
    def alive(self) -> bool:
        """Running and still the process we started (not a zombie, not a recycled pid)."""
        return start_time(self.pid) == self.start

    def signal_group(self, sig: int) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if self.group:
                    os.killpg(self.pid, sig)
                else:
                    os.kill(self.pid, sig)


@dataclass(frozen=True)
class DeviceRecord:
    name: str
    persona: str
    process: ProcessRecord
    ports: dict[str, Any]
    log: str
    anchor: ProcessRecord | None = None


@dataclass(frozen=True)
class LabRecords:
    inventory: str
    devices: dict[str, DeviceRecord] = field(default_factory=dict)
    adb_server: ProcessRecord | None = None
    adb_server_port: int | None = None
    hdc_server: ProcessRecord | None = None
    hdc_server_port: int | None = None

    def processes(self) -> list[ProcessRecord]:
        procs = [d.process for d in self.devices.values()]
        return procs + [s for s in (self.adb_server, self.hdc_server) if s is not None]

    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> LabRecords | None:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None  # a torn or foreign file: nothing of ours can be found in it
        devices = {
            name: DeviceRecord(
                name=name, persona=d["persona"], process=ProcessRecord(**d["process"]), ports=d["ports"],
                log=d["log"], anchor=ProcessRecord(**d["anchor"]) if d.get("anchor") else None,
            )
            for name, d in data.get("devices", {}).items()
        }
        adb, hdc = data.get("adb_server"), data.get("hdc_server")
        return cls(inventory=data["inventory"], devices=devices,
                   adb_server=ProcessRecord(**adb) if adb else None,
                   adb_server_port=data.get("adb_server_port"),
                   hdc_server=ProcessRecord(**hdc) if hdc else None,
                   hdc_server_port=data.get("hdc_server_port"))


def start_time(pid: int) -> int | None:
    """The process's start time, or None when it is gone or a zombie (exited, not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def terminate(records: list[ProcessRecord]) -> None:
    for record in records:
        record.signal_group(signal.SIGTERM)


def kill(records: list[ProcessRecord]) -> None:
    for record in records:
        record.signal_group(signal.SIGKILL)
