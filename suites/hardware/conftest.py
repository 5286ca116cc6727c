"""Tests of requirements that do not apply to the device (suite.toml applies_to) end as SKIP."""

from pathlib import Path

import pytest

from harness.checks.applicability import skip_unless_applicable


@pytest.fixture(autouse=True)
def _applicable(request):
    skip_unless_applicable(request, Path(__file__).parent)
