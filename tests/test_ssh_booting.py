"""Reaching an SSH device while it boots: a peer that accepts TCP and breaks off (at once, after the
banners, after the key exchange) for its first connections, then serves from a real OpenSSH sshd."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import ConnectFailed, TransportError
from harness.lab.peers.sshd import OpenSshServer
from harness.transports.ssh import SshTransport
from tests.booting_ssh_peer import MODES, BootingSshPeer

pytestmark = pytest.mark.peer("sshd")


@pytest.fixture(scope="module")
def sshd() -> Iterator[OpenSshServer]:
    if not os.path.exists("/usr/sbin/sshd"):
        pytest.skip("OpenSSH server (sshd) is not installed")
    with OpenSshServer() as server:
        yield server


def test_every_way_a_booting_device_breaks_off_is_connect_failed(sshd: OpenSshServer) -> None:
    rounds = 3 * len(MODES)
    with BootingSshPeer(sshd.port, broken=rounds) as peer:
        for _ in range(rounds):
            transport = SshTransport(sshd.spec(port=peer.port, host_key=sshd.fingerprint, connect_timeout=1))
            with pytest.raises(TransportError) as caught:
                transport.connect()
            # Not a paramiko SSHException ("No existing session") nor an EOFError escaping as is.
            assert isinstance(caught.value, ConnectFailed), repr(caught.value)
            assert f"{sshd.host}:{peer.port}" in str(caught.value)
            transport.close()
        assert not peer.booted
        with SshTransport(sshd.spec(port=peer.port, host_key=sshd.fingerprint)) as transport:
            assert transport.run("echo up", timeout=10).stdout == b"up\n"


def test_wait_ready_keeps_polling_through_the_boot(sshd: OpenSshServer) -> None:
    with BootingSshPeer(sshd.port, broken=2 * len(MODES)) as peer:
        transport = SshTransport(sshd.spec(port=peer.port, host_key=sshd.fingerprint, connect_timeout=1))
        transport.wait_ready(timeout=60)
        assert peer.booted and peer.connections > 2 * len(MODES)
        assert transport.run("echo ready", timeout=10).stdout == b"ready\n"
        transport.close()


def test_exec_on_a_booting_device_is_one_line_and_255(sshd: OpenSshServer, tmp_path: Path) -> None:
    modes = ("stall", "kex")  # the two that escaped as tracebacks (the others cost only time here)
    with BootingSshPeer(sshd.port, broken=1000, modes=modes) as peer:
        inventory = tmp_path / "devices.toml"
        inventory.write_text(
            f'[devices.board]\nkind = "board"\nprofile = "generic-linux"\n'
            f'ssh = {{ host = "127.0.0.1", port = {peer.port}, user = "{sshd.user}", '
            f'key_file = "{sshd.client_key}", host_key = "{sshd.fingerprint}", connect_timeout = 1 }}\n'
        )
        for _ in modes:
            out = subprocess.run([sys.executable, "-m", "harness", "-i", str(inventory), "exec", "board",
                                  "--", "true"], capture_output=True, timeout=60)
            assert out.returncode == 255, out.stderr
            assert out.stderr.count(b"\n") == 1 and b"Traceback" not in out.stderr
            assert b"ConnectFailed" in out.stderr
