"""harness.power: the inventory's `power` table, and the switches driven by it. The command switch runs
real commands on this host; the socket switch's peers are the simulated lab's device processes
(tests/test_lab_recovery.py) and the QEMU tier's board (tests/test_suites_qemu.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError, TransportError
from harness.inventory import parse_inventory
from harness.power import CommandSwitch, PowerError, PowerSpec, SocketSwitch, open_switch

DEVICE = """
[devices.board]
kind = "board"
profile = "openeuler"
ssh = { host = "10.0.0.5" }
"""


def inventory(tmp_path: Path, power: str) -> PowerSpec | None:
    path = tmp_path / "devices.toml"
    return parse_inventory(DEVICE + (f"power = {power}\n" if power else ""), path).get("board").power


def test_a_device_without_a_power_table_has_no_power_control(tmp_path: Path) -> None:
    assert inventory(tmp_path, "") is None


def test_commands_and_sockets(tmp_path: Path) -> None:
    spec = inventory(tmp_path, '{ off = "relay 3 off", on = "relay 3 on", off_seconds = 4 }')
    assert spec == PowerSpec(off="relay 3 off", on="relay 3 on", off_seconds=4.0)
    assert isinstance(open_switch(spec), CommandSwitch)
    sock = inventory(tmp_path, '{ socket = "lab/run/board.sock" }')
    assert sock == PowerSpec(socket=tmp_path / "lab/run/board.sock")  # relative to the inventory
    assert isinstance(open_switch(sock), SocketSwitch)
    assert sock.describe() == f"socket {tmp_path / 'lab/run/board.sock'}"


@pytest.mark.parametrize(("power", "words"), [
    ('{ off = "relay off" }', ["key 'power.on' = None", "required key is missing"]),
    ('{ socket = "s.sock", on = "x" }', ["key 'power.on'", "give either socket or off and on, not both"]),
    ('{ off = "a", on = "b", off_seconds = nan }', ["key 'power.off_seconds' = nan", "from 0 to 3600"]),
    ('{ off = "a", on = "b", of_seconds = 1 }', ["power.of_seconds", "did you mean 'off_seconds'"]),
    # "power" is close enough to "password" that the value is kept out of the message, as for any such key.
    ('"pdu3"', ["key 'power' = <str, not shown>: expected a table"]),
])
def test_bad_power_tables_are_one_line(tmp_path: Path, power: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        inventory(tmp_path, power)
    message = str(caught.value)
    assert "\n" not in message and "device 'board'" in message
    for word in words:
        assert word in message, message


def test_the_command_switch_runs_the_lab_hosts_commands(tmp_path: Path) -> None:
    state = tmp_path / "outlet"
    switch = CommandSwitch(PowerSpec(off=f"echo off > {state}", on=f"echo on > {state}"))
    switch.power_off()
    assert state.read_text() == "off\n"
    switch.power_on()
    assert state.read_text() == "on\n"


def test_a_failing_switch_is_lab_trouble(tmp_path: Path) -> None:
    broken = CommandSwitch(PowerSpec(off="echo 'outlet 3: no answer' >&2; exit 7", on="true"))
    with pytest.raises(PowerError, match=r"power off: .* exited 7: outlet 3: no answer") as caught:
        broken.power_off()
    assert isinstance(caught.value, TransportError)  # an ERROR of the test, never a FAIL
    slow = CommandSwitch(PowerSpec(off="true", on="sleep 5", timeout=0.2))
    with pytest.raises(PowerError, match="ran past 0.2s"):
        slow.power_on()
    missing = SocketSwitch(PowerSpec(socket=tmp_path / "no.sock"))
    with pytest.raises(PowerError, match="did not answer"):
        missing.power_off()


def test_a_simulated_devices_power_socket_must_be_its_control_socket(tmp_path: Path) -> None:
    from .lab_inventory import write_lab

    inventory, _ = write_lab(tmp_path, only=("euler-ft2000",))
    parse_inventory(inventory.read_text(), inventory)  # as written: state/run/euler-ft2000.sock
    inventory.write_text(inventory.read_text().replace("state/run/euler-ft2000.sock", "state/run/other.sock"))
    with pytest.raises(ConfigError) as caught:
        parse_inventory(inventory.read_text(), inventory)
    message = str(caught.value)
    assert "\n" not in message and "device 'euler-ft2000', key 'power.socket'" in message, message
    assert f"power switch is its control socket {tmp_path / 'state/run/euler-ft2000.sock'}" in message, message
