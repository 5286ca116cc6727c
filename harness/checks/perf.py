"""Performance measurements: dd statistics, timings printed by the device, thresholds."""

from __future__ import annotations

import re
from dataclasses import dataclass

# GNU: "67108864 bytes (67 MB, 64 MiB) copied, 0.0412 s, 1.6 GB/s"
# busybox: "67108864 bytes (64.0MB) copied, 0.041234 seconds, 1.5GB/s"; toybox: "... copied, 0.041 s, 1.5 G/s"
_DD_STATS = re.compile(r"(\d+) bytes .*?copied, ([0-9.]+) s(?:econds)?")
_STAMP = re.compile(r"^@@T([01]) (\d+)$", re.M)

MB = 1_000_000


@dataclass(frozen=True)
class Transfer:
    bytes: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        return self.bytes / MB / self.seconds if self.seconds > 0 else float("inf")


def parse_dd_stats(text: str) -> Transfer | None:
    """The last statistics line dd printed, or None if it printed none (then time the command instead)."""
    matches = _DD_STATS.findall(text)
    if not matches:
        return None
    size, seconds = matches[-1]
    return Transfer(int(size), float(seconds))


def timed_script(body: str) -> str:
    """Wrap a command so the device prints its own start and end times in nanoseconds, which excludes the
    link's round trip. `date +%s%N` is not everywhere; parse_timed falls back when %N is not expanded."""
    return f"echo @@T0 $(date +%s%N); {body}; rc=$?; echo @@T1 $(date +%s%N); exit $rc"


def parse_timed(text: str) -> float | None:
    stamps = {m.group(1): int(m.group(2)) for m in _STAMP.finditer(text)}
    if "0" not in stamps or "1" not in stamps:
        return None
    elapsed = (stamps["1"] - stamps["0"]) / 1e9
    return elapsed if elapsed > 0 else None


@dataclass(frozen=True)
class Threshold:
    low: float | None = None
    high: float | None = None

    def holds(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f">= {self.low:g}")
        if self.high is not None:
            parts.append(f"<= {self.high:g}")
        return " and ".join(parts) or "any value"


def threshold_from(table: dict[str, object], name: str) -> Threshold:
    """`<name>_min` / `<name>_max` keys of a resolved data table; a missing threshold is an error."""
    low, high = table.get(f"{name}_min"), table.get(f"{name}_max")
    if low is None and high is None:
        raise KeyError(f"no threshold {name}_min or {name}_max in the performance data")
    return Threshold(float(low) if low is not None else None,  # type: ignore[arg-type]
                     float(high) if high is not None else None)  # type: ignore[arg-type]
