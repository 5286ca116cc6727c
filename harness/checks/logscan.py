"""Kernel faults in collected logs: panics, oopses, BUGs, faults the kernel survived."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Each pattern is what the kernel itself prints; words like "debug" or "BUG_ON" in prose do not match.
FAULT_PATTERNS: dict[str, re.Pattern[str]] = {
    "panic": re.compile(r"Kernel panic - not syncing"),
    "oops": re.compile(r"\bOops(?: - [A-Za-z ]+)?: (?:[0-9a-fx]+ \[#\d+\]|[a-z ]*fault)"
                       r"|\bInternal error: Oops"),
    "bug": re.compile(r"\bBUG: [A-Za-z]"),
    "kernel_bug": re.compile(r"kernel BUG at \S+"),
    "gpf": re.compile(r"general protection fault(?:,|:)"),
    "null_deref": re.compile(r"Unable to handle kernel (?:NULL pointer dereference|paging request)"),
    "hung_task": re.compile(r"INFO: task \S+ blocked for more than \d+ seconds"),
    "rcu_stall": re.compile(r"rcu: INFO: rcu_\w+ (?:self-)?detected stalls?"),
}


@dataclass(frozen=True)
class LogFault:
    kind: str
    source: str  # which log (kernel, system, console)
    line: str

    def __str__(self) -> str:
        return f"{self.source}: {self.kind}: {self.line[:200]}"


def find_faults(text: str, source: str, kinds: list[str] | None = None) -> list[LogFault]:
    patterns = {k: p for k, p in FAULT_PATTERNS.items() if kinds is None or k in kinds}
    faults: list[LogFault] = []
    for line in text.splitlines():
        for kind, pattern in patterns.items():
            if pattern.search(line):
                faults.append(LogFault(kind, source, line.strip()))
                break
    return faults
