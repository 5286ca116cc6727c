"""The real hdcd of one simulated device, for one boot: the daemon runs inside the device's own
namespaces (so its 0.0.0.0:PORT and UDP 8710 stay in the device's network), and a relay on the
host's loopback carries each connection of the hdc server into that network namespace.

Inside, hdcd listens where a real device's does, on 8710 (the device's own port inventory shows it
there, as on a bench). The relay: a thread accepts on the host's 127.0.0.1:PORT (the lab's port for
the device); each connection becomes the stdin/stdout of a socat entered into the device's network
namespace, which connects to hdcd's 127.0.0.1:8710 there. The hdc
server keeps one long-lived TCP session per device, so a process per connection costs nothing per
command. A power cut kills hdcd (it is in the device's PID namespace): every relayed session ends."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
from pathlib import Path

from harness.errors import HarnessError
from harness.lab.sandbox import Sandbox
from harness.waiting import poll_until

DEVICE_BINARY = "/system/bin/hdcd"
REBOOT_REQUEST = "/.sim/reboot-request"
TCP_LISTEN = "0A"
DEVICE_PORT = 8710  # hdcd's own default, inside the device's network only


class HdcdUnavailable(HarnessError):
    """hdcd could not be started in the device (missing binary, socat, or it exited)."""


def hdcd_params(port: int) -> dict[str, str]:
    """The system parameters hdcd reads at start (its stub takes them from OHOS_PARAM_* variables):
    developer mode on (else it exits), no authentication, root, a fixed TCP port."""
    return {
        "const.security.developermode.state": "true",
        "const.hdc.secure": "0",
        "const.debuggable": "1",
        "persist.hdc.root": "1",
        "persist.hdc.port": str(port),
        "persist.hdc.mode": "tcp",
    }


def install_hdcd(sandbox: Sandbox, hdcd: Path) -> None:
    """Put the daemon at /system/bin/hdcd of the device's root (a hard link where the file system
    allows, else a copy), as a flashed image has it."""
    target = sandbox.root / DEVICE_BINARY.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
    try:
        os.link(hdcd.resolve(), target)
    except OSError:
        shutil.copy2(hdcd.resolve(), target)


class LabHdcd:
    def __init__(self, *, sandbox: Sandbox, port: int, log: Path) -> None:
        self.sandbox, self.port, self.log = sandbox, port, log
        self.proc: subprocess.Popen[bytes] | None = None
        self._listener: socket.socket | None = None
        self._relays: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()
        socat = shutil.which("socat", path="/usr/bin:/bin:/usr/sbin:/sbin")
        if socat is None:
            raise HdcdUnavailable("the lab's hdc relay needs socat, and it is not installed")
        self._socat = socat

    def start(self, timeout: float = 10.0) -> LabHdcd:
        env = " ".join(f"OHOS_PARAM_{k.replace('.', '_').replace('-', '_')}={v}"
                       for k, v in hdcd_params(DEVICE_PORT).items())
        cmd = f"cd / && exec env {env} HARNESS_HDCD_REBOOT_REQUEST={REBOOT_REQUEST} {DEVICE_BINARY} -t"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.sandbox.command_argv(cmd), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            poll_until(self._listening, timeout, interval=0.01, what=f"hdcd to listen on {DEVICE_PORT}")
            listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        except (TimeoutError, OSError) as exc:
            self.stop()
            raise HdcdUnavailable(f"hdcd on port {self.port}: {exc}") from None
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name=f"hdcd-relay-{self.port}",
                         daemon=True).start()
        return self

    def _listening(self) -> bool:
        """hdcd listens on its port inside the device's network (the device's /proc/net/tcp)."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            raise HdcdUnavailable(f"hdcd exited at start (exit {proc.returncode if proc else '?'}; "
                                  f"log {self.log})")
        anchor = self.sandbox.anchor_pid  # unshare itself entered the device's network namespace
        try:
            table = Path(f"/proc/{anchor}/net/tcp").read_text() if anchor else ""
        except OSError:
            return False
        wanted = f":{DEVICE_PORT:04X}"
        return any(len(f) > 3 and f[1].endswith(wanted) and f[3] == TCP_LISTEN
                   for f in (line.split() for line in table.splitlines()[1:]))

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                argv = self.sandbox.net_argv([self._socat, "-", f"TCP:127.0.0.1:{DEVICE_PORT}"])
                relay = subprocess.Popen(argv, stdin=conn.fileno(), stdout=conn.fileno(),
                                         stderr=subprocess.DEVNULL, start_new_session=True)
            except (OSError, HarnessError):
                conn.close()
                continue
            conn.close()  # the relay holds it now
            with self._lock:
                self._relays = [r for r in self._relays if r.poll() is None] + [relay]

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        proc, self.proc = self.proc, None
        if proc is not None:
            _kill_group(proc)
        with self._lock:
            relays, self._relays = self._relays, []
        for relay in relays:
            _kill_group(relay)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # hdcd takes over a second to leave after SIGTERM
    proc.wait()
