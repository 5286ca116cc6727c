"""The process that hosts ONE simulated device of the lab: its sandbox and its servers.

    python -m harness.lab.device.main --inventory devices.toml --device NAME [--ready-fd FD]

Started by `harness lab up` in its own session. It boots the device, then writes one JSON line on
the ready pipe (`{"ready": true, ...status}` or `{"ready": false, "error": "..."}`) and closes it. It
then serves the control channel (a unix socket in the state dir taking JSON lines: status,
set_faults, reboot) until SIGTERM or SIGINT, when it powers the device off and exits."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.inventory import load_inventory
from harness.lab.control_socket import JsonLineServer
from harness.lab.device.simulated import SimulatedDevice
from harness.lab.faults import Faults
from harness.lab.lab_config import LabConfig


def control_socket_path(config: LabConfig, name: str) -> Path:
    return config.control_socket(name)


class ControlServer(JsonLineServer):
    """JSON lines over a unix socket: {"op": "status" | "reboot" | "set_faults" | "power_off" | "power_on",
    "faults": {...}}."""

    def __init__(self, device: SimulatedDevice, path: Path) -> None:
        super().__init__(path)
        self.device = device

    def serve_in_background(self, name: str = "device-control") -> None:
        super().serve_in_background(name)

    def handle(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            op = request.get("op")
            if op == "status":
                return {"ok": True, "status": self.device.status()}
            if op == "set_faults":
                self.device.set_faults(Faults.from_dict(request.get("faults") or {}))
                return {"ok": True, "status": self.device.status()}
            if op == "reboot":
                self.device.reboot()
                return {"ok": True}
            # The lab's power switch of this device (devices.toml power = { socket = <this socket> }).
            if op == "power_off":
                self.device.cut_power()
                return {"ok": True}
            if op == "power_on":
                self.device.restore_power()
                return {"ok": True}
            return {"ok": False, "error": f"unknown op {op!r}"}
        except (ValueError, TypeError, AttributeError) as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="harness.lab.device.main")
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--device", required=True)
    parser.add_argument("--ready-fd", type=int, default=None)
    opts = parser.parse_args(argv)
    # Block the stop signals in every thread; the main thread takes them with sigwait.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    device: SimulatedDevice | None = None
    control: ControlServer | None = None
    try:
        inventory = load_inventory(opts.inventory)
        config = inventory.lab
        if config is None:
            raise HarnessError(f"{opts.inventory}: no [lab] section")
        device = SimulatedDevice(inventory.get(opts.device), config.get(opts.device), config)
        control = ControlServer(device, control_socket_path(config, opts.device))
        device.power_on()
        control.serve_in_background()
    except (HarnessError, OSError, ValueError) as exc:
        _report(opts.ready_fd, {"ready": False, "error": f"{opts.device}: {exc}"})
        if control is not None:
            control.close()
        if device is not None:
            device.shutdown()
        return 3
    _report(opts.ready_fd, {"ready": True, **device.status()})
    signal.sigwait(stop_signals)
    control.close()
    device.shutdown()
    return 0


def _report(fd: int | None, message: dict[str, Any]) -> None:
    line = json.dumps(message) + "\n"
    if fd is None:
        print(line, end="", flush=True)
        return
    with contextlib.suppress(OSError), os.fdopen(fd, "w") as out:
        out.write(line)


if __name__ == "__main__":
    sys.exit(main())
