"""What only this host can say about a device's link settings, checked before a command connects or a
run writes anything: the link exists (--via), its key file and ssh config are there, its password
variable is set. Not part of loading the inventory: `harness lab up` makes the lab's key files, and a
listing (`devices --no-probe`) needs none of them.

Each problem is a ConfigError in the inventory's one-line form (file, device, key, value): exit 2."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import ConfigError
from .inventory import link_error
from .secrets import Secret
from .specs import DeviceSpec


def check_link(spec: DeviceSpec, via: str | None = None) -> None:
    """The link `via` (default: the primary) of `spec` can be tried; ConfigError if it never could."""
    kind = via or spec.primary_transport
    if kind not in spec.transports:
        raise ConfigError(
            f"{spec.source or 'inventory'}: device {spec.name!r} has no {kind} link "
            f"(it has: {', '.join(spec.transports)}); --via {kind} cannot be used with it"
        )
    if kind == "ssh" and spec.ssh is not None:
        _file(spec, "ssh.key_file", spec.ssh.key_file, "ssh key file")
        _file(spec, "ssh.ssh_config", spec.ssh.ssh_config, "ssh config file")
        _password(spec, "ssh", spec.ssh.password)
    elif kind == "serial" and spec.serial is not None:
        _password(spec, "serial", spec.serial.password)


def check_links(specs: Iterable[DeviceSpec], via: str | None = None) -> None:
    for spec in specs:
        check_link(spec, via)


def _file(spec: DeviceSpec, key: str, path: Path | None, what: str) -> None:
    if path is None:
        return
    path = path.expanduser()
    if not path.exists():
        raise link_error(spec, key, str(path), f"{what} does not exist")
    if not path.is_file():
        raise link_error(spec, key, str(path), f"{what} is not a file")
    if not os.access(path, os.R_OK):
        raise link_error(spec, key, str(path), f"{what} cannot be read")


def _password(spec: DeviceSpec, link: str, secret: Secret) -> None:
    # Only the variable's name is ever shown; its value is never read here.
    if secret.env is not None and secret.env not in os.environ:
        raise link_error(spec, f"{link}.password_env", secret.env,
                         f"environment variable {secret.env} is not set")
