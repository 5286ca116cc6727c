"""The lab's control of a device's power, as a real bench has it with a PDU outlet or a relay: the
inventory's `power` table of a device says how the power is cut and restored, and the stability suite
cuts it (filesystem consistency after power loss). A device without a `power` table has no power
control: the tests that need it SKIP with that reason.

    power = { off = "pdu-ctl outlet 3 off", on = "pdu-ctl outlet 3 on", off_seconds = 3 }
    power = { socket = ".lab/run/nonconforming-board.sock" }

`off`/`on` are shell commands run on the lab host (`sh -c`, within `timeout`); `socket` is a power
controller speaking JSON lines on a unix socket ({"op": "power_off"} / {"op": "power_on"}, answered
{"ok": true} or {"ok": false, "error": "..."}), which the simulated lab's devices
(harness.lab.device.main) and the QEMU tier's boards (harness.lab.qemu.power) serve. A failing switch
is lab trouble (PowerError, a TransportError), never a product failure."""

from __future__ import annotations

import json
import math
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .config_check import Where, string, table
from .errors import TransportError

POWER_KEYS = ("off", "on", "socket", "off_seconds", "timeout")
MAX_SECONDS = 3600.0
REPLY_LIMIT = 64 * 1024


class PowerError(TransportError):
    """The power switch did not do what it was asked (lab trouble)."""


@dataclass(frozen=True)
class PowerSpec:
    off: str | None = None
    on: str | None = None
    socket: Path | None = None
    off_seconds: float = 2.0  # how long the power stays cut (capacitors drain on real boards)
    timeout: float = 60.0  # per switch action

    def describe(self) -> str:
        if self.socket is not None:
            return f"socket {self.socket}"
        return f"commands off={self.off!r} on={self.on!r}"


def _bounded_seconds(value: Any, where: Where) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= MAX_SECONDS:
        raise where.fail(value, f"expected a number of seconds from 0 to {MAX_SECONDS:g}")
    return float(value)


def parse_power(raw: Any, where: Where, base: Path) -> PowerSpec:
    f = table(raw, where, {"off": string, "on": string, "socket": string, "off_seconds": _bounded_seconds,
                           "timeout": _bounded_seconds})
    commands = {"off", "on"} & f.keys()
    if "socket" in f:
        if commands:
            raise where.child(sorted(commands)[0]).fail(f[sorted(commands)[0]],
                                                        "give either socket or off and on, not both")
        path = Path(f.pop("socket")).expanduser()
        return PowerSpec(socket=path if path.is_absolute() else base / path, **f)
    if commands != {"off", "on"}:
        missing = ({"off", "on"} - commands).pop()
        raise where.child(missing).fail(None, "required key is missing (a power table needs off and on, "
                                              "or socket)")
    return PowerSpec(**f)


class PowerSwitch(Protocol):
    def power_off(self) -> None: ...

    def power_on(self) -> None: ...


class CommandSwitch:
    """A PDU or relay driven by commands on the lab host."""

    def __init__(self, spec: PowerSpec) -> None:
        assert spec.off is not None and spec.on is not None
        self.spec = spec

    def _run(self, what: str, command: str) -> None:
        try:
            done = subprocess.run(["sh", "-c", command], capture_output=True, timeout=self.spec.timeout)
        except subprocess.TimeoutExpired:
            raise PowerError(f"power {what}: {command!r} ran past {self.spec.timeout:g}s") from None
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).decode(errors="replace").strip()[-300:]
            raise PowerError(f"power {what}: {command!r} exited {done.returncode}: {detail}")

    def power_off(self) -> None:
        self._run("off", self.spec.off or "")

    def power_on(self) -> None:
        self._run("on", self.spec.on or "")


class SocketSwitch:
    """A power controller on a unix socket (the simulated lab, the QEMU tier)."""

    def __init__(self, spec: PowerSpec) -> None:
        assert spec.socket is not None
        self.spec = spec

    def _ask(self, op: str) -> None:
        path = str(self.spec.socket)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.spec.timeout)
                sock.connect(path)
                sock.sendall(json.dumps({"op": op}).encode() + b"\n")
                reply = sock.makefile("rb").readline(REPLY_LIMIT)
        except OSError as exc:
            raise PowerError(f"power {op}: the controller at {path} did not answer: {exc}") from None
        try:
            answer = json.loads(reply)
        except ValueError:
            raise PowerError(f"power {op}: the controller at {path} answered {reply[:200]!r}") from None
        if not isinstance(answer, dict) or answer.get("ok") is not True:
            error = answer.get("error") if isinstance(answer, dict) else answer
            raise PowerError(f"power {op}: the controller at {path} refused: {str(error)[:300]}")

    def power_off(self) -> None:
        self._ask("power_off")

    def power_on(self) -> None:
        self._ask("power_on")


def open_switch(spec: PowerSpec) -> PowerSwitch:
    return SocketSwitch(spec) if spec.socket is not None else CommandSwitch(spec)
