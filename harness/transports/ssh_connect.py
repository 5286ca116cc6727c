"""Opening one authenticated, host-key-checked paramiko connection: where to connect (SshSpec plus
~/.ssh/config), the socket (direct with TCP_NODELAY, or a direct-tcpip channel through a jump host),
the host key check (pinned fingerprint or known_hosts, strict by default) and the login."""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import getpass
import hashlib
import socket
from dataclasses import dataclass
from pathlib import Path

import paramiko

from ..errors import AuthFailed, ConfigError, ConnectFailed, HostKeyMismatch
from ..secrets import redact
from ..specs import SshSpec

# Bigger than paramiko's 2 MB default window: bulk output (10 MB logs) then needs fewer window
# adjustments per megabyte; memory use is still bounded by the reader draining it.
WINDOW_SIZE = 8 * 1024 * 1024
MAX_PACKET = 32 * 1024
DEFAULT_KEY_NAMES = ("id_ed25519", "id_ecdsa", "id_rsa")


@dataclass(frozen=True)
class SshEndpoint:
    """One SSH server to log in to, after ~/.ssh/config has been applied."""

    host: str
    port: int
    user: str
    key_files: tuple[Path, ...] = ()
    ciphers: str | None = None  # ssh_config's Ciphers for this host, as written

    @property
    def label(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    @property
    def known_hosts_name(self) -> str:
        # known_hosts writes non-default ports as "[host]:port".
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


def fingerprint(key: paramiko.PKey) -> str:
    """"SHA256:<base64 without padding>", as `ssh-keygen -lf` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _load_config(path: Path | None) -> paramiko.SSHConfig | None:
    if path is None:
        return None
    path = path.expanduser()
    if not path.exists():
        raise ConfigError(f"ssh config {path} does not exist")
    return paramiko.SSHConfig.from_path(str(path))


def _parse_jump(text: str) -> tuple[str, int | None, str | None]:
    """ProxyJump "[user@]host[:port]" (one hop)."""
    if "," in text:
        raise ConfigError(f"ProxyJump {text!r}: only one jump host is supported")
    user, _, hostport = text.rpartition("@")
    host, port = hostport, None
    if hostport.startswith("["):  # [v6addr]:port
        host, _, rest = hostport[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else None
    elif hostport.count(":") == 1:
        host, _, port_text = hostport.partition(":")
        port = int(port_text)
    return host, port, user or None


def resolve(spec: SshSpec) -> tuple[SshEndpoint, SshEndpoint | None, paramiko.SSHConfig | None]:
    """The target and its jump host (if any). Explicit spec values win over ~/.ssh/config."""
    config = _load_config(spec.ssh_config)
    found = config.lookup(spec.host) if config else {}
    spec_keys = (spec.key_file.expanduser(),) if spec.key_file else ()
    target = SshEndpoint(
        host=found.get("hostname", spec.host),
        # 22 is also the spec's default, so the config may override it.
        port=spec.port if spec.port != 22 else int(found.get("port", 22)),
        user=spec.user or found.get("user") or getpass.getuser(),
        key_files=spec_keys or tuple(Path(p).expanduser() for p in found.get("identityfile", [])),
        ciphers=found.get("ciphers"),
    )
    jump_host, jump_port, jump_user = None, None, None
    if spec.jump is not None:
        jump_host, jump_port, jump_user = spec.jump.host, spec.jump.port, spec.jump.user
    elif found.get("proxyjump") and found["proxyjump"].lower() != "none":
        jump_host, jump_port, jump_user = _parse_jump(found["proxyjump"])
    if jump_host is None:
        return target, None, config
    jfound = config.lookup(jump_host) if config else {}
    jump = SshEndpoint(
        host=jfound.get("hostname", jump_host),
        port=jump_port if jump_port not in (None, 22) else int(jfound.get("port", 22)),
        user=jump_user or jfound.get("user") or target.user,
        key_files=tuple(Path(p).expanduser() for p in jfound.get("identityfile", [])) or target.key_files,
        ciphers=jfound.get("ciphers"),
    )
    return target, jump, config


class HostKeyCheck:
    """Strict host key checking: a pinned fingerprint, else known_hosts. Unknown keys are refused
    unless accepted by opt-in (then remembered for this object's reconnects); a key that differs from a
    known one is always refused."""

    def __init__(self, spec: SshSpec, config: paramiko.SSHConfig | None) -> None:
        self.pinned = spec.host_key.rstrip("=") if spec.host_key else None
        self.accept_unknown = spec.accept_unknown_host_key
        path = spec.known_hosts
        if path is None and config is not None:
            named = config.lookup(spec.host).get("userknownhostsfile")
            path = Path(named.split()[0]) if named else None
        self.path = (path or Path("~/.ssh/known_hosts")).expanduser()
        self.known = paramiko.HostKeys()
        if self.path.exists():
            try:
                self.known.load(str(self.path))
            except (OSError, paramiko.SSHException) as exc:
                raise ConfigError(f"cannot read known_hosts {self.path}: {exc}") from exc

    def key_types(self, endpoint: SshEndpoint, offered: tuple[str, ...], pinned: bool) -> tuple[str, ...]:
        """Ask for the key type known_hosts holds, so a server with several keys shows that one."""
        entry = None if pinned and self.pinned else self.known.lookup(endpoint.known_hosts_name)
        if not entry:
            return offered
        wanted: list[str] = []
        for key_type in entry:
            algorithms = ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if key_type == "ssh-rsa" else [key_type]
            wanted.extend(a for a in algorithms if a in offered and a not in wanted)
        return tuple(wanted) or offered

    def check(self, endpoint: SshEndpoint, key: paramiko.PKey, *, pinned: bool) -> None:
        seen = fingerprint(key)
        if pinned and self.pinned:
            if seen != self.pinned:
                raise HostKeyMismatch(
                    f"host key of {endpoint.label} is {seen} ({key.get_name()}), "
                    f"but the inventory pins {self.pinned}"
                )
            return
        entry = self.known.lookup(endpoint.known_hosts_name)
        if entry:
            known = entry.get(key.get_name())
            if known is not None and known.asbytes() == key.asbytes():
                return
            raise HostKeyMismatch(
                f"host key of {endpoint.label} is {seen} ({key.get_name()}) and differs from the one in "
                f"{self.path}: possible man-in-the-middle, or the device was re-imaged"
            )
        if not self.accept_unknown:
            raise HostKeyMismatch(
                f"host key of {endpoint.label} is unknown: {seen} ({key.get_name()}) is not in {self.path} "
                f"and no fingerprint is pinned"
            )
        self.known.add(endpoint.known_hosts_name, key.get_name(), key)


def open_socket(endpoint: SshEndpoint, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except socket.gaierror as exc:
        raise ConnectFailed(f"cannot resolve {endpoint.host}: {exc.strerror}") from exc
    except OSError as exc:
        raise ConnectFailed(f"cannot connect to {endpoint.label}: {exc.strerror or exc}") from exc
    # Without it, Nagle holds each small SSH packet back for the peer's delayed ACK: ~45 ms per exec.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def open_through(jump: paramiko.Transport, endpoint: SshEndpoint, timeout: float) -> paramiko.Channel:
    try:
        return jump.open_channel("direct-tcpip", (endpoint.host, endpoint.port), ("127.0.0.1", 0),
                                 timeout=timeout)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise ConnectFailed(f"jump host cannot reach {endpoint.label}: {exc}") from exc


def _load_key(path: Path) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(str(path))
    except FileNotFoundError as exc:
        raise ConfigError(f"ssh key file {path} does not exist") from exc
    except paramiko.PasswordRequiredException as exc:
        raise ConfigError(f"ssh key file {path} is passphrase-protected; use an unencrypted key") from exc
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise ConfigError(f"cannot read ssh key file {path}: {exc}") from exc


def _candidate_keys(endpoint: SshEndpoint, spec: SshSpec) -> list[tuple[str, paramiko.PKey]]:
    keys = [(str(path), _load_key(path)) for path in endpoint.key_files]
    if spec.allow_agent:
        keys += [("agent", key) for key in paramiko.Agent().get_keys()]
    if spec.look_for_keys:
        for name in DEFAULT_KEY_NAMES:
            path = Path("~/.ssh", name).expanduser()
            if path.exists() and path not in endpoint.key_files:
                keys.append((str(path), _load_key(path)))
    return keys


def authenticate(transport: paramiko.Transport, endpoint: SshEndpoint, spec: SshSpec) -> None:
    """Keys first, then the password. Messages name the login, never the password."""
    tried: list[str] = []
    try:
        for _source, key in _candidate_keys(endpoint, spec):
            tried.append("publickey")
            try:
                transport.auth_publickey(endpoint.user, key)
            except paramiko.AuthenticationException:
                continue
            if transport.is_authenticated():
                return
        password = spec.password.reveal()
        if password is not None:
            tried.append("password")
            with contextlib.suppress(paramiko.AuthenticationException):
                transport.auth_password(endpoint.user, password)
            if transport.is_authenticated():
                return
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise ConnectFailed(redact(f"login to {endpoint.label} broke off: {exc}")) from None
    if tried and not transport.is_active():
        # paramiko reports a connection that closed mid-login (a device going down for a reboot) as
        # an authentication failure; it is a broken link, worth waiting out, not a refused login.
        raise ConnectFailed(f"login to {endpoint.label} broke off: the connection closed during the login")
    if not tried:
        raise AuthFailed(f"no ssh key or password configured for {endpoint.label}")
    methods = ", ".join(dict.fromkeys(tried))
    raise AuthFailed(f"authentication failed for {endpoint.label} (tried {methods})")


def _key_exchange(
    transport: paramiko.Transport, endpoint: SshEndpoint, hostkeys: HostKeyCheck, timeout: float
) -> paramiko.PKey:
    """The server's host key once the key exchange is done. Whatever a device that is booting, or
    going down, does to it (closes, stalls, resets) is ConnectFailed: wait_ready keeps polling."""
    try:
        transport.start_client(timeout=timeout)
        # start_client returns at its timeout with the exchange unfinished (a board still making its
        # host keys); the key is read inside this mapping, as paramiko then raises "No existing session".
        if transport.is_active() and not transport.initial_kex_done:
            raise ConnectFailed(f"ssh key exchange with {endpoint.label} did not finish within {timeout:g}s")
        return transport.get_remote_server_key()
    except (paramiko.SSHException, OSError, EOFError) as exc:
        if "host key" in str(exc):  # we asked for the known key type and the server has none
            raise HostKeyMismatch(
                f"{endpoint.label} offers no host key of the type recorded in {hostkeys.path}: {exc}"
            ) from None
        reason = str(exc) or type(exc).__name__
        raise ConnectFailed(f"ssh handshake with {endpoint.label} failed: {reason}") from None


# AES-GCM first where the server offers it: an AEAD cipher authenticates each packet inside the
# cipher's C code, where CTR with HMAC costs paramiko a Python-level MAC computation and comparison per
# packet (a tenth of a bare client's CPU per command). Both are in OpenSSH's default set.
AEAD_FIRST = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


def cipher_order(offered: tuple[str, ...], configured: str | None = None) -> tuple[str, ...]:
    """The ciphers to propose, best first: paramiko's (`offered`) with the AEAD ones moved to the
    front, or what ssh_config's `Ciphers` for the host says, read as OpenSSH reads it ("a,b": exactly
    these; "+a,b": appended; "-a,b": removed, wildcards allowed; "^a,b": moved to the front), limited
    to what paramiko can do (a device whose AES-GCM is broken: `Ciphers -aes*-gcm@openssh.com`)."""
    first = tuple(c for c in AEAD_FIRST if c in offered)
    default = first + tuple(c for c in offered if c not in first)
    if not configured:
        return default
    head, names = configured[0], [n.strip() for n in configured.lstrip("+-^").split(",") if n.strip()]
    if head == "-":
        chosen = tuple(c for c in default if not any(fnmatch.fnmatchcase(c, n) for n in names))
    elif head == "+":
        chosen = default + tuple(n for n in names if n in offered and n not in default)
    elif head == "^":
        front = tuple(n for n in names if n in offered)
        chosen = front + tuple(c for c in default if c not in front)
    else:
        chosen = tuple(dict.fromkeys(n for n in names if n in offered))
    if not chosen:
        raise ConfigError(f"ssh_config Ciphers {configured!r} leaves no cipher this client has "
                          f"(it has: {', '.join(offered)})")
    return chosen


def start_client(
    sock: socket.socket | paramiko.Channel,
    endpoint: SshEndpoint,
    spec: SshSpec,
    hostkeys: HostKeyCheck,
    *,
    pinned: bool,
) -> paramiko.Transport:
    """Key exchange, host key check and login on an open socket; the caller owns the result."""
    timeout = spec.connect_timeout
    transport = paramiko.Transport(sock, default_window_size=WINDOW_SIZE, default_max_packet_size=MAX_PACKET)
    transport.banner_timeout = timeout
    transport.handshake_timeout = timeout
    transport.auth_timeout = timeout
    options = transport.get_security_options()
    options.key_types = hostkeys.key_types(endpoint, tuple(options.key_types), pinned)
    options.ciphers = cipher_order(tuple(options.ciphers), endpoint.ciphers)
    try:
        key = _key_exchange(transport, endpoint, hostkeys, timeout)
        hostkeys.check(endpoint, key, pinned=pinned)
        authenticate(transport, endpoint, spec)
    except BaseException:
        transport.close()
        raise
    return transport


def connect_endpoint(
    endpoint: SshEndpoint,
    spec: SshSpec,
    hostkeys: HostKeyCheck,
    *,
    via: paramiko.Transport | None,
    pinned: bool,
) -> paramiko.Transport:
    sock: socket.socket | paramiko.Channel
    if via is not None:
        sock = open_through(via, endpoint, spec.connect_timeout)
    else:
        sock = open_socket(endpoint, spec.connect_timeout)
    try:
        return start_client(sock, endpoint, spec, hostkeys, pinned=pinned)
    except BaseException:
        sock.close()
        raise
