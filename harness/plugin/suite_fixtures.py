"""What every suite under suites/<id>/ gets from the plugin, so no suite repeats it:

- a test whose requirements do not apply to the device (suite.toml `applies_to`: OS profiles, device
  kinds, declared capabilities) ends as SKIP with the reason, never as a FAIL or a silent PASS
  (`Applicability`, asked by the plugin's setup hook);
- `suite_data`: the suite's reference data, `suites/<id>/data/<id>.toml`, resolved for the device's
  OS profile, family and version (see harness.checks.suite_data);
- `ident`: the device's identity (dut.identity(), probed once)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ..checks.applicability import not_applicable_reason
from ..checks.suite_data import resolve_file
from ..errors import ConfigError
from ..identity import Identity
from ..specs import DeviceSpec
from ..suites import Suite, load_suite
from .selection import suite_folder

NEEDS_DEVICE = (
    "this test needs a device: give --device NAME (and --inventory PATH, or set $HARNESS_INVENTORY)"
)


@cache
def _suite(folder: Path) -> Suite:
    return load_suite(folder)


class Applicability:
    """Whether a test's requirements apply to the device, asked by the plugin before each test's
    fixtures (so a test that does not apply is skipped without a command on the device). It depends
    only on the suite and the inventory's spec: one answer per suite folder and set of ids."""

    def __init__(self, spec: DeviceSpec | None) -> None:
        self.spec = spec
        self._answers: dict[tuple[Path, tuple[str, ...]], str | None] = {}

    def reason(self, test_file: Path, ids: tuple[str, ...]) -> str | None:
        """Why the test does not apply (None: it does, or it names no requirement of a suite)."""
        folder = suite_folder(test_file) if ids else None
        if folder is None:
            return None
        if self.spec is None:
            raise ConfigError(NEEDS_DEVICE)
        key = (folder, ids)
        if key not in self._answers:
            spec = self.spec
            self._answers[key] = not_applicable_reason(
                _suite(folder), list(ids), spec.profile, spec.kind, spec.declared.capabilities
            )
        return self._answers[key]


@pytest.fixture(scope="module")
def ident(dut: Any) -> Identity:
    identity: Identity = dut.identity()
    return identity


@pytest.fixture(scope="module")
def suite_data(request: pytest.FixtureRequest, dut: Any, ident: Identity) -> dict[str, Any]:
    folder = suite_folder(Path(request.node.path))
    if folder is None:
        raise pytest.UsageError(f"{request.node.path} is not inside a suite folder (no suite.toml above it)")
    suite = _suite(folder)
    return resolve_file(folder / "data" / f"{suite.id}.toml", dut.profile.name, dut.profile.family,
                        ident.os_version)
