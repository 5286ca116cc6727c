"""Performance measurements: dd statistics, timings printed by the device, thresholds."""

from __future__ import annotations

import re
from dataclasses import dataclass

# GNU: "67108864 bytes (67 MB, 64 MiB) copied, 0.0412 s, 1.6 GB/s"
# busybox: "67108864 bytes (64.0MB) copied, 0.041234 seconds, 1.5GB/s"; toybox: "... copied, 0.041 s, 1.5 G/s"
_DD_STATS = re.compile(r"(\d+) bytes .*?copied, ([0-9.]+) s(?:econds)?")

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


# One reading of the best clock the device has, as "<kind> <value>": GNU date's nanoseconds, else
# busybox adjtimex's microseconds (busybox date prints %N literally), else /proc/uptime's centiseconds.
CLOCK_PROBE = (
    "t=$(date +%s%N 2>/dev/null); case $t in (''|*[!0-9]*) t=;; esac; "
    'if [ -n "$t" ]; then echo "ns $t"; '
    "elif a=$(adjtimex 2>/dev/null | sed -n 's/^ *time[.]tv_sec: *//p;s/^ *time[.]tv_usec: *//p') "
    '&& [ -n "$a" ]; then echo us $a; '
    'elif read -r u _ 2>/dev/null < /proc/uptime; then echo "cs $u"; fi'
)
CLOCKS = {"ns": ("date +%s%N", 1e-9), "us": ("adjtimex", 1e-6), "cs": ("/proc/uptime", 0.01)}
_STAMPS = re.compile(r"^@@T (ns|us|cs) ([0-9. ]+?) @ (ns|us|cs) ([0-9. ]+?)\s*$", re.M)
# A timing counts when the clock's resolution is at most this fraction of what it measured.
PRECISION = 0.02


@dataclass(frozen=True)
class Timing:
    """Seconds a workload took by the device's own clock, and which clock that was."""

    seconds: float
    clock: str
    resolution: float

    @property
    def precise(self) -> bool:
        return self.seconds > 0 and self.resolution <= PRECISION * self.seconds

    def describe(self) -> str:
        return f"{self.seconds:.6g} s by {self.clock} (resolution {self.resolution:g} s)"


def timed_script(body: str) -> str:
    """Wrap a command so the device reads its own clock before and after it and prints both readings
    on a last line (`@@T <kind> <value> @ <kind> <value>`): the link's round trip is never timed."""
    return (
        f"__t0=$({CLOCK_PROBE}); {body}; "
        f'__rc=$?; __t1=$({CLOCK_PROBE}); echo "@@T $__t0 @ $__t1"; exit $__rc'
    )


def _reading(kind: str, value: str) -> float:
    parts = value.split()
    if kind == "ns":
        return int(parts[0]) / 1e9
    if kind == "us":
        return int(parts[0]) + int(parts[1]) / 1e6
    return float(parts[0])


def parse_timed(text: str) -> Timing | None:
    """The device's timing of a timed_script, or None when it printed no usable clock readings."""
    matches = _STAMPS.findall(text)
    if not matches:
        return None
    kind0, value0, kind1, value1 = matches[-1]
    if kind0 != kind1:
        return None
    try:
        elapsed = _reading(kind1, value1) - _reading(kind0, value0)
    except (ValueError, IndexError):
        return None
    clock, resolution = CLOCKS[kind0]
    return Timing(max(elapsed, 0.0), clock, resolution)


_DIGEST = re.compile(r"^([0-9a-f]{64})\b", re.M)


def sha256_digest(text: str) -> str | None:
    """The digest sha256sum printed first (busybox, toybox and GNU all start the line with it)."""
    match = _DIGEST.search(text)
    return match.group(1) if match else None


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
