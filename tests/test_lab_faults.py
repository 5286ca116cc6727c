"""Fault injection in the simulated lab, set at run time over the device's control channel: every fault
ends in the transport's typed error or a clean resync, never in a hang past the timeout."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import AuthFailed, CommandTimeout, ConnectionLost, NotReady, TransferError, TransportError
from harness.lab.faults import Faults
from harness.lab.lab import Lab
from harness.transports import open_transport
from harness.transports.base import Transport
from harness.waiting import poll_until

from .lab_inventory import CONSOLE_PASSWORD, read_until, write_lab

DEVICES = ("euler-ft2000", "handset-hmos", "ohos-rk3568")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    inventory, _ = write_lab(tmp_path_factory.mktemp("faultlab"), boot_time=0.3, only=DEVICES)
    with Lab(inventory) as the_lab:
        yield the_lab


@pytest.fixture(autouse=True)
def healthy(lab: Lab) -> Iterator[None]:
    """Each test starts and leaves every device without faults and up."""
    yield
    for name in DEVICES:
        lab.set_faults(name, Faults())
    # A boot in progress ends up or failed; only a failed boot needs the power button.
    poll_until(lambda: all(s["state"] in ("up", "failed") for s in lab.status()), 10, what="boots to end")
    for status in lab.status():
        if status["state"] == "failed":
            lab.reboot(status["name"])
    poll_until(lambda: all(s["state"] == "up" for s in lab.status()), 10, what="every device up again")


def link(lab: Lab, name: str, kind: str) -> Transport:
    return open_transport(lab.inventory.get(name), kind)


def boots(lab: Lab, name: str) -> int:
    return next(int(s["boots"]) for s in lab.status() if s["name"] == name)


def reboot_and_wait(lab: Lab, name: str) -> None:
    """Power-cycle and wait for that boot's end (a state "up" alone may still be the old boot's)."""
    before = boots(lab, name)
    lab.reboot(name)
    poll_until(lambda: boots(lab, name) > before, 15, what=f"{name} booted again")


# The upper bound of a wait that would otherwise never end (a hang, a failed boot): many times the
# waits' own 0.8-2 s timeouts, so a loaded machine stays inside it and a timeout not honoured does not.
HANG_BOUND = 30.0

LINKS = [("euler-ft2000", "ssh"), ("handset-hmos", "adb"), ("ohos-rk3568", "serial")]
IDS = ["ssh", "adb", "serial"]


@pytest.mark.parametrize(("name", "kind"), LINKS, ids=IDS)
def test_latency_delays_every_command(lab: Lab, name: str, kind: str) -> None:
    dut = link(lab, name, kind)
    try:
        dut.run("true", 10)  # connected and logged in before the fault
        lab.set_faults(name, Faults(latency_ms=400))
        started = time.monotonic()
        assert dut.run("echo slow", 10).stdout_text.strip() == "slow"
        # Load only lengthens a command, so the lower bound is the test; the run's own timeout (10 s)
        # bounds it from above.
        assert time.monotonic() - started >= 0.4
    finally:
        dut.close()


@pytest.mark.parametrize(("name", "kind"), LINKS, ids=IDS)
def test_hang_ends_in_a_timeout_within_its_deadline(lab: Lab, name: str, kind: str) -> None:
    dut = link(lab, name, kind)
    try:
        dut.run("true", 10)
        lab.set_faults(name, Faults(hang_commands=["never-ends"]))
        started = time.monotonic()
        with pytest.raises(CommandTimeout) as err:
            dut.run("echo never-ends", 1.0)
        # The hang never answers: ending at all is the timeout's doing; not before it, and far from
        # never (HANG_BOUND is a margin for a loaded machine, not a speed requirement).
        assert 1.0 <= time.monotonic() - started < HANG_BOUND
        if err.value.usable:
            assert dut.run("echo after", 10).stdout_text.strip() == "after"
        assert kind == "adb" or err.value.usable  # ssh and the console resync
    finally:
        dut.close()


def test_drop_after_commands_loses_the_ssh_connection(lab: Lab) -> None:
    dut = link(lab, "euler-ft2000", "ssh")
    try:
        lab.set_faults("euler-ft2000", Faults(drop_after_commands=2))
        assert dut.run("echo 1", 10).ok and dut.run("echo 2", 10).ok
        with pytest.raises(ConnectionLost):
            dut.run("echo 3", 10)
    finally:
        dut.close()


@pytest.mark.parametrize(("name", "kind"), [("euler-ft2000", "ssh"), ("handset-hmos", "adb"),
                                            ("euler-ft2000", "serial")], ids=["ssh", "adb", "serial-socket"])
def test_drop_mid_output_is_connection_lost(lab: Lab, name: str, kind: str) -> None:
    dut = link(lab, name, kind)
    try:
        dut.run("true", 10)
        lab.set_faults(name, Faults(drop_mid_output=True))
        started = time.monotonic()
        with pytest.raises(TransportError) as err:
            dut.run("seq 1 200000", HANG_BOUND)
        assert isinstance(err.value, ConnectionLost | CommandTimeout)
        # Seen as the drop, not left to the run's timeout: it ends well before that timeout.
        assert time.monotonic() - started < HANG_BOUND / 2
    finally:
        dut.close()


def test_console_garbage_then_clean_login(lab: Lab) -> None:
    """Noise on the line at power-on and before the login prompt; the console driver still logs in."""
    lab.set_faults("euler-ft2000", Faults(console_garbage=True))
    lab.reboot("euler-ft2000")
    dut = link(lab, "euler-ft2000", "serial")
    try:
        dut.wait_ready(15)
        assert dut.run("for i in 1 2 3; do echo $i; done | wc -l", 10).stdout_text.strip() == "3"
    finally:
        dut.close()
    # The noise was real: a raw client sees it when it attaches.
    spec = lab.inventory.get("euler-ft2000").serial
    assert spec is not None
    with socket.create_connection(("127.0.0.1", int(spec.port.rsplit(":", 1)[1]))) as raw:
        raw.settimeout(5)
        noise = raw.recv(4096)
    assert any(c < 0x20 and c not in b"\r\n" or c >= 0x7F for c in noise), noise


def test_kmsg_interleave_shows_raw_and_is_silenced_by_the_driver(lab: Lab) -> None:
    lab.set_faults("ohos-rk3568", Faults(kmsg_interleave=True))
    port = lab.config.devices["ohos-rk3568"].console_port or 0
    with socket.create_connection(("127.0.0.1", port)) as raw:
        # printk back on the console, as after a boot. Wait for what only the shell prints (the echo of
        # the typed line says "level-$((3+4))"): the level must be set before the next line is typed.
        raw.sendall(b"dmesg -n 7; echo level-$((3+4))\r")
        read_until(raw, b"level-7", 10)
        raw.sendall(b"seq 1 40 | sed 's/^/n=/'\r")
        seen = read_until(raw, b"n=40", 10)
    assert re.search(rb"\[ *\d+\.\d{6}\] ", seen), seen  # a kernel line amid the command's output
    dut = link(lab, "ohos-rk3568", "serial")  # its setup lowers the console log level (dmesg -n 1)
    try:
        out = dut.run("seq 1 300", 10).stdout_text
        assert out == "".join(f"{i}\n" for i in range(1, 301))
    finally:
        dut.close()


@pytest.mark.parametrize(("name", "kind"), LINKS, ids=IDS)
def test_slow_boot_then_ready(lab: Lab, name: str, kind: str) -> None:
    dut = link(lab, name, kind)
    try:
        dut.run("true", 10)
        lab.set_faults(name, Faults(slow_boot_s=2.0))
        dut.reboot()
        started = time.monotonic()
        with pytest.raises(NotReady):
            dut.wait_ready(0.8)
        # Not ready within 0.8 s of a 2 s boot: a wait past its own timeout would have seen the device
        # up and returned instead of raising; and the wait did last its timeout.
        assert time.monotonic() - started >= 0.8
        dut.wait_ready(15)
        assert dut.run("echo back", 10).stdout_text.strip() == "back"
    finally:
        dut.close()


@pytest.mark.parametrize(("name", "kind"), LINKS, ids=IDS)
def test_failed_boot_is_not_ready(lab: Lab, name: str, kind: str) -> None:
    dut = link(lab, name, kind)
    try:
        dut.run("true", 10)
        lab.set_faults(name, Faults(fail_boot=True))
        dut.reboot()
        started = time.monotonic()
        with pytest.raises(NotReady):
            dut.wait_ready(2.0)
        # A failed boot never gets ready: ending at all is the wait's own timeout.
        assert 2.0 <= time.monotonic() - started < HANG_BOUND
        assert next(s for s in lab.status() if s["name"] == name)["state"] == "failed"
    finally:
        dut.close()


@pytest.mark.parametrize(("name", "kind", "remote"), [("euler-ft2000", "ssh", "/data/big.bin"),
                                                     ("handset-hmos", "adb", "/data/local/tmp/big.bin")])
def test_truncated_transfer_is_a_transfer_error(lab: Lab, tmp_path: Path, name: str, kind: str,
                                                remote: str) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(b"x" * 100_000)
    dut = link(lab, name, kind)
    try:
        dut.run("true", 10)
        lab.set_faults(name, Faults(truncate_transfers=True))
        with pytest.raises(TransferError):
            dut.push(src, remote)
        # Nothing half-written at the target, nor a temporary file left beside it.
        folder = remote.rsplit("/", 1)[0]
        assert "big.bin" not in dut.run(f"ls -a {folder}", 10).stdout_text
    finally:
        dut.close()


@pytest.mark.parametrize("kind", ["ssh", "serial"])
def test_auth_failure(lab: Lab, kind: str) -> None:
    lab.set_faults("euler-ft2000", Faults(auth_fail=True))
    if kind == "serial":
        # A console stays logged in after its client goes, as a UART does (an earlier test may have left
        # a shell on it): only a boot brings the login prompt back, where the password is asked for.
        reboot_and_wait(lab, "euler-ft2000")
    dut = link(lab, "euler-ft2000", kind)
    try:
        with pytest.raises(AuthFailed) as err:
            dut.run("true", 10)
        assert CONSOLE_PASSWORD not in str(err.value)
    finally:
        dut.close()
