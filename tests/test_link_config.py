"""Link settings that would only fail once a command connects (a key file that is not there, a serial URL
pyserial cannot open, an adb server that is no host:port, --via naming a link the device lacks) are
refused before anything happens: one line, exit 2, no run folder, no bundle, no lock taken."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.inventory import parse_inventory
from harness.waiting import free_port

BOARD = """
[devices.board]
kind = "board"
profile = "generic-linux"
ssh = {{ host = "127.0.0.1", port = {port}, user = "root", key_file = "{key}", connect_timeout = 2 }}
"""


def harness(tmp_path: Path, inventory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HARNESS_LOCK_DIR": str(tmp_path / "locks"),
           "HARNESS_KEY_DIR": str(tmp_path / "keys")}
    return subprocess.run([sys.executable, "-m", "harness", "-i", str(inventory), *args], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=120)


def _written(tmp_path: Path) -> list[str]:
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.name != "devices.toml")


def _one_line(out: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    for part in parts:
        assert part in lines[0], (part, lines[0])


@pytest.mark.parametrize("command", [
    ("run", "smoke", "--device", "board", "--reports", "reports"),
    ("exec", "board", "--", "true"),
    ("pull", "board", "/etc/hostname", "here"),
    ("devices", "board"),
])
def test_a_missing_key_file_is_refused_before_anything_is_written(tmp_path: Path, command: tuple[str, ...]) -> None:
    missing = tmp_path / "no-such-key"
    inventory = tmp_path / "devices.toml"
    inventory.write_text(BOARD.format(port=free_port(), key=missing))
    out = harness(tmp_path, inventory, *command)
    _one_line(out, str(inventory), "'board'", "ssh.key_file", str(missing), "does not exist")
    assert _written(tmp_path) == []


@pytest.mark.parametrize(("command", "link"), [
    (("run", "smoke", "--device", "board", "--via", "serial", "--reports", "reports"), "serial"),
    (("exec", "board", "--via", "adb", "--", "true"), "adb"),
])
def test_via_a_link_the_device_lacks_is_refused_before_anything_is_written(
    tmp_path: Path, command: tuple[str, ...], link: str
) -> None:
    key = tmp_path / "key"
    key.write_text("not used")
    inventory = tmp_path / "devices.toml"
    inventory.write_text(BOARD.format(port=free_port(), key=key))
    out = harness(tmp_path, inventory, *command)
    _one_line(out, "'board'", f"no {link} link", "ssh")
    assert _written(tmp_path) == ["key"]


BAD_LINKS = [
    ('serial = { port = "ftp://lab-a:4001" }', ["serial.port", "'ftp://lab-a:4001'", "socket://", "rfc2217://"]),
    ('serial = { port = "socket://lab-a" }', ["serial.port", "'socket://lab-a'", "host:port"]),
    ('serial = { port = "rfc2217://:4001" }', ["serial.port", "host:port"]),
    ('adb = { serial = "X", server = "a/b:5037" }', ["adb.server", "'a/b:5037'"]),
    ('adb = { serial = "X", server = "-x" }', ["adb.server", "'-x'"]),
    ('adb = { serial = "X", connect = "10.0.0.7" }', ["adb.connect", "'10.0.0.7'", "host:port"]),
    ('ssh = { host = "root@10.0.0.7" }', ["ssh.host", "'root@10.0.0.7'"]),
]


@pytest.mark.parametrize(("link", "expected"), BAD_LINKS, ids=[b[0][:32] for b in BAD_LINKS])
def test_a_link_address_that_can_never_connect_is_refused_at_load(
    tmp_path: Path, link: str, expected: list[str]
) -> None:
    text = f'[devices.dut]\nkind = "board"\nprofile = "generic-linux"\n{link}\n'
    with pytest.raises(ConfigError) as caught:
        parse_inventory(text, tmp_path / "devices.toml")
    message = str(caught.value)
    assert "devices.toml" in message and "'dut'" in message
    for part in expected:
        assert part in message, (part, message)


GOOD_LINKS = [
    'serial = { port = "socket://127.0.0.1:4001" }',
    'serial = { port = "rfc2217://lab-a.example:4001?timeout=2" }',
    'serial = { port = "/dev/ttyUSB0" }',
    'adb = { serial = "X", server = "[::1]:5037", connect = "192.168.1.20:5555" }',
    'ssh = { host = "fe80::1" }',
    'ssh = { host = "board_07.lab" }',
]


@pytest.mark.parametrize("link", GOOD_LINKS)
def test_good_link_addresses_still_load(tmp_path: Path, link: str) -> None:
    text = f'[devices.dut]\nkind = "board"\nprofile = "generic-linux"\n{link}\n'
    assert parse_inventory(text, tmp_path / "devices.toml").get("dut")


def test_an_unset_password_variable_is_refused_before_connecting(tmp_path: Path) -> None:
    inventory = tmp_path / "devices.toml"
    inventory.write_text(f'[devices.board]\nkind = "board"\nprofile = "generic-linux"\n'
                         f'ssh = {{ host = "127.0.0.1", port = {free_port()}, password_env = "NO_SUCH_PW_VAR" }}\n')
    out = harness(tmp_path, inventory, "run", "smoke", "--device", "board", "--reports", "reports")
    _one_line(out, "'board'", "ssh.password_env", "NO_SUCH_PW_VAR", "not set")
    assert _written(tmp_path) == []
