"""Secrets (passwords) that never show in output, logs or reports.

Every secret value the harness learns is registered here; `redact` replaces each with a mask. Writers of
anything a human or a report sees (CLI output, device logs, journals) pass text through `redact`."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

MASK = "********"
_known: set[str] = set()
_lock = threading.Lock()


def register(value: str) -> None:
    # Very short values would mask innocent text everywhere; they are still never printed by us.
    if len(value) >= 3:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    with _lock:
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_bytes(data: bytes) -> bytes:
    with _lock:
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        raw = value.encode()
        if raw in data:
            data = data.replace(raw, MASK.encode())
    return data


@dataclass(frozen=True)
class Secret:
    """A password given inline or by environment variable name. Its repr never shows the value."""

    inline: str | None = None
    env: str | None = None

    def __post_init__(self) -> None:
        # Known from the start, so it is masked wherever it turns up (device output echoing it, a
        # worker process that never logs in with it), not only once it has been used.
        value = self.inline or (os.environ.get(self.env) if self.env else None)
        if value:
            register(value)

    def reveal(self) -> str | None:
        """The value, for the one place that sends it to the device. None when not configured."""
        if self.inline is not None:
            return self.inline
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                from .errors import ConfigError

                raise ConfigError(f"environment variable {self.env} (the password) is not set")
            register(value)
            return value
        return None

    def __repr__(self) -> str:
        if self.env:
            return f"Secret(env={self.env!r})"
        return "Secret(********)" if self.inline else "Secret(None)"

    __str__ = __repr__

    def describe(self) -> str:
        return f"${self.env}" if self.env else (MASK if self.inline else "")
