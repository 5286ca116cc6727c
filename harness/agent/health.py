"""Device health: a periodic health check per device (a run of the smoke suite, queued by the device's
agent). A device failing it is quarantined (its runs wait) until a check passes again or an admin
releases it. A run that ends in lab trouble is an ERROR, never a product failure; it asks for a health
check of its device at once."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .db import Conn
from .queue import wake


@dataclass(frozen=True)
class HealthChange:
    health: str  # pass | fail
    quarantined: bool
    reason: str | None


def after_check(passed: bool, detail: str) -> HealthChange:
    """Pure: a passing check clears quarantine; a failing one (product or lab trouble) sets it."""
    if passed:
        return HealthChange("pass", False, None)
    return HealthChange("fail", True, f"health check failed: {detail}")


def record_check(conn: Conn, device: str, change: HealthChange) -> None:
    conn.execute(
        "UPDATE harness_devices SET health = %s, health_at = now(), quarantined = %s,"
        " quarantine_reason = %s WHERE name = %s",
        (change.health, change.quarantined, change.reason, device),
    )
    if not change.quarantined:
        wake(conn, device)


def set_quarantine(conn: Conn, device: str, on: bool, reason: str | None = None) -> None:
    """An admin's word: quarantine a device by hand, or release it before a check passes."""
    row = conn.execute(
        "UPDATE harness_devices SET quarantined = %s, quarantine_reason = %s WHERE name = %s RETURNING name",
        (on, reason if on else None, device),
    ).fetchone()
    if row is None:
        raise ConfigError(f"no registered device named {device!r}")
    if not on:
        wake(conn, device)
