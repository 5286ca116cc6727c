"""The links of one simulated device, built over its sandbox: the SSH server, the adbd and the serial
console each run the persona's commands inside the sandbox, and each sends a reboot to the device.

Also the device's property table: ONE source of truth for getprop/param inside the sandbox and for
what the adbd shows (its CNXN banner, its boot-completed flag)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko

from harness.lab.adbd.runner import DeviceContext
from harness.lab.adbd.server import SimulatedAdbd
from harness.lab.adbd.streams import Stream
from harness.lab.adbd.sync import serve_sync
from harness.lab.device.command_log import COMMAND_LOG, CommandLog
from harness.lab.faults import Faults
from harness.lab.sandbox.namespaces import Sandbox
from harness.lab.ssh.keys import load_or_create_host_key
from harness.lab.ssh.server import SimulatedSshServer
from harness.lab.ssh.session import ExecRunner
from harness.specs import SshSpec


class DeviceProperties:
    """The persona's properties (laid into the device at build time, where getprop/param read them)
    plus what the device sets at run time, as init would: boot-completed during and after a boot.
    Every change reaches the sandbox (props.host) and every attached adbd context."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.base = dict(sandbox.persona.properties)
        self.boot_key, self.boot_value = sandbox.persona.boot_completed
        self.runtime: dict[str, str] = {}
        self._contexts: list[DeviceContext] = []
        self._lock = threading.Lock()

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return {**self.base, **self.runtime}

    def attach(self, ctx: DeviceContext) -> None:
        with self._lock:
            self._contexts = [*self._contexts[-3:], ctx]
        ctx.properties = self.snapshot()

    def set(self, key: str, value: str) -> None:
        with self._lock:
            self.runtime[key] = value
            contexts = list(self._contexts)
        self.sandbox.set_property(key, value)
        for ctx in contexts:
            DeviceContext.set_property(ctx, key, value)

    def booting(self) -> None:
        """A fresh boot: runtime values are forgotten (the sandbox forgot props.host), boot not complete."""
        with self._lock:
            self.runtime.clear()
        self.set(self.boot_key, "")

    def booted(self) -> None:
        self.set(self.boot_key, self.boot_value)

    @property
    def boot_completed(self) -> bool:
        return self.snapshot().get(self.boot_key) == self.boot_value


class LabDeviceContext(DeviceContext):
    """The adbd's context whose property changes (its reboot service clears boot-completed) go
    through the device's one property table."""

    table: DeviceProperties | None = None

    def set_property(self, key: str, value: str) -> None:
        if self.table is None:
            super().set_property(key, value)
        else:
            self.table.set(self.table.boot_key if key == "sys.boot_completed" else key, value)


class LabAdbd(SimulatedAdbd):
    """A SimulatedAdbd whose commands, files and reboot are the device's."""

    def __init__(self, *, sandbox: Sandbox, table: DeviceProperties, on_reboot: Callable[[], None],
                 faults: Callable[[], Faults], wait: Callable[[float], object], scratch: Path,
                 port: int) -> None:
        super().__init__(properties=table.snapshot(), runner=self._run, scratch=scratch, port=port)
        self.sandbox, self.on_reboot, self.current_faults, self._wait = sandbox, on_reboot, faults, wait
        ctx = LabDeviceContext(scratch=scratch)
        ctx.table = table
        table.attach(ctx)
        self.ctx = ctx

    def reboot(self) -> None:
        # `adb reboot` reboots the whole device, not only this link.
        self.on_reboot()

    def _resolve(self, stream: Stream) -> Callable[[], None] | None:
        if stream.service == "sync:":
            return lambda: serve_sync(stream, self.ctx.scratch, self.sandbox.host_path,
                                      truncate=lambda: self.current_faults().truncate_transfers)
        return super()._resolve(stream)

    def _run(self, command: str, separate_stderr: bool, ctx: DeviceContext) -> subprocess.Popen[bytes]:
        faults = self.current_faults()
        if faults.latency_s > 0:
            self._wait(faults.latency_s)
        if faults.hangs(command):
            command = "exec sleep 2147483647"  # the device sits on it until the host closes the stream
        return subprocess.Popen(
            self.sandbox.command_argv(command),
            cwd=self.sandbox.state_dir,
            stdin=subprocess.PIPE if separate_stderr else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if separate_stderr else subprocess.STDOUT,
            start_new_session=True,
        )


def apply_adbd_faults(adbd: SimulatedAdbd, faults: Faults) -> None:
    """The adbd's own (one-shot) link faults from the shared record; the rest act in its runner."""
    adbd.faults.drop_after_commands = faults.drop_after_commands
    adbd.faults.drop_mid_output_after = 1 if faults.drop_mid_output else None
    adbd.commands_run = 0


class LabSshServer(SimulatedSshServer):
    """A SimulatedSshServer whose `reboot` command reboots the whole device. Intercepted rather than
    left to the persona's shim: a client that closes its channel at once (as `reboot` over ssh
    does) would kill the shim before it asks."""

    on_reboot: Callable[[], None] = staticmethod(lambda: None)

    def reboot(self, boot_time: float | None = None) -> None:
        self.on_reboot()


def ssh_server(*, sandbox: Sandbox, spec: SshSpec, port: int, host_key: Path, faults: Faults,
               scratch: Path, on_reboot: Callable[[], None]) -> SimulatedSshServer:
    """The device's SSH server for one boot."""
    keys = [public_key(spec.key_file)] if spec.key_file is not None else None
    password = spec.password if (spec.password.inline or spec.password.env) else None
    scratch.mkdir(parents=True, exist_ok=True)
    runner = ExecRunner(argv_for=sandbox.command_argv, cwd=scratch,
                        shell_argv=tuple(sandbox.shell_argv(interactive=True, term="xterm")),
                        command_log=CommandLog(scratch.parent / COMMAND_LOG))
    server = LabSshServer(
        port=port, username=spec.user or "root", password=password, authorized_keys=keys,
        host_key=load_or_create_host_key(host_key), runner=runner, root=scratch,
        map_path=sandbox.host_path, faults=faults, boot_time=0.0, intercept_reboot=True,
    )
    server.on_reboot = on_reboot
    return server


def public_key(path: Path) -> paramiko.PKey:
    """The public half of a client's private key file (ed25519, ECDSA or RSA)."""
    error: Any = None
    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind(filename=str(path))
        except (paramiko.SSHException, ValueError) as exc:
            error = exc
    raise ValueError(f"cannot read the SSH key {path}: {error}")
