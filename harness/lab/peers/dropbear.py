"""A private dropbear sshd on loopback: the second real SSH peer of the tests, beside OpenSSH (chip-module
boards with busybox userlands very often run dropbear). The same shape as harness.lab.peers.sshd's
OpenSshServer: its own host key, client key, port and (as root) an empty HOME and an optional test
password inside a mount namespace. The binary is trixie's (harness.lab.peers.dropbear_build)."""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.lab.peers.dropbear_build import DropbearBuild, default_cache_dir, ensure_dropbear
from harness.lab.peers.sshd import SshdError, _keygen, _run, private_shadow, stop_server_tree
from harness.secrets import Secret
from harness.specs import SshSpec
from harness.waiting import free_port, poll_until, wait_for_port

# As root, dropbear runs in its own mount namespace with a private /etc/passwd (the login user's home
# an empty folder: root's real ~/.bashrc would be read for every command) and, for password tests, a
# private /etc/shadow. "$1" passwd, "$2" shadow or "", then the dropbear argv.
_NAMESPACE_SCRIPT = (
    'mount --bind "$1" /etc/passwd || exit 97; '
    'if [ -n "$2" ]; then mount --bind "$2" /etc/shadow || exit 98; fi; '
    'shift 2; exec "$@"'
)


# dropbear's compile-time limit (MAX_UNAUTH_PER_IP in its default_options.h): unauthenticated
# connections from one address at once.
MAX_UNAUTH_PER_IP = 5


class DropbearServer:
    """`with DropbearServer() as sshd: SshTransport(sshd.spec())`."""

    program = "dropbear"

    def __init__(self, *, password: str | None = None, start_timeout: float = 10.0,
                 build: DropbearBuild | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.user = getpass.getuser()
        self.password = Secret(inline=password) if password else Secret()
        self.start_timeout = start_timeout
        self.isolated = os.geteuid() == 0
        if password and not self.isolated:
            raise SshdError("a test password needs root (a private /etc/shadow in a mount namespace)")
        self.build = build
        # dropbear refuses an authorized_keys folder below a group- or world-writable one (/tmp): the
        # server's folder lives in the cache, whose parents are the user's own.
        runs = default_cache_dir() / "run"
        runs.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.dir = Path(tempfile.mkdtemp(prefix="dropbear-", dir=runs))
        self.dir.chmod(0o700)
        self.host_key = self.dir / "host_ed25519"
        self.client_key = self.dir / "client_ed25519"
        self.auth_dir = self.dir / "auth"
        self.known_hosts = self.dir / "known_hosts"
        self.pid_file = self.dir / "dropbear.pid"
        self.log_file = self.dir / "dropbear.log"
        self.empty_home = self.dir / "home"
        self.fingerprint = ""
        self._host_line = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def _make_keys(self, build: DropbearBuild) -> None:
        if self.fingerprint:
            return
        _run([str(build.dropbearkey), "-t", "ed25519", "-f", str(self.host_key)])
        # "-y" prints "Public key portion is:", the key line, then "Fingerprint: SHA256:...".
        shown = _run([str(build.dropbearkey), "-y", "-f", str(self.host_key)]).splitlines()
        key_line = next(line for line in shown if line.startswith("ssh-ed25519 "))
        self._host_line = " ".join(key_line.split()[:2])
        self.fingerprint = next(line.split()[-1] for line in shown if line.startswith("Fingerprint:"))
        _keygen(self.client_key, "harness-dropbear-client")
        self.auth_dir.mkdir(mode=0o700)
        shutil.copyfile(self.client_key.with_suffix(".pub"), self.auth_dir / "authorized_keys")
        (self.auth_dir / "authorized_keys").chmod(0o600)
        self.empty_home.mkdir(mode=0o700)

    def _argv(self, build: DropbearBuild) -> list[str]:
        # -F foreground, -E log to stderr, -m no motd; password logins stay on (tests refuse a wrong one).
        server = [str(build.dropbear), "-F", "-E", "-m", "-p", f"{self.host}:{self.port}",
                  "-r", str(self.host_key), "-D", str(self.auth_dir), "-P", str(self.pid_file)]
        if not self.isolated:
            return server
        passwd = self._private_passwd()
        shadow = private_shadow(self.dir, self.user, self.password)
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", _NAMESPACE_SCRIPT, "sh",
                passwd, shadow, *server]

    def _private_passwd(self) -> str:
        """/etc/passwd with the login user's home moved to an empty folder. (OpenSshServer mounts the
        empty folder over the home instead; here that would hide the cache the binary lives in.)"""
        lines = []
        for line in Path("/etc/passwd").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == self.user and len(fields) == 7:
                fields[5] = str(self.empty_home)
            lines.append(":".join(fields))
        passwd = self.dir / "passwd"
        passwd.write_text("\n".join(lines) + "\n")
        passwd.chmod(0o644)
        return str(passwd)

    def start(self) -> DropbearServer:
        if self._proc is not None:
            return self
        build = self.build = self.build or ensure_dropbear()
        self._make_keys(build)
        self.port = free_port()
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {self._host_line}\n")
        self.pid_file.unlink(missing_ok=True)
        with open(self.log_file, "ab") as log:
            self._proc = subprocess.Popen(self._argv(build), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            proc = self._proc
            poll_until(lambda: proc.poll() is not None or self.pid_file.exists(), self.start_timeout,
                       what="dropbear to start")
            if proc.poll() is not None:
                raise SshdError(f"dropbear exited with {proc.returncode}: {self.log_text()}")
            wait_for_port(self.host, self.port, timeout=self.start_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_server_tree(proc)  # the per-connection processes too, and what they run

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> DropbearServer:
        try:
            return self.start()
        except BaseException:
            self.cleanup()  # its folder lives in the cache, not in a temp dir anyone clears
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def unauthenticated(self) -> int:
        """Connections the server counts as not yet logged in, and those it has still to accept (the
        probe of start(), closed at once, is one until dropbear accepts it). Its listening process holds
        one pipe per such child (the child closes it on login, or by exiting): read from /proc."""
        proc = self._proc
        if proc is None:
            return 0
        fd_dir = Path(f"/proc/{proc.pid}/fd")
        count = 0
        for fd in os.listdir(fd_dir):
            with contextlib.suppress(OSError):  # an fd closed while we look
                count += os.readlink(fd_dir / fd).startswith("pipe:")
        return count + _accept_backlog(self.port)

    def wait_settled(self, timeout: float = 10.0) -> None:
        """Wait until no connection is left unauthenticated. dropbear closes a new one before its banner
        ("Error reading SSH protocol banner") while MAX_UNAUTH_PER_IP others from the same address are
        not logged in, and the child of a refused login or host key lingers a moment after its client
        has gone (its failure delay, then its exit), longer on a loaded machine."""
        poll_until(lambda: self.unauthenticated() == 0, timeout,
                   what="dropbear's unauthenticated connections to end")

    def spec(self, **overrides: Any) -> SshSpec:
        base = SshSpec(host=self.host, port=self.port, user=self.user, key_file=self.client_key,
                       known_hosts=self.known_hosts)
        return dataclasses.replace(base, **overrides)

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def __repr__(self) -> str:
        return f"DropbearServer({self.user}@{self.host}:{self.port}, running={self.running})"


def _accept_backlog(port: int) -> int:
    """Connections waiting in the accept queue of the loopback listener on `port`: for a listening
    socket, /proc/net/tcp's rx_queue is that queue's length."""
    local = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[3] == "0A":  # 0A: LISTEN
            return int(fields[4].split(":")[1], 16)
    return 0
