"""`harness devices` reports every link of a device, not only the primary: the commonest lab diagnosis
is a board whose console answers while its SSH is down. Real OpenSSH sshd and real consoles (a shell
behind a login prompt on a pty)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.lab.peers.console import ConsolePeer
from harness.lab.peers.sshd import OpenSshServer
from harness.waiting import free_port

pytestmark = [pytest.mark.peer("sshd"), pytest.mark.peer("console")]


@pytest.fixture(scope="module")
def sshd() -> Iterator[OpenSshServer]:
    if not os.path.exists("/usr/sbin/sshd"):
        pytest.skip("OpenSSH server (sshd) is not installed")
    with OpenSshServer() as server:
        yield server


@pytest.fixture(scope="module")
def consoles() -> Iterator[tuple[ConsolePeer, ConsolePeer]]:
    # respawn: a login program again after the harness logs out (close() leaves the console as found).
    with ConsolePeer(respawn=True) as first, ConsolePeer(respawn=True) as second:  # one per device
        yield first, second


@pytest.fixture
def inventory(tmp_path: Path, sshd: OpenSshServer, consoles: tuple[ConsolePeer, ConsolePeer]) -> Path:
    up, console_only = consoles
    ssh = (f'user = "{sshd.user}", key_file = "{sshd.client_key}", host_key = "{sshd.fingerprint}", '
           "connect_timeout = 3")
    path = tmp_path / "devices.toml"
    path.write_text(
        f'[devices.all-up]\nkind = "board"\nprofile = "generic-linux"\n'
        f'ssh = {{ host = "127.0.0.1", port = {sshd.port}, {ssh} }}\n'
        f'serial = {{ port = "{up.path}", user = "{up.user}", password = "{up.password}" }}\n\n'
        f'[devices.ssh-down]\nkind = "board"\nprofile = "generic-linux"\n'
        f'ssh = {{ host = "127.0.0.1", port = {free_port()}, {ssh} }}\n'
        f'serial = {{ port = "{console_only.path}", user = "{console_only.user}", '
        f'password = "{console_only.password}" }}\n'
    )
    return path


def harness(inventory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "-i", str(inventory), *args],
                          capture_output=True, text=True, timeout=120)


def test_devices_json_gives_the_state_of_every_link(inventory: Path) -> None:
    out = harness(inventory, "devices", "--json", "--timeout", "15")
    assert out.returncode == 3, out.stderr  # a link is down: lab trouble
    records = {r["name"]: r for r in json.loads(out.stdout)}
    up, down = records["all-up"], records["ssh-down"]
    assert up["reachable"] is True and up["identity"] is not None
    assert up["link_states"] == {"ssh": {"reachable": True, "error": None},
                                 "serial": {"reachable": True, "error": None}}
    assert down["reachable"] is False  # its primary (ssh) is down...
    assert down["link_states"]["serial"] == {"reachable": True, "error": None}  # ...its console answers
    assert down["link_states"]["ssh"]["reachable"] is False
    assert "ConnectFailed" in down["link_states"]["ssh"]["error"]


def test_devices_table_shows_each_link(inventory: Path) -> None:
    out = harness(inventory, "devices", "--timeout", "15")
    assert out.returncode == 3, out.stderr
    rows = {line.split("│")[1].strip(): line for line in out.stdout.splitlines()
            if line.count("│") > 3 and line.split("│")[1].strip() in ("all-up", "ssh-down")}
    assert "ssh up" in rows["all-up"] and "serial up" in rows["all-up"]
    assert "ssh down" in rows["ssh-down"] and "serial up" in rows["ssh-down"]
    assert "ConnectFailed" in rows["ssh-down"]
