"""The worker's link to its device: connect once, notice when a test broke the link, bring the device
back before the next test, and give up quickly (for every remaining test) when it does not come back."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from ..device import Device
from ..errors import CommandTimeout, ConnectFailed, ConnectionLost, HarnessError, NotReady, TransportError
from ..identity import Identity
from ..secrets import redact
from ..specs import DeviceSpec
from .outcome import describe

LINK_CHECK_TIMEOUT = 10.0


class DeviceUnreachable(ConnectFailed):
    """The device did not answer (first connect or after a drop); every later test errors with this."""

    plain_message = True  # the message already says "device unreachable: ..."


def breaks_link(exc: BaseException) -> bool:
    """Whether an error means the link (not just one command) is gone and needs a reconnect."""
    if isinstance(exc, ConnectionLost | ConnectFailed | NotReady):
        return True
    if isinstance(exc, CommandTimeout):
        return not exc.usable
    return isinstance(exc, TransportError) and not exc.usable


class DeviceLink:
    def __init__(
        self,
        spec: DeviceSpec,
        *,
        via: str | None = None,
        boot_timeout: float | None = None,
        on_identity: Callable[[Device, Identity], None] | None = None,
    ) -> None:
        self.spec = spec
        self.via = via
        self._boot_timeout = boot_timeout
        self._on_identity = on_identity
        self.device: Device | None = None
        self.unreachable: str | None = None
        # Set by what happened in a test; acted on before the next test that uses the device.
        self.needs_reconnect = False
        self.needs_check = False

    @property
    def boot_timeout(self) -> float:
        if self._boot_timeout is not None:
            return self._boot_timeout
        return self.device.profile.boot_time_budget if self.device else 120.0

    def ensure(self) -> Device:
        """The connected device, recovered if the last test broke the link; DeviceUnreachable if not."""
        if self.unreachable is not None:
            raise DeviceUnreachable(self.unreachable)
        if self.device is None:
            self._connect_first()
        elif self.needs_reconnect:
            self._recover()
        elif self.needs_check:
            self._check()
        assert self.device is not None
        return self.device

    def before_test(self) -> None:
        """Called before each test that uses the device; nothing to do before the first connect."""
        if self.device is not None or self.unreachable is not None:
            self.ensure()

    def note_error(self, exc: BaseException) -> None:
        if breaks_link(exc):
            self.needs_reconnect = True

    def _give_up(self, exc: BaseException) -> DeviceUnreachable:
        self.unreachable = redact(f"device unreachable: {describe(exc)}")
        return DeviceUnreachable(self.unreachable)

    def _connect_first(self) -> None:
        try:
            self.device = Device(self.spec, via=self.via)
            self.reprobe()
        except HarnessError as exc:
            raise self._give_up(exc) from exc

    def reprobe(self) -> Identity:
        """Read the identity again and journal it (after a reboot the build may differ)."""
        assert self.device is not None
        identity = self.device.identity(refresh=True)
        self.needs_reconnect = self.needs_check = False
        if self._on_identity is not None:
            self._on_identity(self.device, identity)
        return identity

    def _recover(self) -> None:
        """Close what is left of the link, wait (the boot budget) for the device to answer, re-probe."""
        assert self.device is not None
        try:
            self.device.close()
            self.device.transport.wait_ready(self.boot_timeout)
            self.reprobe()
        except HarnessError as exc:
            raise self._give_up(exc) from exc

    def _check(self) -> None:
        """After a timed-out test: a cheap command shows whether the link survived."""
        assert self.device is not None
        try:
            ok = self.device.run("true", timeout=min(LINK_CHECK_TIMEOUT, self.boot_timeout)).ok
        except TransportError:
            ok = False
        if ok:
            self.needs_check = False
        else:
            self._recover()

    def close(self) -> None:
        if self.device is not None:
            # Closing a dead link must not fail the end of the session.
            with contextlib.suppress(Exception):
                self.device.close()
