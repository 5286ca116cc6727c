"""The link registry: every kind the inventory parses is one record that `--via`, `harness devices`,
preflight, the transport factory and the lab all read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from harness.cli.exec_cmd import VIA
from harness.cli.run_cmd import retry, run
from harness.config_check import Where
from harness.errors import ConfigError
from harness.inventory import parse_inventory
from harness.lab import lab_config
from harness.lab.lab_config import SIMULATED_LINKS
from harness.links import LINKS
from harness.preflight import check_link
from harness.profiles import load_profile
from harness.specs import DeviceSpec, SshSpec
from harness.transports import open_transport
from harness.transports.base import Transport

# One table per kind, as a user writes it; a kind without one here fails test_every_kind_is_here.
TABLES = {
    "ssh": 'host = "10.0.0.2"\nuser = "root"\npassword = "a-long-enough-secret-9"',
    "adb": 'serial = "emulator-5554"\nserver = "127.0.0.1:15037"',
    "hdc": 'target = "10.0.0.3:8710"\nconnect = "10.0.0.3:8710"',
    "serial": 'port = "socket://127.0.0.1:27211"\nbaud = 9600',
}
DESCRIBED = {
    "ssh": "root@10.0.0.2:22",
    "adb": "emulator-5554 @ 127.0.0.1:15037",
    "hdc": "10.0.0.3:8710 @ 127.0.0.1:8710",
    "serial": "socket://127.0.0.1:27211 9600",
}


def inventory(tmp_path: Path, kinds: list[str]) -> str:
    text = '[devices.dut]\nkind = "board"\nprofile = "generic-linux"\n'
    return text + "".join(f"[devices.dut.{k}]\n{TABLES[k]}\n" for k in kinds)


def test_every_kind_is_here() -> None:
    assert list(LINKS.names()) == ["ssh", "adb", "hdc", "serial"]  # the order of preference
    assert set(TABLES) == set(LINKS.names()) == set(DESCRIBED)


@pytest.mark.parametrize("kind", LINKS.names())
def test_each_kind_parses_describes_and_opens(tmp_path: Path, kind: str) -> None:
    spec = parse_inventory(inventory(tmp_path, [kind]), tmp_path / "devices.toml").get("dut")
    link = LINKS.get(kind)
    assert spec.transports == [kind] and isinstance(spec.links[kind], link.spec_class)
    assert link.describe(spec.links[kind]) == DESCRIBED[kind]
    assert "secret" not in link.describe(spec.links[kind])
    transport = open_transport(spec)  # built, not connected: nothing listens at these addresses
    assert isinstance(transport, Transport) and transport.kind == kind
    assert LINKS.of_spec(spec.links[kind]) is link


def test_links_are_listed_in_the_registry_order(tmp_path: Path) -> None:
    spec = parse_inventory(inventory(tmp_path, ["serial", "hdc", "ssh"]), tmp_path / "devices.toml").get("dut")
    assert spec.transports == ["ssh", "hdc", "serial"] and spec.primary_transport == "ssh"
    assert list(DeviceSpec("d", "board", "generic-linux", links={"serial": spec.serial, "ssh": spec.ssh}).links) \
        == ["ssh", "serial"]
    with pytest.raises(ValueError, match="not link kinds: telnet"):
        DeviceSpec("d", "board", "generic-linux", links={"telnet": object()})


def test_a_table_error_names_the_device_and_the_key(tmp_path: Path) -> None:
    text = inventory(tmp_path, ["adb"]).replace('serial = "emulator-5554"', 'serail = "x"')
    with pytest.raises(ConfigError) as err:
        parse_inventory(text, tmp_path / "devices.toml")
    assert str(err.value) == (f"{tmp_path / 'devices.toml'}: device 'dut', key 'adb.serail' = 'x': "
                              "unknown key (did you mean 'serial'?)")
    with pytest.raises(ConfigError, match="at least one transport table: ssh, adb, hdc or serial"):
        parse_inventory(inventory(tmp_path, []), tmp_path / "devices.toml")


def test_preflight_asks_the_kind(tmp_path: Path) -> None:
    spec = LINKS.get("ssh").parse({"host": "h", "key_file": "missing"}, Where(tmp_path, "device 'd'", "ssh"),
                                  tmp_path)
    dut = DeviceSpec("d", "board", "generic-linux", links={"ssh": spec}, source=tmp_path / "devices.toml")
    with pytest.raises(ConfigError, match=r"key 'ssh.key_file' = .*missing.*: ssh key file does not exist"):
        check_link(dut)
    assert isinstance(dut.ssh, SshSpec) and dut.adb is None


def test_every_via_choice_is_the_registry() -> None:
    assert tuple(VIA.choices) == LINKS.names()
    for command in (run, retry):
        via = next(p for p in command.params if p.name == "via")
        assert isinstance(via.type, click.Choice) and tuple(via.type.choices) == LINKS.names()


def test_the_plugin_takes_every_kind(tmp_path: Path) -> None:
    (tmp_path / "test_via.py").write_text(
        "def test_via(pytestconfig):\n    assert pytestconfig.getoption('harness_via') == 'hdc'\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--via", "hdc",
                           "test_via.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_lab_simulates_only_registered_kinds() -> None:
    assert set(SIMULATED_LINKS) <= set(LINKS.names())


def test_each_kind_sees_the_profile_over_its_link() -> None:
    # HarmonyOS NEXT over hdc: its own boot-completed parameter (the profile's [links.hdc]).
    profile = load_profile("harmonyos").for_link("hdc")
    spec = LINKS.get("hdc").parse({"target": "X1"}, Where(Path("d.toml"), None, "hdc"), Path("."))
    transport = LINKS.get("hdc").open(spec, profile)
    assert transport.boot_completed_prop == (profile.boot_completed_prop or "bootevent.boot.completed")


def test_the_lab_refuses_a_link_it_does_not_simulate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As it would a kind registered without a simulated server (the lab's list is its own).
    monkeypatch.setattr(lab_config, "SIMULATED_LINKS", ("ssh",))
    text = inventory(tmp_path, ["adb"]).replace('server = "127.0.0.1:15037"',
                                                'server = "127.0.0.1:15037"\nconnect = "127.0.0.1:27100"')
    text = text.replace('serial = "emulator-5554"', 'serial = "127.0.0.1:27100"')
    text += '[lab.devices.dut]\npersona = "kylin-v10"\n'
    with pytest.raises(ConfigError) as err:
        parse_inventory(text, tmp_path / "devices.toml")
    assert str(err.value) == (f"{tmp_path / 'devices.toml'}: device 'dut', key 'adb' = "
                              "'127.0.0.1:27100 @ 127.0.0.1:15037': "
                              "the lab does not simulate adb links (it simulates ssh)")
