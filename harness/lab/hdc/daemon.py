"""The real hdcd of one simulated device, for one boot: the daemon runs inside the device's own
namespaces (so its 0.0.0.0:PORT and UDP 8710 stay in the device's network), and a relay on the
host's loopback carries each connection of the hdc server into that network namespace.

Inside, hdcd listens where a real device's does, on 8710 (the device's own port inventory shows it
there, as on a bench). The relay: a thread accepts on the host's 127.0.0.1:PORT (the lab's port for
the device); each connection is pumped by two threads to and from a socat entered into the device's
network namespace, which connects to hdcd's 127.0.0.1:8710 there. The hdc server keeps one long-lived
TCP session per device, so this costs nothing per command. hdc's peers send small frames without
TCP_NODELAY, so both legs ACK at once (TCP_QUICKACK on the host leg, the `quickack` route attribute in
the device's loopback): with delayed ACKs a shell command took 96 ms instead of 16 ms here.
A power cut kills hdcd (it is in the device's PID namespace): every relayed session ends."""

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
from harness.lab.sandbox.namespaces import Sandbox
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
        self._quick_acks()
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

    def _quick_acks(self) -> None:
        """No delayed ACKs on the device's loopback. hdcd writes a command's output and then its
        channel close as two small segments without TCP_NODELAY: with the relay's ACK delayed, the
        close waited ~40 ms behind the output on every command. A route attribute of the device's own
        network namespace; the host's routes are never touched."""
        ip = shutil.which("ip", path="/usr/sbin:/usr/bin:/sbin:/bin")
        if ip is None:
            return  # slower, still correct
        for dest in ("127.0.0.0/8", "127.0.0.1"):
            subprocess.run(self.sandbox.net_argv([ip, "route", "replace", "local", dest, "dev", "lo", "table",
                                                  "local", "proto", "kernel", "scope", "host", "src",
                                                  "127.0.0.1", "quickack", "1"]),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=10)

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
                # No Nagle on either leg: hdc's small frames would each wait for a delayed ACK (~40 ms).
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                argv = self.sandbox.net_argv([self._socat, "-", f"TCP:127.0.0.1:{DEVICE_PORT},nodelay"])
                relay = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
            except (OSError, HarnessError):
                conn.close()
                continue
            threading.Thread(target=_to_device, args=(conn, relay), daemon=True).start()
            threading.Thread(target=_to_host, args=(relay, conn), daemon=True).start()
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


def _to_device(conn: socket.socket, relay: subprocess.Popen[bytes]) -> None:
    """The hdc server's bytes into the device, ACKed at once (quick-ack mode ends by itself: re-armed
    before every read)."""
    assert relay.stdin is not None
    try:
        while True:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            data = conn.recv(65536)
            if not data:
                break
            relay.stdin.write(data)
            relay.stdin.flush()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            relay.stdin.close()


def _to_host(relay: subprocess.Popen[bytes], conn: socket.socket) -> None:
    assert relay.stdout is not None
    try:
        while data := os.read(relay.stdout.fileno(), 65536):
            conn.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)
        conn.close()
