"""The plugin's command-line options, read once into a typed record."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..errors import ConfigError
from ..links import LINKS
from .selection import Shard

INVENTORY_ENV = "HARNESS_INVENTORY"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "device test harness")
    group.addoption("--device", dest="harness_device", help="inventory name of the device under test")
    group.addoption(
        "--inventory",
        dest="harness_inventory",
        help=f"devices.toml (default: ${INVENTORY_ENV}, else ./devices.toml)",
    )
    group.addoption("--via", dest="harness_via", choices=LINKS.names(), help="link to use")
    group.addoption("--harness-run-dir", dest="harness_run_dir", help="write journal/ and logs/ here")
    group.addoption("--harness-attempt", dest="harness_attempt", type=int, default=1, help="attempt number")
    group.addoption(
        "--harness-repeat", dest="harness_repeat", type=int, default=1, help="run each test N times"
    )
    group.addoption(
        "--harness-only", dest="harness_only", help="file of test ids, one per line: run only those"
    )
    group.addoption("--harness-shard", dest="harness_shard", help="K/N: run the K-th of N shards")
    group.addoption(
        "--harness-test-timeout", dest="harness_test_timeout", type=float, help="stop a test after SECONDS"
    )
    group.addoption(
        "--harness-boot-timeout",
        dest="harness_boot_timeout",
        type=float,
        help="seconds to wait for a dropped device to come back (default: the profile's boot_time_budget)",
    )


@dataclass(frozen=True)
class HarnessOptions:
    device: str | None
    inventory: Path
    via: str | None
    run_dir: Path | None
    attempt: int
    repeat: int
    only: Path | None
    shard: Shard | None
    test_timeout: float | None
    boot_timeout: float | None

    @classmethod
    def from_config(cls, config: pytest.Config) -> HarnessOptions:
        get = config.getoption
        inventory = get("harness_inventory") or os.environ.get(INVENTORY_ENV) or "devices.toml"
        run_dir = get("harness_run_dir")
        only = get("harness_only")
        shard = get("harness_shard")
        opts = cls(
            device=get("harness_device"),
            inventory=Path(inventory).expanduser(),
            via=get("harness_via"),
            run_dir=Path(run_dir).expanduser().resolve() if run_dir else None,
            attempt=get("harness_attempt"),
            repeat=get("harness_repeat"),
            only=Path(only).expanduser() if only else None,
            shard=Shard.parse(shard) if shard else None,
            test_timeout=get("harness_test_timeout"),
            boot_timeout=get("harness_boot_timeout"),
        )
        if opts.attempt < 1:
            raise ConfigError(f"--harness-attempt {opts.attempt}: must be 1 or more")
        if opts.repeat < 1:
            raise ConfigError(f"--harness-repeat {opts.repeat}: must be 1 or more")
        for name, value in (
            ("--harness-test-timeout", opts.test_timeout),
            ("--harness-boot-timeout", opts.boot_timeout),
        ):
            if value is not None and value <= 0:
                raise ConfigError(f"{name} {value:g}: must be a positive number of seconds")
        if opts.run_dir is not None and not opts.device:
            raise ConfigError("--harness-run-dir needs --device NAME (the journal is per device)")
        return opts
