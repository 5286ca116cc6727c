"""The transport contract: one way to run a command on a device, whatever the link."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

# Device output is untrusted: each stream is kept up to this many bytes in memory; the rest is
# dropped and the result is marked truncated (the command still runs to its end).
DEFAULT_MAX_OUTPUT = 32 * 1024 * 1024
DEFAULT_TIMEOUT = 60.0

# Called with ("stdout" | "stderr", chunk) as output arrives, for streaming (harness exec).
OutputCallback = Callable[[str, bytes], None]


@dataclass(frozen=True)
class CommandResult:
    """What a command gave back. stdout/stderr are raw bytes (devices send non-UTF-8 too)."""

    command: str
    exit_code: int
    stdout: bytes
    stderr: bytes
    duration: float
    truncated: bool = False
    # False where the link merges stderr into stdout (serial console, adb without shell_v2).
    stderr_separate: bool = True

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")


@dataclass
class BoundedBuffer:
    """Collects a stream up to a limit; counts what it had to drop."""

    limit: int = DEFAULT_MAX_OUTPUT
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    dropped: int = 0

    def add(self, data: bytes) -> None:
        room = self.limit - self.size
        if room <= 0:
            self.dropped += len(data)
            return
        if len(data) > room:
            self.dropped += len(data) - room
            data = data[:room]
        self.chunks.append(data)
        self.size += len(data)

    def getvalue(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def truncated(self) -> bool:
        return self.dropped > 0


@runtime_checkable
class Transport(Protocol):
    """A link to one device. Implementations: ssh, serial, adb."""

    kind: str  # "ssh" | "serial" | "adb"

    def run(
        self,
        cmd: str,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        on_output: OutputCallback | None = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
    ) -> CommandResult:
        """Run a shell command; return its real exit code and output.

        Raises CommandTimeout after stopping the remote command, ConnectionLost when the link drops,
        and other TransportError kinds for lab trouble. A non-zero exit is a result, not an error."""
        ...

    def push(self, local: Path, remote: str, timeout: float = DEFAULT_TIMEOUT) -> None: ...

    def pull(self, remote: str, local: Path, timeout: float = DEFAULT_TIMEOUT) -> None: ...

    def reboot(self) -> None:
        """Ask the device to reboot; returns once the link has dropped or the request was sent."""
        ...

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until the device answers commands again (and boot-completed where the link knows it);
        raise NotReady past the deadline."""
        ...

    def close(self) -> None: ...


def monotonic() -> float:
    return time.monotonic()
