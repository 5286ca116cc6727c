"""Value checkers the link tables share: host names, host:port, paths beside the inventory, passwords."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..config_check import Checker, Where, string
from ..secrets import Secret
from .registry import LinkProblem

_LABEL = r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)"
HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
HOSTPORT_RE = re.compile(r"^(?:(?P<user>[^@\s]+)@)?(?P<host>\[[0-9a-fA-F:]+\]|[^:@\s]+)(?::(?P<port>\d+))?$")


def is_host(text: str) -> bool:
    """An IP address or a name a resolver could look up: never a path, a URL, a user@ or a leading '-'
    (those only fail once something tries to connect)."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return bool(HOSTNAME_RE.match(text))


def host(value: Any, where: Where) -> str:
    text = string(value, where)
    if not is_host(text):
        raise where.fail(value, "expected a host name or IP address")
    return text


def hostport(default_port: int | None) -> Checker:
    """[user@]host[:port] -> (user, host, port); without a default port the port is required."""

    def check(value: Any, where: Where) -> tuple[str | None, str, int]:
        m = HOSTPORT_RE.match(value) if isinstance(value, str) else None
        port = int(m["port"]) if m and m["port"] else default_port
        shape = "[user@]host[:port]" if default_port is not None else "host:port"
        if not m or port is None or not 1 <= port <= 65535 or not is_host(m["host"].strip("[]")):
            raise where.fail(value, f"expected {shape}")
        return m["user"], m["host"].strip("[]"), port

    return check


def server(fields: dict[str, Any], raw: dict[str, Any], where: Where) -> None:
    """A checked `server = "host:port"` (no user) into server_host and server_port."""
    if "server" in fields:
        user, host_, port = fields.pop("server")
        if user:
            raise where.child("server").fail(raw["server"], "expected host:port (no user)")
        fields["server_host"], fields["server_port"] = host_, port


def path_under(base: Path) -> Checker:
    """A path; a relative one is beside the inventory."""

    def check(value: Any, where: Where) -> Path:
        path = Path(string(value, where)).expanduser()
        return path if path.is_absolute() else (base / path)

    return check


def password(fields: dict[str, Any], where: Where) -> Secret:
    """`password` or `password_env` (not both), out of the checked fields."""
    if "password" in fields and "password_env" in fields:
        raise where.child("password").fail(None, "give either password or password_env, not both")
    return Secret(inline=fields.pop("password", None), env=fields.pop("password_env", None))


# --- what only this host can say (preflight: before a command connects or a run writes anything) ----


def file_problems(key: str, path: Path | None, what: str) -> Iterator[LinkProblem]:
    if path is None:
        return
    path = path.expanduser()
    if not path.exists():
        yield LinkProblem(key, str(path), f"{what} does not exist")
    elif not path.is_file():
        yield LinkProblem(key, str(path), f"{what} is not a file")
    elif not os.access(path, os.R_OK):
        yield LinkProblem(key, str(path), f"{what} cannot be read")


def password_problems(secret: Secret) -> Iterator[LinkProblem]:
    # Only the variable's name is ever shown; its value is never read here.
    if secret.env is not None and secret.env not in os.environ:
        yield LinkProblem("password_env", secret.env, f"environment variable {secret.env} is not set")
