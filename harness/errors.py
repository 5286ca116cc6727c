"""Typed errors. Lab trouble (TransportError and its kin) is kept apart from a command's own failure,
which is never an exception: it is a CommandResult with a non-zero exit code."""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""


class ConfigError(HarnessError):
    """Bad input from the user: inventory, flags, names. The CLI prints it as one line and exits 2."""


class TransportError(HarnessError):
    """Lab trouble on a link to a device. `usable` says whether the transport can take another command."""

    usable: bool = False

    def __init__(self, message: str, *, usable: bool | None = None) -> None:
        super().__init__(message)
        if usable is not None:
            self.usable = usable


class ConnectionLost(TransportError):
    """The link dropped (before, during or after a command)."""


class ConnectFailed(TransportError):
    """The device could not be reached at all (refused, unreachable, DNS, adb device offline)."""


class AuthFailed(TransportError):
    """Wrong password or key, or a login the device refused."""


class HostKeyMismatch(TransportError):
    """The SSH host key is unknown or differs from the pinned one / known_hosts."""


class CommandTimeout(TransportError):
    """A command ran past its timeout. The remote command has been stopped; `usable` says whether the
    transport is still fit for the next command. Partial output is kept."""

    def __init__(
        self,
        message: str,
        *,
        usable: bool,
        stdout: bytes = b"",
        stderr: bytes = b"",
        timeout: float = 0.0,
    ) -> None:
        super().__init__(message, usable=usable)
        self.stdout = stdout
        self.stderr = stderr
        self.timeout = timeout


class TransferError(TransportError):
    """A push or pull failed or arrived damaged (checksum mismatch, missing remote file)."""

    usable = True


class NotReady(TransportError):
    """The device did not come back (boot-completed) within the deadline."""


def describe_os_error(exc: OSError) -> str:
    """An OSError of the host (a full disk, a missing folder) as one line: what, and on which file."""
    what = (exc.strerror or str(exc) or type(exc).__name__).lower()
    where = exc.filename if exc.filename is not None else None
    return f"{what}: {where}" if where is not None else what
