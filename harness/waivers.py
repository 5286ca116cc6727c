"""Waivers as data, and the one rule deciding which apply to a device, shared by `harness run
--waivers FILE` and the platform so that a vendor's CI gate sees the verdict the platform computes.

A waiver names a requirement and, optionally, narrows itself to a product model, a SoC, an OS
profile and an OS version ("" = any). It applies to a device when every field it names matches the
device (case-insensitive; an OS version matches itself or any version that starts with it followed
by a dot, so "4" covers "4.1.2") and it has not expired at the moment of evaluation. An expired or
out-of-scope waiver does not apply and the evaluation says why, so the report can say so."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .envelope import Envelope, EnvelopeError, open_envelope, read_envelope
from .errors import ConfigError

WAIVERS_FORMAT = "harness-waivers/1"
SCOPE_FIELDS = ("model", "soc", "profile", "os_version")
MAX_WAIVERS = 10_000


@dataclass(frozen=True)
class Waiver:
    id: str
    requirement: str
    reason: str
    expires: str  # ISO 8601 UTC instant: valid before it
    vendor: str = ""
    requested_by: str = ""
    approved_by: str = ""
    model: str = ""
    soc: str = ""
    profile: str = ""
    os_version: str = ""

    @property
    def expires_at(self) -> dt.datetime:
        return parse_instant(self.expires)

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "waiver") -> Waiver:
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: not an object")
        missing = [
            k for k in ("id", "requirement", "reason", "expires") if not str(data.get(k) or "").strip()
        ]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}")
        names = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{where}: unknown field {unknown[0]!r}")
        waiver = cls(**{k: str(v) for k, v in data.items()})
        try:
            waiver.expires_at  # noqa: B018 - a bad date is refused here, not at evaluation
        except ValueError:
            raise ValueError(
                f"{where}: expires {waiver.expires!r} is not an ISO 8601 date and time"
            ) from None
        return waiver


@dataclass(frozen=True)
class DeviceFacts:
    model: str = ""
    soc: str = ""
    profile: str = ""
    os_version: str = ""


class Applies(enum.StrEnum):
    APPLIED = "applied"
    EXPIRED = "expired"
    OUT_OF_SCOPE = "out-of-scope"


@dataclass(frozen=True)
class Evaluation:
    waiver: Waiver
    applies: Applies
    note: str  # why, in one line

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.waiver.id,
            "requirement": self.waiver.requirement,
            "applies": str(self.applies),
            "note": self.note,
            "expires": self.waiver.expires,
            "reason": self.waiver.reason,
            "approved_by": self.waiver.approved_by,
        }


def parse_instant(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def instant_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version_matches(wanted: str, actual: str) -> bool:
    wanted, actual = wanted.strip().lower(), actual.strip().lower()
    return actual == wanted or actual.startswith(wanted + ".")


def _mismatch(waiver: Waiver, facts: DeviceFacts) -> str | None:
    for name in SCOPE_FIELDS:
        wanted = getattr(waiver, name).strip()
        if not wanted:
            continue
        actual = getattr(facts, name).strip()
        same = _version_matches(wanted, actual) if name == "os_version" else wanted.lower() == actual.lower()
        if not same:
            return f"{name} {actual or '(unknown)'!r} is not the waiver's {wanted!r}"
    return None


def evaluate(waivers: Iterable[Waiver], facts: DeviceFacts, at: dt.datetime) -> list[Evaluation]:
    """Every waiver against one device at one moment: applied, expired or out of scope (and why)."""
    out = []
    for w in waivers:
        wrong = _mismatch(w, facts)
        if wrong:
            out.append(Evaluation(w, Applies.OUT_OF_SCOPE, wrong))
        elif w.expires_at <= at:
            out.append(Evaluation(w, Applies.EXPIRED, f"expired at {w.expires}"))
        else:
            out.append(Evaluation(w, Applies.APPLIED, f"valid until {w.expires}"))
    return out


def applied_requirements(evaluations: Iterable[Evaluation]) -> dict[str, Evaluation]:
    """requirement id -> the applied waiver that covers it (the one valid longest, if several)."""
    best: dict[str, Evaluation] = {}
    for e in evaluations:
        if e.applies is Applies.APPLIED:
            held = best.get(e.waiver.requirement)
            if held is None or e.waiver.expires_at > held.waiver.expires_at:
                best[e.waiver.requirement] = e
    return best


def waivers_body(waivers: Iterable[Waiver], vendor: str, issued: dt.datetime) -> dict[str, Any]:
    return {"vendor": vendor, "issued": instant_text(issued), "waivers": [w.to_dict() for w in waivers]}


def waivers_of(envelope: Envelope, where: str) -> list[Waiver]:
    body = envelope.body
    items = body.get("waivers")
    if not isinstance(items, list) or len(items) > MAX_WAIVERS:
        raise ConfigError(f"{where}: 'waivers' must be a list of at most {MAX_WAIVERS} waivers")
    try:
        return [Waiver.from_dict(item, f"waivers[{i}]") for i, item in enumerate(items)]
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_waiver_file(path: Any, platform_key: Any) -> tuple[Envelope, list[Waiver]]:
    """A waiver file exported by the platform, its signature checked against the platform's public
    key. Any problem is one ConfigError line naming the file."""
    try:
        envelope = read_envelope(path)
        open_envelope(envelope, WAIVERS_FORMAT, platform_key)
    except EnvelopeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return envelope, waivers_of(envelope, str(path))
