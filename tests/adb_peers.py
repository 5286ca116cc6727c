"""Real peers for the ADB tests: the real adb server (private port, HOME, USB off) and simulated adbds
it is `adb connect`ed to. Shared by test_adbd_protocol.py and test_adb_transport.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from harness.lab.adbd.server import SimulatedAdbd
from harness.lab.peers.adb_server import AdbServer, adb_binary


def require_adb() -> None:
    try:
        adb_binary()
    except FileNotFoundError as exc:  # in CI a skip is a failure, so this cannot hide
        pytest.skip(str(exc))


@contextmanager
def connected_adbd(server: AdbServer, **kwargs: object) -> Iterator[SimulatedAdbd]:
    adbd = SimulatedAdbd(**kwargs).start()  # type: ignore[arg-type]
    try:
        server.connect(adbd.serial)
        yield adbd
    finally:
        server.cli("disconnect", adbd.serial, timeout=10)
        adbd.stop()


@pytest.fixture(scope="module")
def adb_server() -> Iterator[AdbServer]:
    require_adb()
    with AdbServer() as server:
        yield server


@pytest.fixture(scope="module", params=[True, False], ids=["shell_v2", "legacy"])
def device(request: pytest.FixtureRequest, adb_server: AdbServer) -> Iterator[SimulatedAdbd]:
    """A simulated adbd connected to the adb server, with and without shell_v2."""
    with connected_adbd(adb_server, shell_v2=request.param) as adbd:
        yield adbd
