"""A private OpenSSH sshd on loopback: the real peer for SSH transport tests, the lab, the demo and the
benchmark. Everything it needs (host key, client key, config, pid file, log) lives in one temp dir."""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.secrets import Secret
from harness.specs import SshSpec
from harness.waiting import free_port, poll_until, wait_for_port

SSHD = "/usr/sbin/sshd"

# Started as root, sshd runs in its own mount namespace where an empty dir is bind-mounted over the
# login user's home: root's real ~/.bashrc (sourced by bash for every ssh exec) costs ~100 ms per
# command and would turn every timing into a measurement of that file. The same namespace lets a
# private copy of /etc/shadow carry a test password without touching the machine's accounts.
# "$1" home, "$2" empty dir, "$3" private shadow or "", then the sshd argv.
_NAMESPACE_SCRIPT = (
    'mount --bind "$2" "$1" || exit 97; '
    'if [ -n "$3" ]; then mount --bind "$3" /etc/shadow || exit 98; fi; '
    "shift 3; exec \"$@\""
)


class SshdError(RuntimeError):
    """The private sshd could not be set up or did not start."""


def _run(argv: list[str], *, stdin: bytes | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise SshdError(f"{argv[0]} failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
    return done.stdout.decode()


def _keygen(path: Path, comment: str) -> None:
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def private_shadow(folder: Path, user: str, password: Secret) -> str:
    """A copy of /etc/shadow in `folder` where `user` has `password` (for a mount namespace), or ""."""
    secret = password.reveal()
    if not secret:
        return ""
    hashed = _run(["openssl", "passwd", "-6", "-stdin"], stdin=secret.encode() + b"\n").strip()
    lines = []
    for line in Path("/etc/shadow").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user and len(fields) > 2:
            fields[1] = hashed
        lines.append(":".join(fields))
    shadow = folder / "shadow"
    shadow.write_text("\n".join(lines) + "\n")
    shadow.chmod(0o600)
    return str(shadow)


def isolated_argv(server: list[str], user: str, empty_home: Path, shadow: str) -> list[str]:
    """`server` in its own mount namespace: `empty_home` over the user's home, `shadow` (if any) over
    /etc/shadow (see _NAMESPACE_SCRIPT)."""
    home = pwd.getpwnam(user).pw_dir
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", _NAMESPACE_SCRIPT, "sh",
            home, str(empty_home), shadow, *server]


class OpenSshServer:
    """`with OpenSshServer() as sshd: SshTransport(sshd.spec())`.

    `password` (root only) gives the login user that password inside sshd's private namespace, so
    password logins can be tested; PasswordAuthentication is on either way, so a wrong password is a
    real refusal by sshd. `config`: sshd_config lines that take the place of the defaults."""

    program = "sshd"  # the name its processes show

    def __init__(self, *, password: str | None = None, start_timeout: float = 10.0,
                 config: tuple[str, ...] = ()) -> None:
        self.host = "127.0.0.1"
        self.extra_config = config  # sshd_config lines ("Ciphers aes128-ctr") over the defaults
        self.port = 0
        self.user = getpass.getuser()
        self.password = Secret(inline=password) if password else Secret()
        self.start_timeout = start_timeout
        self.isolated = os.geteuid() == 0
        if password and not self.isolated:
            raise SshdError("a test password needs root (a private /etc/shadow in a mount namespace)")
        self.dir = Path(tempfile.mkdtemp(prefix="harness-sshd-"))
        self.host_key = self.dir / "host_ed25519"
        self.client_key = self.dir / "client_ed25519"
        self.authorized_keys = self.dir / "authorized_keys"
        self.known_hosts = self.dir / "known_hosts"
        self.config = self.dir / "sshd_config"
        self.pid_file = self.dir / "sshd.pid"
        self.log_file = self.dir / "sshd.log"
        self.empty_home = self.dir / "home"
        self.fingerprint = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._keys_made = False

    # -- set-up ------------------------------------------------------------------------------

    def _make_keys(self) -> None:
        if self._keys_made:
            return
        _keygen(self.host_key, "harness-sshd-host")
        _keygen(self.client_key, "harness-sshd-client")
        shutil.copyfile(self.client_key.with_suffix(".pub"), self.authorized_keys)
        # "256 SHA256:... comment (ED25519)"
        self.fingerprint = _run(["ssh-keygen", "-lf", str(self.host_key) + ".pub"]).split()[1]
        self.empty_home.mkdir(mode=0o700)
        self._keys_made = True

    def _write_config(self) -> None:
        lines = [
            f"ListenAddress {self.host}:{self.port}",
            f"HostKey {self.host_key}",
            f"PidFile {self.pid_file}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "UsePAM no",
            "StrictModes no",
            "PermitRootLogin yes",
            "PubkeyAuthentication yes",
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no",
            "PermitEmptyPasswords no",
            "AllowTcpForwarding yes",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "MaxSessions 64",
            "MaxStartups 64:30:128",
            "MaxAuthTries 6",
            "LoginGraceTime 30",
            "Subsystem sftp internal-sftp",
            "LogLevel INFO",
        ]
        lines = [*self.extra_config, *lines]  # sshd keeps a keyword's first value: these win
        self.config.write_text("\n".join(lines) + "\n")
        host_pub = self.host_key.with_suffix(".pub").read_text().split()
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {host_pub[0]} {host_pub[1]}\n")

    def _argv(self) -> list[str]:
        sshd = [SSHD, "-D", "-e", "-f", str(self.config)]
        if not self.isolated:
            return sshd
        shadow = private_shadow(self.dir, self.user, self.password)
        return isolated_argv(sshd, self.user, self.empty_home, shadow)

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> OpenSshServer:
        if self._proc is not None:
            return self
        if not os.path.exists(SSHD):
            raise SshdError(f"{SSHD} is missing (apt-get install openssh-server)")
        self._make_keys()
        if self.isolated:
            # sshd's privilege-separation directory; absent in fresh containers.
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.port = free_port()
        self._write_config()
        self.pid_file.unlink(missing_ok=True)
        with open(self.log_file, "ab") as log:
            self._proc = subprocess.Popen(self._argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            self._wait_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_listening(self) -> None:
        proc = self._proc
        assert proc is not None

        def listening_or_dead() -> bool:
            if proc.poll() is not None:
                return True
            return self.pid_file.exists()

        # sshd writes its PidFile once it listens; then one connect proves the port is ours.
        poll_until(listening_or_dead, self.start_timeout, what="sshd to start")
        if proc.poll() is not None:
            raise SshdError(f"sshd exited with {proc.returncode}: {self.log_text()}")
        wait_for_port(self.host, self.port, timeout=self.start_timeout)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_server_tree(proc)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> OpenSshServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()

    # -- for clients -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def spec(self, **overrides: Any) -> SshSpec:
        """An SshSpec that logs in with the client key and checks the host key against known_hosts."""
        base = SshSpec(
            host=self.host,
            port=self.port,
            user=self.user,
            key_file=self.client_key,
            known_hosts=self.known_hosts,
        )
        return dataclasses.replace(base, **overrides)

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def __repr__(self) -> str:
        return f"OpenSshServer({self.user}@{self.host}:{self.port}, running={self.running})"


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # Field 4 (ppid) follows the ")" that closes the command name.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def stop_server_tree(proc: subprocess.Popen[bytes]) -> None:
    """Stop an SSH server and its sessions: session processes are setsid() children of the listener,
    so they are ended too, not just the listener."""
    for pid in _descendants(proc.pid):
        _kill(pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _descendants(pid: int) -> list[int]:
    tree = _children_map()
    found: list[int] = []
    todo = list(tree.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(tree.get(child, []))
    return found


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)
