"""SSH keys of the simulated lab: a stable host key per device (kept under its state dir, so clients
can pin it across restarts), the lab's known_hosts listing them, and the client key the inventory
names when the lab is to make it."""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import ConfigError
from harness.inventory import Inventory
from harness.lab.lab_config import LabConfig
from harness.lab.ssh.keys import _new_ed25519_pem, load_or_create_host_key

from ..atomic_file import write_atomic

HOST_KEY_NAME = "ssh_host_ed25519_key"


def host_key_path(config: LabConfig, name: str) -> Path:
    return config.device_dir(name) / HOST_KEY_NAME


def prepare_ssh_keys(inventory: Inventory, config: LabConfig, names: list[str]) -> None:
    """Make what SSH devices and their clients need, before any device starts."""
    lines = []
    for name, lab in config.devices.items():
        spec = inventory.devices[name].ssh
        if spec is None or lab.ssh_port is None:
            continue
        key = load_or_create_host_key(host_key_path(config, name))
        host = spec.host if spec.port == 22 else f"[{spec.host}]:{spec.port}"
        lines.append(f"{host} {key.get_name()} {key.get_base64()}\n")
        if name in names and spec.key_file is not None and not spec.key_file.exists():
            _make_client_key(spec.key_file, config)
    if lines:
        write_atomic(config.known_hosts, "".join(lines))


def _make_client_key(path: Path, config: LabConfig) -> None:
    if not path.resolve().is_relative_to(config.state_dir.resolve()):
        raise ConfigError(f"{config.inventory}: SSH key {path} does not exist (the lab only makes keys "
                          f"under its state dir {config.state_dir})")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(_new_ed25519_pem())
