"""Fault settings shared by every simulated device (ssh, adb, serial): one typed record the lab reads
from its configuration and a device consults on each command, transfer, login and boot. Each device
honours the faults that make sense for its link and ignores the rest."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Faults:
    """Immutable, so a device can take one snapshot per command and a test can swap the whole record
    at run time (`device.faults = Faults(...)`) without locking every field."""

    # Added before each command starts (reply timing, as a slow link or a busy device would show).
    latency_ms: float = 0.0
    # Serve this many commands on a connection, then drop the connection when the next one arrives.
    drop_after_commands: int | None = None
    # Drop the connection once a command has started sending output.
    drop_mid_output: bool = False
    # Regexes (re.search) of commands that never finish: the device sits on them until the client
    # gives up and closes the channel.
    hang_commands: Sequence[str] = ()
    # Refuse every login, whatever the credentials.
    auth_fail: bool = False
    # File transfers stop short: the file that lands (or is read) is shorter than the original.
    truncate_transfers: bool = False
    # Console-only: noise bytes on the serial line, and kernel messages interleaved with output.
    console_garbage: bool = False
    kmsg_interleave: bool = False
    # After a reboot: extra seconds before the device answers again, or it never comes back.
    slow_boot_s: float = 0.0
    fail_boot: bool = False
    _compiled: tuple[re.Pattern[str], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Accept any sequence of strings (a TOML list, say) but keep an immutable tuple.
        if isinstance(self.hang_commands, str) or not isinstance(self.hang_commands, Sequence):
            raise ValueError("hang_commands: expected a list of regular expressions")
        object.__setattr__(self, "hang_commands", tuple(self.hang_commands))
        compiled = []
        for pattern in self.hang_commands:
            if not isinstance(pattern, str):
                raise ValueError(f"hang_commands: {pattern!r} is not a string")
            try:
                compiled.append(re.compile(pattern))
            except re.error as exc:
                raise ValueError(f"hang_commands: {pattern!r} is not a valid regex ({exc})") from None
        object.__setattr__(self, "_compiled", tuple(compiled))
        for name in ("latency_ms", "slow_boot_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name}: expected a number >= 0, got {value!r}")
        n = self.drop_after_commands
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise ValueError(f"drop_after_commands: expected an integer >= 0 or none, got {n!r}")
        for f in _BOOL_FIELDS:
            if not isinstance(getattr(self, f), bool):
                raise ValueError(f"{f}: expected true or false, got {getattr(self, f)!r}")

    @property
    def latency_s(self) -> float:
        return self.latency_ms / 1000.0

    def hangs(self, command: str) -> bool:
        """Whether `command` is one this device never finishes."""
        return any(p.search(command) for p in self._compiled)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        """From configuration (a TOML table); a ValueError names the bad key."""
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        for key in data:
            if key not in known:
                raise ValueError(f"unknown fault {key!r} (known: {', '.join(sorted(known))})")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        out["hang_commands"] = list(self.hang_commands)
        return out


_BOOL_FIELDS = tuple(
    f.name for f in dataclasses.fields(Faults) if f.init and f.type in ("bool", bool)
)

NO_FAULTS = Faults()
