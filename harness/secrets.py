"""Secrets (passwords) that never show in output, logs or reports.

Every secret value the harness learns is registered here. It is masked where a secret can turn up, and
nowhere else (a password that is also an ordinary word, `board`, must not eat every "board" in a report):

- `mask_command`: a command line that carries a secret (typed by a suite or a user), and `mask_output`:
  the output of such a command (it was fed the secret and may echo it);
- `mask_transcript`: a console transcript, which holds what was typed at the login prompt and its echo;
- `redact`: any other text (device output, messages, logs, CLI errors): only where an environment-style
  assignment hands a secret over (`PASSWORD=...`, `EM3568_PASS='...'`) or a URL carries it
  (`postgresql://user:...@host`), never in names, identities or unrelated words."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from typing import AnyStr

MASK = "********"
_known: set[str] = set()
_env_names: set[str] = set()
_lock = threading.Lock()
# The known values longest first, rebuilt when one is registered: every mask and redact reads it, and
# the journal and the evidence ask it several times per test.
_by_length: tuple[str, ...] = ()
# Variable names that hold a secret: the inventory's password_env names, and the usual spellings.
_SECRET_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_SECRETISH = re.compile(r"pass|pwd|pw$|^pw|secret|token|key", re.IGNORECASE)


def register(value: str, env: str | None = None) -> None:
    global _by_length
    # Very short values would mask innocent text in commands; they are still never printed by us.
    with _lock:
        if len(value) >= 3 and value not in _known:
            _known.add(value)
            _by_length = tuple(sorted(_known, key=len, reverse=True))
        if env:
            _env_names.add(env)


def known_values() -> tuple[str, ...]:
    """Every registered secret, longest first (for a caller that looks for them in text of its own).
    A tuple replaced whole under the lock: reading it needs none."""
    return _by_length


# Where a secret stands as a value of its own in a command line: between shell word breaks, quotes or
# `=`/`:`, not inside a longer name or path (`ceo-board`, `/proc/board-id` carry no password `board`).
_EDGE = r"""\s'"=:;|&()<>`,"""


def _token(value: str) -> re.Pattern[str]:
    return re.compile(rf"(?:(?<=[{_EDGE}])|^){re.escape(value)}(?=[{_EDGE}]|$)")


def carries_secret(command: str) -> bool:
    return any(value in command and _token(value).search(command) for value in known_values())


def mask_command(command: str) -> str:
    """A command line with every known secret that stands in it as a value masked."""
    for value in known_values():
        if value in command:
            command = _token(value).sub(MASK, command)
    return command


def mask_transcript(text: str) -> str:
    """A console transcript (what was typed at the login prompt and its echo): every known secret
    masked wherever it is."""
    for value in known_values():
        text = text.replace(value, MASK)
    return text


def _assignment(value: str) -> re.Pattern[str]:
    quoted = re.escape(value)
    return re.compile(rf"(?<![A-Za-z0-9_])({_SECRET_NAME})(=)(['\"]?){quoted}\3(?![A-Za-z0-9_])")


def redact(text: str) -> str:
    """Free text: a known secret masked where an assignment to a secret-holding variable carries it."""
    if not text:
        return text
    values = [value for value in known_values() if value in text]
    if not values:
        return text
    with _lock:
        names = set(_env_names)
    for value in values:
        if value not in text:  # masked away with a longer one
            continue

        def hide(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in names or _SECRETISH.search(name):
                return f"{name}={match.group(3)}{MASK}{match.group(3)}"
            return match.group(0)

        text = _assignment(value).sub(hide, text)
        # A URL's userinfo (postgresql://user:SECRET@host/db) hands it over too.
        text = re.sub(rf"(://[^:/@\s]*:){re.escape(value)}@", rf"\g<1>{MASK}@", text)
    return text


def redact_bytes(data: bytes) -> bytes:
    if not any(value.encode() in data for value in known_values()):
        return data
    return redact(data.decode("utf-8", errors="surrogateescape")).encode("utf-8", errors="surrogateescape")


def mask_output(data: AnyStr, command: str) -> AnyStr:
    """What a command printed: in full masking when the command carried a secret, else as free text."""
    if isinstance(data, bytes):
        if carries_secret(command):
            for value in known_values():
                data = data.replace(value.encode(), MASK.encode())
            return data
        return redact_bytes(data)
    return mask_transcript(data) if carries_secret(command) else redact(data)


# Inline passwords a lab should not use: short, or a word that turns up in ordinary text.
COMMON_WORDS = frozenset({
    "admin", "administrator", "board", "changeme", "default", "device", "guest", "handset", "huawei",
    "letmein", "linux", "module", "openharmony", "pass", "passw0rd", "password", "qwerty", "raspberry",
    "root", "secret", "test", "toor", "ubuntu", "user",
})
MIN_LENGTH = 8


def weakness(value: str, names: dict[str, str] | None = None) -> str | None:
    """Why an inline password is a poor one ("is short (5 characters), a common word and the device's
    kind"), or None. `names`: what else the device is called (name, kind, model, ...), by field."""
    reasons = []
    if len(value) < MIN_LENGTH:
        reasons.append(f"short ({len(value)} characters)")
    lowered = value.lower()
    if lowered in COMMON_WORDS or lowered.strip("0123456789!") in COMMON_WORDS:
        reasons.append("a common word")
    same = [field for field, name in (names or {}).items() if name and name.lower() == lowered]
    if same:
        reasons.append("the device's " + " and ".join(same))
    if not reasons:
        return None
    return "is " + (reasons[0] if len(reasons) == 1 else ", ".join(reasons[:-1]) + " and " + reasons[-1])


@dataclass(frozen=True)
class Secret:
    """A password given inline or by environment variable name. Its repr never shows the value."""

    inline: str | None = None
    env: str | None = None

    def __post_init__(self) -> None:
        # Known from the start, so it is masked wherever it is used (a command carrying it, a console
        # transcript), even in a worker process that never logs in with it.
        value = self.inline or (os.environ.get(self.env) if self.env else None)
        if value:
            register(value, self.env)
        elif self.env:
            register("", self.env)

    def reveal(self) -> str | None:
        """The value, for the one place that sends it to the device. None when not configured."""
        if self.inline is not None:
            return self.inline
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                from .errors import ConfigError

                raise ConfigError(f"environment variable {self.env} (the password) is not set")
            register(value, self.env)
            return value
        return None

    def __repr__(self) -> str:
        if self.env:
            return f"Secret(env={self.env!r})"
        return "Secret(********)" if self.inline else "Secret(None)"

    __str__ = __repr__

    def describe(self) -> str:
        return f"${self.env}" if self.env else (MASK if self.inline else "")
