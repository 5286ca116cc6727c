"""A real serial console peer for tests, the lab and the benchmark.

socat makes a pty pair that looks like a board's serial port (`<dir>/ttyS0`) and runs the login program
(harness.lab.peers.login_shell: boot lines, login, then a real shell) on a second pty, as getty would on a
UART. Optionally ser2net 4 serves the same port over TCP as raw `socket://` and as telnet RFC 2217, the
two ways lab hosts export consoles.

    with ConsolePeer(password="s3cret", ser2net=True) as peer:
        spec = peer.serial_spec(peer.socket_url)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from harness.lab.peers.login_shell import BANNER_ENV, HOME_ENV, PASSWORD_ENV, USER_ENV
from harness.secrets import Secret
from harness.specs import SerialSpec
from harness.waiting import free_port, poll_until

START_TIMEOUT = 10.0


class ConsolePeer:
    """socat pty + login program (+ ser2net). A context manager; stop() ends every process it started."""

    def __init__(
        self,
        *,
        user: str = "root",
        password: str = "lab-console-pw",
        shell: str = "sh",
        login: bool = True,
        respawn: bool = False,
        ser2net: bool = False,
        banner: str = "",
    ) -> None:
        self.user = user
        self.password = password
        self.shell = shell
        self.login = login
        self.respawn = respawn
        self.banner = banner
        self.with_ser2net = ser2net
        self._tmp = tempfile.TemporaryDirectory(prefix="harness-console-")
        self.dir = Path(self._tmp.name)
        self.path = str(self.dir / "ttyS0")
        self.home = self.dir / "home"
        self.bin = self.dir / "bin"
        self.dmesg_log = self.dir / "dmesg.calls"
        self.raw_port = 0
        self.rfc2217_port = 0
        self.socat: subprocess.Popen[bytes] | None = None
        self.ser2net: subprocess.Popen[bytes] | None = None
        self._holder: int | None = None

    # -- addresses -------------------------------------------------------------------------------
    @property
    def socket_url(self) -> str:
        return f"socket://127.0.0.1:{self.raw_port}"

    @property
    def rfc2217_url(self) -> str:
        return f"rfc2217://127.0.0.1:{self.rfc2217_port}?ign_set_control"

    def url(self, kind: str) -> str:
        """The port for one way in: "pty" (the device path), "socket" or "rfc2217"."""
        return {"pty": self.path, "socket": self.socket_url, "rfc2217": self.rfc2217_url}[kind]

    def serial_spec(self, port: str | None = None, *, password: str | None = None) -> SerialSpec:
        """A spec that reaches this console (by default through the pty path)."""
        secret = Secret(inline=self.password if password is None else password)
        return SerialSpec(port=port or self.path, baud=115200, user=self.user if self.login else None,
                          password=secret if self.login else Secret())

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> ConsolePeer:
        self.home.mkdir()
        self.bin.mkdir()
        # `reboot` on this board ends the shell; in respawn mode the login program then "boots" again.
        reboot = self.bin / "reboot"
        reboot.write_text('#!/bin/sh\nkill -KILL "$PPID"\n')
        reboot.chmod(0o755)
        # The board's shell runs on this host: its `dmesg -n 1` must not change the host's printk
        # level. This stand-in records the call instead, so tests can see the driver made it.
        dmesg = self.bin / "dmesg"
        dmesg.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {self.dmesg_log}\n')
        dmesg.chmod(0o755)
        login_cmd = [sys.executable, "-m", "harness.lab.peers.login_shell", "--shell", self.shell]
        if not self.login:
            login_cmd.append("--no-login")
        if self.respawn:
            login_cmd.append("--respawn")
        env = {
            # The board's PATH (the login program passes it on to the shell).
            "PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
            USER_ENV: self.user,
            PASSWORD_ENV: self.password,
            HOME_ENV: str(self.home),
            BANNER_ENV: self.banner,
        }
        exec_arg = "EXEC:" + " ".join(_socat_quote(a) for a in login_cmd) + ",pty,setsid,ctty,stderr"
        self.socat = subprocess.Popen(
            ["socat", f"PTY,link={self.path},rawer,wait-slave", exec_arg],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "socat.log", "wb"),  # noqa: SIM115 - the child keeps it
        )
        try:
            poll_until(lambda: os.path.exists(self.path) or self._died(self.socat), START_TIMEOUT,
                       what="the console pty")
            if self.socat.poll() is not None:
                raise RuntimeError(f"socat exited: {(self.dir / 'socat.log').read_text()}")
            # Hold the port open for the peer's whole life: socat starts the login program once the
            # port is first opened and would end when the last user closes it.
            self._holder = os.open(self.path, os.O_RDWR | os.O_NOCTTY)
            poll_until(lambda: self._child_started(), START_TIMEOUT, what="the login program")
            if self.with_ser2net:
                self._start_ser2net()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_ser2net(self) -> None:
        self.raw_port = free_port()
        self.rfc2217_port = free_port()
        config = self.dir / "ser2net.yaml"
        config.write_text(
            "%YAML 1.1\n---\n"
            + _ser2net_connection("raw", f"tcp(nodelay),127.0.0.1,{self.raw_port}", self.path)
            + _ser2net_connection("rfc2217",
                                 f"telnet(rfc2217),tcp(nodelay),127.0.0.1,{self.rfc2217_port}", self.path)
        )
        log = open(self.dir / "ser2net.log", "wb")  # noqa: SIM115 - the child keeps it
        # -n: stay in the foreground (we own it), -u: no UUCP lock files outside our directory.
        self.ser2net = subprocess.Popen(
            ["ser2net", "-n", "-u", "-c", str(config), "-P", str(self.dir / "ser2net.pid")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )
        # Not wait_for_port: a probe connection would make ser2net open the pty and eat its output.
        poll_until(self._ser2net_listening, START_TIMEOUT, what="ser2net to listen")

    def _ser2net_listening(self) -> bool:
        if self._died(self.ser2net):
            raise RuntimeError(f"ser2net exited: {(self.dir / 'ser2net.log').read_text()}")
        return _listening(self.raw_port) and _listening(self.rfc2217_port)

    def _child_started(self) -> bool:
        assert self.socat is not None
        if self.socat.poll() is not None:
            raise RuntimeError(f"socat exited: {(self.dir / 'socat.log').read_text()}")
        children = Path(f"/proc/{self.socat.pid}/task/{self.socat.pid}/children")
        try:
            return bool(children.read_text().strip())
        except OSError:
            return False

    @staticmethod
    def _died(proc: subprocess.Popen[bytes] | None) -> bool:
        return proc is not None and proc.poll() is not None

    def kill_ser2net(self) -> None:
        """Drop the network link (the lab host's ser2net dies)."""
        _terminate(self.ser2net, signal.SIGKILL)

    def kill_socat(self) -> None:
        """Drop the console itself (the pty disappears)."""
        _terminate(self.socat, signal.SIGKILL)

    def stop(self) -> None:
        _terminate(self.ser2net, signal.SIGTERM)
        _terminate(self.socat, signal.SIGTERM)
        if self._holder is not None:
            os.close(self._holder)
            self._holder = None
        self._tmp.cleanup()

    def __enter__(self) -> ConsolePeer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _ser2net_connection(name: str, accepter: str, device: str) -> str:
    return (
        f"connection: &{name}\n"
        f"  accepter: {accepter}\n"
        f"  connector: serialdev,{device},115200n81,local\n"
        "  options:\n"
        "    kickolduser: true\n"
        # No batching delay after each byte: lab consoles are interactive, and tests time them.
        "    chardelay: false\n"
    )


def _listening(port: int) -> bool:
    """Whether a local TCP socket listens on `port` (read from /proc, without connecting)."""
    wanted = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[1].endswith(wanted) and fields[3] == "0A":  # 0A: LISTEN
                return True
    return False


def _socat_quote(arg: str) -> str:
    # socat splits EXEC's command on spaces and treats ,:!"' specially: our arguments must have none.
    if any(c in arg for c in " ,:!\"'\\"):
        raise ValueError(f"argument not safe for socat EXEC: {arg!r}")
    return arg


def _terminate(proc: subprocess.Popen[bytes] | None, sig: int) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
