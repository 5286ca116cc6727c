"""What every suite under suites/<id>/ gets from the plugin, so no suite repeats it:

- a test whose requirements do not apply to the device (suite.toml `applies_to`: OS profiles, device
  kinds) ends as SKIP with the reason, never as a FAIL or a silent PASS;
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
from ..identity import Identity
from ..suites import Suite, load_suite
from .selection import suite_dir_of


@cache
def suite_folder(test_file: Path) -> Path | None:
    return suite_dir_of(test_file)


@cache
def _suite(folder: Path) -> Suite:
    return load_suite(folder)


@pytest.fixture(autouse=True)
def _requirements_apply(request: pytest.FixtureRequest) -> None:
    ids = [str(a) for mark in request.node.iter_markers("requirement") for a in mark.args]
    folder = suite_folder(Path(request.node.path)) if ids else None
    if folder is None:
        return
    dut = request.getfixturevalue("dut")
    reason = not_applicable_reason(
        _suite(folder), ids, dut.spec.profile, dut.spec.kind, dut.spec.declared.capabilities
    )
    if reason:
        pytest.skip(reason)


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
