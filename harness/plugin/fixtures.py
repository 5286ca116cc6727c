"""The `dut` fixture: the device under test, as a suite author sees it. Every command it runs is
recorded as evidence in the current test's record."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest

from ..errors import ConfigError, NotReady, TransportError
from ..identity import Identity
from ..power import open_switch
from ..profiles import Profile
from ..results.model import Evidence, Metric
from ..secrets import mask_output
from ..specs import DeviceSpec
from ..transports.base import CommandResult, OutputCallback, Transport
from ..waiting import Deadline, poll_until
from .evidence import make_evidence
from .link import DeviceLink
from .outcome import describe
from .suite_fixtures import NEEDS_DEVICE

DEFAULT_COMMAND_TIMEOUT = 60.0
BOOT_ID = "cat /proc/sys/kernel/random/boot_id"
# How long one look at a device going down may take: a link to a crashed device hangs, not closes.
RESET_PROBE_TIMEOUT = 10.0


def wait_new_boot(transport: Transport, before: str, timeout: float) -> str:
    """Poll the boot id until it differs from `before` (the link dropping on the way is expected); the
    new boot id. NotReady past the deadline."""
    deadline = Deadline(timeout)

    def new_boot() -> str | None:
        try:
            result = transport.run(BOOT_ID, timeout=min(RESET_PROBE_TIMEOUT, max(deadline.remaining(), 1.0)))
        except TransportError:
            transport.close()  # down, or a link to the old boot: the next look connects afresh
            with contextlib.suppress(TransportError):
                transport.wait_ready(max(deadline.remaining(), 1.0))
            return None
        now = result.stdout_text.strip()
        return now if result.ok and now and now != before else None

    try:
        return poll_until(new_boot, timeout, interval=0.5, what="a new boot")
    except TimeoutError:
        raise NotReady(f"no new boot within {timeout:g}s (boot id still {before!r} or no answer)") from None


class Recorder(Protocol):
    """Where a Dut puts what it saw: the current test's record (and the command log)."""

    def add_evidence(self, evidence: Evidence, stdout: bytes, stderr: bytes) -> None: ...

    def add_metric(self, metric: Metric) -> None: ...

    def note_identity(self) -> None: ...


