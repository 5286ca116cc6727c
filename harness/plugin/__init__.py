"""The harness pytest plugin (entry point `pytest11: harness`): --device and friends, the `dut`
fixture, the `requirement` marker, evidence capture and the per-device journal."""

from __future__ import annotations

import pytest

from .device_evidence import MARKER_HELP
from .fixtures import Dut, dut
from .options import add_options
from .session import start_session
from .suite_fixtures import ident, suite_data

__all__ = ["Dut", "dut", "ident", "suite_data"]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requirement(*ids): the suite.toml requirement(s) this test checks (certification verdicts use them)",
    )
    config.addinivalue_line("markers", MARKER_HELP)
    config.addinivalue_line(
        "markers",
        "reboots: the test makes the device reboot or reset (a forced crash, a watchdog, a power cut); "
        "a lab that must keep its devices up deselects them with -m 'not reboots'",
    )
    start_session(config)
