"""Command-line values with a meaning beyond their type. `Seconds` is every duration the CLI takes
(timeouts, grace, lock waits): a finite number within bounds, so `nan`, `inf` and `1e308` are refused
with exit 2 instead of reaching a select() or a deadline that cannot hold them."""

from __future__ import annotations

import math
from typing import Any

import click

WEEK = 7 * 24 * 3600.0
HOUR = 3600.0


class Seconds(click.ParamType):
    """A duration in seconds: finite, at least `low` (above it when `low_open`), at most `high`."""

    name = "seconds"

    def __init__(self, low: float = 0.0, high: float = WEEK, *, low_open: bool = False) -> None:
        self.low, self.high, self.low_open = low, high, low_open

    def _bounds(self) -> str:
        return f"{'above' if self.low_open else 'at least'} {self.low:g} and at most {self.high:g}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number of seconds ({self._bounds()})", param, ctx)
        too_low = number <= self.low if self.low_open else number < self.low
        if too_low or number > self.high:
            self.fail(f"{value!r} seconds is out of range: give {self._bounds()}", param, ctx)
        return number
