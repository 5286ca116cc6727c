"""Every duration the CLI takes is a finite number of seconds within bounds (harness.cli.params.Seconds):
`nan`, `inf` and `1e308` are refused with one line and exit 2, before anything runs."""

from __future__ import annotations

import math

import click
import pytest

from harness.cli import main
from harness.cli.params import WEEK, Seconds

BAD = ["nan", "NaN", "inf", "-inf", "infinity", "1e308", "1e10", "-1", "ten"]

# Each command with the option (and the arguments it needs to get as far as parsing the option).
OPTIONS = [
    ["run", "--test-timeout"],
    ["run", "--grace"],
    ["run", "--wait-lock"],
    ["retry", "some-run", "--wait-lock"],
    ["exec", "dev", "--timeout", "{}", "--", "true"],
    ["push", "dev", "pyproject.toml", "/tmp/x", "--timeout"],
    ["pull", "dev", "/etc/hostname", "/tmp/x", "--timeout"],
    ["devices", "--timeout"],
    ["lab", "up", "--timeout"],
]


def argv_for(option: list[str], value: str) -> list[str]:
    return [a.replace("{}", value) for a in option] if "{}" in option else [*option, value]


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: " ".join(a for a in o if a.startswith("-") or a.isalpha()))
def test_a_non_finite_or_absurd_duration_is_refused_with_exit_2(option: list[str], value: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["-i", "/nonexistent/devices.toml", *argv_for(option, value)])
    err = capsys.readouterr().err
    assert done.value.code == 2, err
    assert len(err.strip().splitlines()) == 1 and repr(value) in err, err


def test_seconds_accepts_what_a_duration_can_be() -> None:
    seconds = Seconds(0.1)
    assert seconds.convert("600", None, None) == 600.0
    assert seconds.convert(" 0.1 ", None, None) == 0.1
    assert seconds.convert(2.5, None, None) == 2.5
    assert seconds.convert(str(WEEK), None, None) == WEEK
    assert Seconds(0, low_open=True).convert("1e-3", None, None) == 0.001
    for bad in ("0", "0.0"):
        with pytest.raises(click.BadParameter):
            Seconds(0, low_open=True).convert(bad, None, None)
    for bad in (math.nan, math.inf, WEEK + 1):
        with pytest.raises(click.BadParameter):
            seconds.convert(bad, None, None)
