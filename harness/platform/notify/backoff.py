"""When a failed delivery is tried again (pure): the delay doubles from `base_s` up to `cap_s`; after
`max_attempts` tries the delivery is given up and stays in the log as failed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_s: float = 30.0
    cap_s: float = 3600.0
    timeout_s: float = 10.0  # one attempt: connect + send + the answer's status line

    def delay_after(self, attempts: int) -> float | None:
        """Seconds before the next try after `attempts` failed ones; None: give up."""
        if attempts >= self.max_attempts:
            return None
        return float(min(self.cap_s, self.base_s * 2 ** (attempts - 1)))
