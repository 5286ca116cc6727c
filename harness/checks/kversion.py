"""Kernel release strings (`uname -r`) as comparable versions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_RELEASE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")


@total_ordering
@dataclass(frozen=True)
class KernelVersion:
    major: int
    minor: int
    patch: int = 0

    def key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, KernelVersion):
            return NotImplemented
        return self.key() < other.key()

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def parse_kernel_version(release: str) -> KernelVersion:
    """'5.10.110-rockchip-standard' -> 5.10.110; '6.6' -> 6.6.0. Raises ValueError on anything else,
    so a garbled `uname -r` is a failure, never a version that happens to compare well."""
    match = _RELEASE.match(release)
    if not match:
        raise ValueError(f"not a kernel release: {release!r}")
    major, minor, patch = match.groups()
    return KernelVersion(int(major), int(minor), int(patch or 0))


def at_least(release: str, minimum: str) -> bool:
    return parse_kernel_version(release) >= parse_kernel_version(minimum)
