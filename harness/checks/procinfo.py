"""/proc/cpuinfo, /proc/meminfo and the CPU frequency / thermal values under /sys."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .numbers import is_count


@dataclass(frozen=True)
class CpuInfo:
    processors: int
    model: str  # model name (x86) or Hardware / CPU part (arm)
    features: frozenset[str] = field(default_factory=frozenset)


def parse_cpuinfo(text: str) -> CpuInfo:
    processors = 0
    model = ""
    hardware = ""
    features: set[str] = set()
    for raw in text.splitlines():
        key, sep, value = raw.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "processor" and is_count(value):
            processors += 1
        elif key in ("model name", "cpu model") and not model:
            model = value
        elif key == "hardware" and not hardware:
            hardware = value
        elif key in ("flags", "features") and not features:
            features = set(value.split())
    return CpuInfo(processors, model or hardware, frozenset(features))


def parse_cpu_list(text: str) -> int:
    """Count CPUs in a kernel cpu list ('0-3,6,8-9' -> 7), as in /sys/devices/system/cpu/online."""
    count = 0
    for part in text.strip().split(","):
        if not part:
            continue
        if "-" in part:
            low, high = part.split("-", 1)
            count += int(high) - int(low) + 1
        else:
            int(part)
            count += 1
    return count


def parse_meminfo(text: str) -> dict[str, int]:
    """Field -> kB (or a plain count for HugePages_*)."""
    values: dict[str, int] = {}
    for raw in text.splitlines():
        match = re.match(r"^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?\s*$", raw.strip())
        if match:
            values[match.group(1)] = int(match.group(2))
    return values


def mem_total_mb(meminfo: dict[str, int]) -> int:
    if "MemTotal" not in meminfo:
        raise ValueError("MemTotal missing from /proc/meminfo")
    return meminfo["MemTotal"] // 1024


def within_tolerance(actual: float, declared: float, tolerance: float) -> bool:
    """MemTotal is below the installed size (kernel and firmware reservations), never far above it."""
    return declared * (1 - tolerance) <= actual <= declared * (1 + 0.02)


def parse_governors(text: str) -> list[str]:
    return text.split()


def parse_millidegrees(text: str) -> float:
    """A thermal zone's temp file (millidegrees Celsius) -> degrees."""
    value = text.strip()
    if not re.fullmatch(r"-?\d+", value):
        raise ValueError(f"not a temperature: {value!r}")
    return int(value) / 1000.0


def split_nul_list(text: str) -> list[str]:
    """Device-tree string lists (compatible): NUL separated; `tr '\\0' '\\n'` output works too."""
    return [p for p in re.split(r"[\x00\n]", text) if p.strip()]


def parse_df_available_kb(text: str) -> int | None:
    """`df -k PATH`: the Available column of the last row (POSIX, busybox and toybox agree)."""
    rows = [line.split() for line in text.splitlines()[1:] if line.strip()]
    if not rows:
        return None
    fields = rows[-1]
    # A long device name wraps onto its own line in some df versions; the numbers follow.
    numbers = [f for f in fields if is_count(f)]
    return int(numbers[2]) if len(numbers) >= 3 else None
