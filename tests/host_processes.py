"""Finding a test's own commands among this host's processes: a sleep of a length nobody else uses,
looked for by its exact command line (every peer's commands run on this host; the hdc device's in
namespaces of their own, which this host's /proc lists too)."""

from __future__ import annotations

import os
import random
from pathlib import Path


def unique_duration() -> str:
    """A sleep length no other test on this host uses, so its processes can be found by name."""
    return f"40.{random.randrange(10**8):08d}"


def processes_with(*argv: str) -> list[int]:
    """Pids whose command line is exactly `argv`."""
    wanted = "\0".join(argv).encode() + b"\0"
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/cmdline").read_bytes() == wanted:
                    found.append(int(entry))
            except OSError:
                continue
    return found