class Dut:
    def __init__(self, link: DeviceLink, recorder: Recorder) -> None:
        self._link = link
        self._recorder = recorder

    # -- what the device is --------------------------------------------------------------------

    @property
    def spec(self) -> DeviceSpec:
        return self._link.spec

    @property
    def name(self) -> str:
        return self._link.spec.name

    @property
    def profile(self) -> Profile:
        return self._link.ensure().profile

    @property
    def transport(self) -> Transport:
        """The raw link, for what `run` cannot do; nothing done through it is recorded."""
        return self._link.ensure().transport

    def identity(self, refresh: bool = False) -> Identity:
        """What the device reported about itself (probed at connect, journaled): device evidence."""
        device = self._link.ensure()
        identity = device.identity(refresh=refresh)
        self._recorder.note_identity()
        return identity

    # -- doing things, with evidence -----------------------------------------------------------

    def run(
        self, cmd: str, timeout: float = DEFAULT_COMMAND_TIMEOUT, *, on_output: OutputCallback | None = None
    ) -> CommandResult:
        """Run a shell command; a non-zero exit is a result. Lab trouble is recorded, then raised."""
        device = self._link.ensure()
        started, t0 = time.time(), time.monotonic()
        try:
            result = device.transport.run(cmd, timeout, on_output=on_output)
        except TransportError as exc:
            self._link.note_error(exc)
            out = mask_output(getattr(exc, "stdout", b"") or b"", cmd)
            err = mask_output(getattr(exc, "stderr", b"") or b"", cmd)
            self._record(cmd, started, time.monotonic() - t0, None, out, err, error=describe(exc))
            raise
        except BaseException as exc:  # per-test timeout, Ctrl-C: the command did not finish
            self._record(cmd, started, time.monotonic() - t0, None, b"", b"", error=describe(exc))
            raise
        # A command that carried a secret may echo it: the suite, its messages and the records get its
        # output masked; other output is masked only where an assignment hands a secret over.
        out, err = mask_output(result.stdout, cmd), mask_output(result.stderr, cmd)
        if out is not result.stdout or err is not result.stderr:  # nothing masked: the same bytes
            result = dataclasses.replace(result, stdout=out, stderr=err)
        self._record(
            cmd, started, result.duration, result.exit_code, result.stdout, result.stderr, result.truncated
        )
        return result

    def push(self, local: Path, remote: str, timeout: float = DEFAULT_COMMAND_TIMEOUT) -> None:
        self._transfer(f"[push] {local} -> {remote}", lambda t: t.push(Path(local), remote, timeout))

    def pull(self, remote: str, local: Path, timeout: float = DEFAULT_COMMAND_TIMEOUT) -> None:
        self._transfer(f"[pull] {remote} -> {local}", lambda t: t.pull(remote, Path(local), timeout))

    def reboot_and_wait(self, timeout: float | None = None) -> Identity:
        """Reboot, wait until the device answers (default: the profile's boot budget), re-read its
        identity. Until that succeeds the link counts as broken, so the next test reconnects."""
        self._link.ensure()
        budget = timeout if timeout is not None else self._link.boot_timeout
        self._link.needs_reconnect = True

        def reboot(transport: Transport) -> None:
            transport.reboot()
            transport.wait_ready(budget)

        self._transfer(f"[reboot] wait up to {budget:g}s", reboot)
        return self._link.reprobe()  # journaled: a reboot into another build shows in the results

    def power_cycle_and_wait(self, timeout: float | None = None) -> Identity:
        """Cut the device's power through the lab's switch (devices.toml `power`), hold it off for the
        switch's off_seconds, restore it and wait until the device answers (default: the boot budget).
        A device with no power control is the caller's SKIP; a switch that fails is lab trouble."""
        power = self.spec.power
        if power is None:
            raise ConfigError(f"device {self.name} has no power control (devices.toml power = {{...}})")
        self._link.ensure()
        budget = timeout if timeout is not None else self._link.boot_timeout
        self._link.needs_reconnect = True
        switch = open_switch(power)

        def cycle(transport: Transport) -> None:
            transport.close()  # the link dies with the power; do not wait for it to notice
            switch.power_off()
            time.sleep(power.off_seconds)  # the hold time the switch's table asks for, not a wait on an event
            switch.power_on()
            transport.wait_ready(budget)

        what = f"[power cycle] {power.describe()}, off {power.off_seconds:g}s, wait up to {budget:g}s"
        self._transfer(what, cycle)
        return self._link.reprobe()

    def wait_rebooted(self, command: str, settled: Callable[[CommandResult], bool],
                      timeout: float) -> CommandResult | None:
        """After something on the device should reset it by itself (a watchdog left unfed): drop the
        link and ask `command` over fresh connections until `settled(result)` says waiting is over (the
        device is in another boot, or waited for long enough), or `timeout` passes (None). The answer
        that settled it is recorded as evidence."""
        self._link.ensure()
        self._link.needs_reconnect = True
        deadline = Deadline(timeout)
        transport = self.transport

        def probe() -> CommandResult | None:
            transport.close()  # a link into the old boot would hang once the device resets
            try:
                transport.wait_ready(max(1.0, min(deadline.remaining(), 30.0)))
                result = transport.run(command, max(1.0, min(deadline.remaining(), 30.0)))
            except TransportError:
                return None
            return result if settled(result) else None

        try:
            result = poll_until(probe, timeout, interval=1.0, what=f"{self.name} to reboot by itself")
        except TimeoutError:
            return None
        self._record(command, time.time(), result.duration, result.exit_code, result.stdout, result.stderr)
        self._link.reprobe()
        return result
    def reset_and_wait(self, trigger: str, timeout: float | None = None) -> tuple[str, str]:
        """Make the device reset by itself (a forced kernel crash, a watchdog left unfed): run `trigger`
        detached a moment after the command returns, wait until the link drops or the boot id changes,
        then until the device answers again (default: the profile's boot budget). Returns the boot ids
        (before, after); NotReady (lab trouble) when it is not back in time or came back as the same boot."""
        before = self.run(BOOT_ID, timeout=30).stdout_text.strip()
        budget = timeout if timeout is not None else self._link.boot_timeout
        self._link.needs_reconnect = True
        self.run(f"(sleep 1; {trigger}) </dev/null >/dev/null 2>&1 &", timeout=30)
        seen: list[str] = []

        def back(transport: Transport) -> None:
            seen.append(wait_new_boot(transport, before, budget))

        self._transfer(f"[reset] {trigger}: wait up to {budget:g}s for a new boot", back)
        self._link.reprobe()
        return before, seen[0]

    def metric(
        self, name: str, value: float, unit: str = "", low: float | None = None, high: float | None = None
    ) -> Metric:
        metric = Metric(name=name, value=float(value), unit=unit, low=low, high=high)
        self._recorder.add_metric(metric)
        return metric

    def _transfer(self, what: str, action: Callable[[Transport], None]) -> None:
        device = self._link.ensure()
        started, t0 = time.time(), time.monotonic()
        try:
            action(device.transport)
        except TransportError as exc:
            self._link.note_error(exc)
            self._record(what, started, time.monotonic() - t0, None, b"", b"", error=describe(exc))
            raise
        except BaseException as exc:
            self._record(what, started, time.monotonic() - t0, None, b"", b"", error=describe(exc))
            raise
        self._record(what, started, time.monotonic() - t0, 0, b"", b"")

    def _record(
        self,
        cmd: str,
        started: float,
        duration: float,
        exit_code: int | None,
        stdout: bytes,
        stderr: bytes,
        truncated: bool = False,
        error: str | None = None,
    ) -> None:
        evidence = make_evidence(
            cmd,
            started=started,
            duration=duration,
            exit_code=exit_code,
            stdout=stdout,
            stderr=stderr,
            truncated=truncated,
            error=error,
        )
        self._recorder.add_evidence(evidence, stdout, stderr)

    def __repr__(self) -> str:
        return f"Dut({self.name})"


@pytest.fixture(scope="session")
def dut(request: pytest.FixtureRequest) -> Iterator[Dut]:
    """The connected device named by --device, its identity probed."""
    from .session import HarnessSession

    session = HarnessSession.of(request.config)
    if session.link is None:
        raise ConfigError(NEEDS_DEVICE)
    session.link.ensure()
    yield Dut(session.link, session)
