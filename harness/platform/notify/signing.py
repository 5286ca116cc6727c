"""The webhook signature, for the sender and for receivers (pure).

    X-Harness-Timestamp: 1764669600
    X-Harness-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

A receiver recomputes it over the raw body, compares in constant time and refuses a timestamp too
far from its clock (a replayed old delivery)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Harness-Signature"
TIMESTAMP_HEADER = "X-Harness-Timestamp"
DELIVERY_HEADER = "X-Harness-Delivery"
EVENT_HEADER = "X-Harness-Event"
SCHEME = "sha256="
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """What a receiver checks: the signature over exactly these bytes, and a fresh timestamp."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, ts, body), header)
