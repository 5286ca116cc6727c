"""Real peers for the hdc tests: the real hdc server (private port and HOME) and the real hdcd inside a
simulated device's own namespaces (the handset-ohos persona), both built from OpenHarmony's source by
harness.lab.hdc.build into its cache. The first build takes minutes: conftest starts it in the
background as soon as the session knows it has hdc tests, and `hdc_binaries` waits for it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.inventory import load_inventory
from harness.lab.device.simulated import SimulatedDevice
from harness.lab.hdc.build import HdcBinaries, HdcBuildError, build_hdc, link_binaries
from harness.lab.hdc.server import HdcServer
from harness.specs import HdcSpec
from harness.transports.hdc import HdcTransport
from harness.waiting import free_port

PERSONA = "handset-ohos"
_build: dict[str, object] = {}
_build_lock = threading.Lock()


def start_build_in_background() -> None:
    """Start (once) the build of hdc and hdcd on a thread; a cached build returns at once."""
    with _build_lock:
        if "thread" in _build:
            return

        def build() -> None:
            try:
                _build["result"] = build_hdc(nice=True)  # the other tests keep the CPU first
            except BaseException as exc:  # handed to the fixture, which fails the tests with it
                _build["result"] = exc

        thread = threading.Thread(target=build, name="hdc-build", daemon=True)
        _build["thread"] = thread
        thread.start()


def binaries() -> HdcBinaries:
    start_build_in_background()
    thread = _build["thread"]
    assert isinstance(thread, threading.Thread)
    thread.join()
    result = _build["result"]
    if isinstance(result, HdcBuildError):
        pytest.fail(f"the hdc peers could not be built: {result}")
    if isinstance(result, BaseException):
        raise result
    assert isinstance(result, HdcBinaries)
    return result


@pytest.fixture(scope="session")
def hdc_binaries() -> HdcBinaries:
    return binaries()


@pytest.fixture(scope="module")
def hdc_server(hdc_binaries: HdcBinaries) -> Iterator[HdcServer]:
    with HdcServer(hdc_binaries.hdc) as server:
        yield server


def write_inventory(folder: Path, server_port: int, device_port: int, *, boot_time: float = 0.2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "devices.toml"
    address = f"127.0.0.1:{device_port}"
    path.write_text(f"""
[lab]
state_dir = "state"
hdc_server = {server_port}

[devices.{PERSONA}]
kind = "handset"
profile = "harmonyos"
hdc = {{ target = "{address}", server = "127.0.0.1:{server_port}", connect = "{address}", client = "state/bin/hdc" }}

[lab.devices.{PERSONA}]
persona = "{PERSONA}"
boot_time = {boot_time}
""")
    return path


@contextmanager
def hdc_device(folder: Path, server: HdcServer, bins: HdcBinaries, **kwargs: float) -> Iterator[SimulatedDevice]:
    """A simulated HarmonyOS NEXT handset whose hdcd the server is `tconn`ed to."""
    inventory = load_inventory(write_inventory(folder, server.port, free_port(), **kwargs))
    config = inventory.lab
    link_binaries(bins, config.hdc_bin_dir)
    device = SimulatedDevice(inventory.get(PERSONA), config.get(PERSONA), config)
    try:
        device.power_on()
        server.tconn(f"127.0.0.1:{config.get(PERSONA).hdc_port}")
        yield device
    finally:
        device.shutdown()


def transport_for(device: SimulatedDevice) -> HdcTransport:
    spec = device.spec.hdc
    assert isinstance(spec, HdcSpec)
    return HdcTransport(spec)
