"""Login throttling as a pure rule: after `max_failures` failed logins for one user name, or from one
client address, within the window, further attempts are refused (without checking the password)
until the oldest of those failures leaves the window. The attempts are kept in the database, so
several app processes share one count."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from ..config import ThrottlePolicy


@dataclass(frozen=True)
class Lockout:
    until: dt.datetime

    def retry_after(self, now: dt.datetime) -> int:
        return max(1, int((self.until - now).total_seconds() + 0.999))


def lockout(failures: Sequence[dt.datetime], now: dt.datetime, policy: ThrottlePolicy) -> Lockout | None:
    """`failures`: the times of recent failed attempts (of one name or one address), any order."""
    window = dt.timedelta(seconds=policy.window_s)
    recent = sorted(t for t in failures if now - t < window)
    if len(recent) < policy.max_failures:
        return None
    # The lock lifts when enough of the failures have aged out to bring the count below the limit.
    return Lockout(recent[len(recent) - policy.max_failures] + window)
