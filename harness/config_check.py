"""The one checker of the harness's config files (devices.toml and its [lab], suite.toml, profiles,
personas): where a value came from, the one-line error about it, and the value checkers they share.

Every problem is a ConfigError of one line naming the file, the table, the dotted key, the value
(never a password's) and the problem, with a "did you mean" where a known word is close:

    devices.toml: device 'board1', key 'ssh.adress' = '10.0.0.2': unknown key (did you mean 'address'?)

Unknown keys are refused everywhere: a misspelt key must never be silently ignored (a suite's
`applies-to` would widen a requirement to every device)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .secrets import redact


def suggest(word: str, choices: Collection[str]) -> str:
    """' (did you mean 'x'?)' for the closest of `choices`, or '' when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


_SECRET_WORDS = ("pass", "pwd", "secret", "token")


def may_be_secret(key: str) -> bool:
    """A key that is, or may be a misspelling of, one that holds a password: its value is never shown
    (`pasword = "..."` must not print the password it was meant to hide)."""
    last = key.rsplit(".", 1)[-1].lower()
    return any(w in last for w in _SECRET_WORDS) or bool(
        difflib.get_close_matches(last, ["password"], cutoff=0.6)
    )


class Where:
    """The place a value came from: the file, the table it is in (`device 'board1'`, `requirement
    'KRN-001'`; None at the top of the file) and the dotted key within it."""

    def __init__(self, path: Path, table: str | None = None, key: str = "") -> None:
        self.path, self.table, self.key = path, table, key

    def child(self, key: str) -> Where:
        return Where(self.path, self.table, f"{self.key}.{key}" if self.key else key)

    def at(self, key: str) -> Where:
        """Another key of the same table (not below this one)."""
        return Where(self.path, self.table, key)

    def fail(self, value: Any, problem: str, *, show: bool = True) -> ConfigError:
        table = f"{self.table}, " if self.table else ""
        key = f"key {self.key!r} = " if self.key else ""
        if show and not may_be_secret(self.key):
            shown = redact(repr(value))
        else:
            shown = f"<{type(value).__name__}, not shown>" if value is not None else "<not shown>"
        return ConfigError(f"{self.path}: {table}{key}{shown}: {problem}")


def device_where(path: Path, name: str) -> Where:
    """Where the keys of the inventory's `[devices.NAME]` (and the lab's entry for it) are reported from."""
    return Where(path, f"device {name!r}")


# --- value checkers: each takes (value, where) and returns the converted value -----------------------

Checker = Callable[[Any, Where], Any]


def string(value: Any, where: Where) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise where.fail(value, "expected a non-empty string")
    return value


def text(value: Any, where: Where) -> str:
    """Any string, empty included (a rationale, a banner)."""
    if not isinstance(value, str):
        raise where.fail(value, "expected a string")
    return value


def scalar_text(value: Any, where: Where) -> str:
    """A string, number or boolean, as text (a property's value: `ro.secure = 1`)."""
    if isinstance(value, bool):
        return str(value)
    if not isinstance(value, str | int | float):
        raise where.fail(value, "expected a string or a number")
    return str(value)


def int_range(lo: int, hi: int) -> Checker:
    def check(value: Any, where: Where) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise where.fail(value, f"expected an integer from {lo} to {hi}")
        return value

    return check


def seconds(value: Any, where: Where) -> float:
    """A number of seconds >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise where.fail(value, "expected a number of seconds >= 0")
    return float(value)


def positive_seconds(value: Any, where: Where) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise where.fail(value, "expected a positive number of seconds")
    return float(value)


def boolean(value: Any, where: Where) -> bool:
    if not isinstance(value, bool):
        raise where.fail(value, "expected true or false")
    return value


def one_of(*choices: str, what: str = "") -> Checker:
    """One of `choices` (`what`, e.g. "a known profile", words the error; default: the list)."""

    def check(value: Any, where: Where) -> str:
        if not isinstance(value, str) or value not in choices:
            expected = what or f"one of {', '.join(choices)}"
            raise where.fail(value, f"expected {expected}{suggest(str(value), choices)}")
        return value

    return check


def regex(value: Any, where: Where) -> str:
    pattern = string(value, where)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise where.fail(value, f"not a valid regular expression ({exc})") from None
    return pattern


def env_name(value: Any, where: Where) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise where.fail(value, "expected an environment variable name")
    return value


def list_of(item: Checker, what: str = "strings") -> Checker:
    """A list whose every item passes `item`; a bad item is named by its index (`key[2]`)."""

    def check(value: Any, where: Where) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise where.fail(value, f"expected a list of {what}")
        return tuple(item(v, where.at(f"{where.key}[{i}]")) for i, v in enumerate(value))

    return check


strings = list_of(text)


def map_of(item: Checker, what: str = "strings") -> Checker:
    """A table of free names (a profile's identity commands, a persona's properties) to values."""

    def check(value: Any, where: Where) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise where.fail(value, f"expected a table of {what}")
        return {k: item(v, where.child(k)) for k, v in value.items()}

    return check


def free_table(value: Any, where: Where) -> dict[str, Any]:
    """A table whose keys and values are the reader's business (a profile's `extra`)."""
    if not isinstance(value, dict):
        raise where.fail(value, "expected a table")
    return dict(value)


def table(
    raw: Any, where: Where, schema: Mapping[str, Checker], required: Collection[str] = ()
) -> dict[str, Any]:
    """The checked keys of `raw`: an unknown key is refused (with the closest known one), a missing
    required key named."""
    if not isinstance(raw, dict):
        # Not shown: a link written as a string ("root:secret@host") may carry a password.
        raise where.fail(raw, "expected a table", show=False)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in schema:
            raise where.child(key).fail(value, f"unknown key{suggest(key, schema)}")
        out[key] = schema[key](value, where.child(key))
    for key in required:
        if key not in out:
            raise where.child(key).fail(None, "required key is missing")
    return out


def table_of(schema: Mapping[str, Checker], required: Collection[str] = ()) -> Checker:
    """`table` as a checker, for a table inside a table."""

    def check(value: Any, where: Where) -> dict[str, Any]:
        return table(value, where, schema, required)

    return check
