"""Who a reservation belongs to, and durations as people write them (`90`, `90s`, `30m`, `2h`, `1d`)."""

from __future__ import annotations

import getpass
import math
import os
import re
import socket

OWNER_ENV = "HARNESS_OWNER"
UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
DURATION = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[smhd]?)\s*$")


def me() -> str:
    """$HARNESS_OWNER, else user@host."""
    if os.environ.get(OWNER_ENV):
        return os.environ[OWNER_ENV][:100]
    try:
        user = os.environ.get("USER") or getpass.getuser()
    except Exception:
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"[:100]


def parse_duration(text: str, high: float) -> float:
    """Seconds from '90', '90s', '30m', '2h' or '1d'; ValueError naming the bounds otherwise."""
    m = DURATION.match(text or "")
    if m is None:
        raise ValueError(f"{text!r} is not a duration (give e.g. 90s, 30m, 2h or 1d)")
    seconds = float(m["n"]) * UNITS[m["unit"]]
    if not math.isfinite(seconds) or seconds <= 0 or seconds > high:
        raise ValueError(f"{text!r} is out of range: give more than 0 and at most {high:g} seconds")
    return seconds
