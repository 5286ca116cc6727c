"""The ssh link: a device's SSH server (OpenSSH, dropbear), reached directly or through a jump host.

    [devices.NAME.ssh]
    host = "10.0.0.2"    port = 22    user = "root"
    key_file = "keys/id_ed25519"  password = "..." | password_env = "VAR"
    known_hosts = "..."  host_key = "SHA256:..."  accept_unknown_host_key = false
    jump = "user@bastion:22"  ssh_config = "~/.ssh/config"  connect_timeout = 10"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config_check import Where, boolean, env_name, int_range, positive_seconds, string, table
from ..secrets import Secret
from .registry import LinkKind, LinkProblem
from .values import file_problems, host, hostport, password, password_problems, path_under

FINGERPRINT_RE = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}=?$")


@dataclass(frozen=True)
class JumpSpec:
    host: str
    port: int = 22
    user: str | None = None


@dataclass(frozen=True)
class SshSpec:
    host: str
    port: int = 22
    user: str | None = None
    key_file: Path | None = None
    password: Secret = field(default_factory=Secret)
    known_hosts: Path | None = None
    # Pinned host key fingerprint, "SHA256:<base64>" as ssh-keygen -lf prints it.
    host_key: str | None = None
    # Explicit opt-in: accept (and remember in memory) an unknown host key.
    accept_unknown_host_key: bool = False
    jump: JumpSpec | None = None
    # Read ~/.ssh/config (or this file) for HostName, User, Port, IdentityFile, ProxyJump.
    ssh_config: Path | None = None
    connect_timeout: float = 10.0
    # Off by default so a lab run never depends on whoever's agent or ~/.ssh keys happen to be around.
    allow_agent: bool = False
    look_for_keys: bool = False


def _fingerprint(value: Any, where: Where) -> str:
    if not isinstance(value, str) or not FINGERPRINT_RE.match(value):
        raise where.fail(value, "expected a host key fingerprint like 'SHA256:' + 43 base64 characters")
    return value


def parse(raw: Any, where: Where, base: Path) -> SshSpec:
    path = path_under(base)
    f = table(
        raw,
        where,
        {
            "host": host,
            "port": int_range(1, 65535),
            "user": string,
            "key_file": path,
            "password": string,
            "password_env": env_name,
            "known_hosts": path,
            "host_key": _fingerprint,
            "accept_unknown_host_key": boolean,
            "jump": hostport(22),
            "ssh_config": path,
            "connect_timeout": positive_seconds,
        },
        required=("host",),
    )
    secret = password(f, where)
    if "jump" in f:
        user, jump_host, port = f.pop("jump")
        f["jump"] = JumpSpec(host=jump_host, port=port, user=user)
    return SshSpec(password=secret, **f)


def describe(spec: SshSpec) -> str:
    user = f"{spec.user}@" if spec.user else ""
    jump = f" via {spec.jump.host}" if spec.jump else ""
    return f"{user}{spec.host}:{spec.port}{jump}"


def preflight(spec: SshSpec) -> Iterator[LinkProblem]:
    yield from file_problems("key_file", spec.key_file, "ssh key file")
    yield from file_problems("ssh_config", spec.ssh_config, "ssh config file")
    yield from password_problems(spec.password)


KIND = LinkKind(name="ssh", spec_class=SshSpec, parse=parse, describe=describe, preflight=preflight,
                transport="harness.transports.ssh:from_spec")
