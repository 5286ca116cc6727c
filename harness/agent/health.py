"""Device health: a periodic health check per device (a run of the smoke suite, queued by the device's
agent). A device failing it is quarantined (its runs wait) until a check passes again or an admin
releases it; an admin's own quarantine stays until an admin releases it. A run that ends in lab trouble
is an ERROR, never a product failure; it asks for a health check of its device at once."""

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


def after_check(passed: bool, detail: str, by_hand: bool = False) -> HealthChange:
    """Pure: a passing check clears a quarantine that a check set (not an admin's); a failing one
    (product or lab trouble) sets it."""
    if passed:
        return HealthChange("pass", by_hand, "quarantined by an admin" if by_hand else None)
    return HealthChange("fail", True, f"health check failed: {detail}")


def record_check(conn: Conn, device: str, passed: bool, detail: str) -> HealthChange:
    row = conn.execute(
        "SELECT quarantined AND quarantine_by_hand AS by_hand, quarantine_reason FROM harness_devices"
        " WHERE name = %s FOR UPDATE",
        (device,),
    ).fetchone()
    by_hand = bool(row and row["by_hand"])
    change = after_check(passed, detail, by_hand)
    reason = row["quarantine_reason"] if by_hand and row else change.reason
    conn.execute(
        "UPDATE harness_devices SET health = %s, health_at = now(), quarantined = %s, quarantine_reason = %s,"
        " quarantine_by_hand = %s WHERE name = %s",
        (change.health, change.quarantined, reason, by_hand, device),
    )
    if not change.quarantined:
        wake(conn, device)
    return change


def set_quarantine(conn: Conn, device: str, on: bool, reason: str | None = None) -> None:
    """An admin's word: quarantine a device by hand, or release it before a check passes."""
    row = conn.execute(
        "UPDATE harness_devices SET quarantined = %s, quarantine_reason = %s, quarantine_by_hand = %s"
        " WHERE name = %s RETURNING name",
        (on, reason if on else None, on, device),
    ).fetchone()
    if row is None:
        raise ConfigError(f"no registered device named {device!r}")
    if not on:
        wake(conn, device)
