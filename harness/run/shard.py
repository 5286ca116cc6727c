"""`--shard K/N`: the worker runs the K-th of N slices of its tests (the plugin does the slicing;
this module checks the flag). `harness merge` puts the slices back together."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigError

_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    m = _SHARD_RE.match(text)
    if not m:
        raise ConfigError(f"--shard {text!r}: expected K/N, e.g. 2/4")
    index, count = int(m[1]), int(m[2])
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(f"--shard {text!r}: K must be from 1 to N (N >= 1)")
    return Shard(index, count)
