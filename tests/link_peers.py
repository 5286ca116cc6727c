"""Every link kind's real peers, behind one face for the transport contract (test_transport_contract.py):
a connected transport, a folder on the device and where it is on this host, what the kind promises
about stderr, and the devices it may reboot or never let become ready.

The peers are the link-specific tests' own: OpenSSH's sshd and dropbear, the real adb server with the
simulated adbd (shell_v2 and legacy), a socat pty console with its login program (as a path, and
through ser2net as socket:// and rfc2217://), the real hdc server with the real hdcd in a simulated
HarmonyOS NEXT handset. A new link kind adds its peer here: its `start_*`, its branch in start_peer and
its names in PEERS."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.lab.peers.adb_server import AdbServer
from harness.lab.peers.console import ConsolePeer
from harness.lab.peers.dropbear import DropbearServer
from harness.lab.peers.dropbear_build import DropbearUnavailable, ensure_dropbear
from harness.lab.peers.sshd import OpenSshServer
from harness.specs import AdbSpec, HdcSpec, SerialSpec
from harness.transports.adb import AdbTransport
from harness.transports.base import Transport
from harness.transports.hdc import HdcTransport
from harness.transports.serial import SerialTransport
from harness.transports.ssh import SshTransport
from harness.waiting import free_port

from .adb_peers import connected_adbd, require_adb

PASSWORD = "pw-Correct-horse-42"
MB = 1000 * 1000


@dataclass
class LinkPeer:
    name: str
    kind: str  # the link kind (harness.links)
    transport: Transport  # connected, shared by the module's tests
    remote_dir: str  # a writable folder on the device
    host_path: Callable[[str], Path]  # where a device path is on this host
    stderr_separate: bool  # the kind keeps stderr apart (False: merged into stdout, and said so)
    bulk: int  # bytes of output the tests move (rfc2217 queues every byte on its own: less)
    files: int  # bytes of a file the tests push and pull (a console moves them as base64 text)
    unwritable: str  # a device path no push can create
    # A transport to a device that never answers (ConnectFailed on first use).
    nowhere: Callable[[], Transport]
    # A transport whose reboot() then wait_ready(timeout) must give NotReady.
    never_ready: Callable[[], AbstractContextManager[Transport]]
    # While inside, a transfer of a few megabytes fails midway when given the timeout it yields:
    # one far too short for it, or (adb) the adbd's own fault: a transfer cut short that the device
    # calls complete (adb's whole-transfer deadline has tests of its own in test_adb_transport.py).
    cutting: Callable[[], AbstractContextManager[float]] = lambda: _too_short()


@contextmanager
def _too_short() -> Iterator[float]:
    yield 0.05


# -- ssh -------------------------------------------------------------------------------------------


def _require_sshd() -> None:
    if not os.path.exists("/usr/sbin/sshd") or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH server (sshd, ssh-keygen) is not installed")
    if os.geteuid() != 0:
        pytest.skip("the private sshd needs root for its clean HOME and test password")


@contextmanager
def start_ssh(program: str) -> Iterator[LinkPeer]:
    _require_sshd()
    with ExitStack() as stack:
        if program == "openssh":
            server: OpenSshServer | DropbearServer = stack.enter_context(OpenSshServer(password=PASSWORD))
        else:
            try:
                build = ensure_dropbear()
            except DropbearUnavailable as exc:
                pytest.skip(f"dropbear: {exc}")
            server = stack.enter_context(DropbearServer(password=PASSWORD, build=build))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="contract-ssh-")))
        booted = folder / "booted"
        # Like a real device, the "reboot" takes the link down (it kills its own sshd session).
        transport = SshTransport(server.spec(), reboot_command=f"touch {booted}; kill -9 $PPID",
                                 ready_command=f"test -e {booted}")
        stack.enter_context(transport)

        @contextmanager
        def never_ready() -> Iterator[Transport]:
            with SshTransport(server.spec(), reboot_command="kill -9 $PPID", ready_command="false") as t:
                yield t

        def nowhere() -> Transport:
            return SshTransport(server.spec(port=free_port(), connect_timeout=5))

        yield LinkPeer(name=f"ssh-{program}", kind="ssh", transport=transport, remote_dir=str(folder / "dev"),
                       host_path=Path, stderr_separate=True, bulk=10 * MB, files=3 * MB,
                       unwritable="/proc/harness-no",
                       nowhere=nowhere, never_ready=never_ready)


# -- adb -------------------------------------------------------------------------------------------


@contextmanager
def start_adb(mode: str, server: AdbServer) -> Iterator[LinkPeer]:
    shell_v2 = mode == "shell_v2"
    with connected_adbd(server, shell_v2=shell_v2, boot_time=0.3, boot_complete_delay=0.3) as adbd:
        transport = AdbTransport(AdbSpec(serial=adbd.serial, server_port=server.port, connect=adbd.serial))

        @contextmanager
        def never_ready() -> Iterator[Transport]:
            with connected_adbd(server, shell_v2=shell_v2, boot_time=0.2, boot_complete_delay=3600) as other:
                t = AdbTransport(AdbSpec(serial=other.serial, server_port=server.port, connect=other.serial))
                yield t
                t.close()

        def nowhere() -> Transport:
            return AdbTransport(AdbSpec(serial="NOSUCHDEVICE", server_port=server.port))

        @contextmanager
        def cutting() -> Iterator[float]:
            adbd.faults.truncate_transfers = True
            try:
                yield 30.0
            finally:
                adbd.faults.truncate_transfers = False

        try:
            yield LinkPeer(name=f"adb-{mode}", kind="adb", transport=transport,
                           remote_dir=str(adbd.ctx.scratch / "dev"), host_path=Path, stderr_separate=shell_v2,
                           bulk=10 * MB, files=3 * MB, unwritable="/proc/harness-no", nowhere=nowhere,
                           never_ready=never_ready, cutting=cutting)
        finally:
            transport.close()


@pytest.fixture(scope="module")
def contract_adb_server() -> Iterator[AdbServer]:
    """The adb server both adb peers are connected through."""
    require_adb()
    with AdbServer() as server:
        yield server


# -- serial ----------------------------------------------------------------------------------------


@contextmanager
def start_serial(way: str) -> Iterator[LinkPeer]:
    # One console per way in: ser2net and a direct user must never share a pty (both would read it).
    # It respawns its login when the shell ends, as a board's getty does after `reboot`.
    with ConsolePeer(ser2net=way != "pty", respawn=True) as peer, \
            tempfile.TemporaryDirectory(prefix="contract-serial-") as folder:
        transport = SerialTransport(peer.serial_spec(peer.url(way)), connect_timeout=15,
                                    ready_command="test -d /proc")
        transport.connect()

        @contextmanager
        def never_ready() -> Iterator[Transport]:
            before = transport.ready_command
            transport.ready_command = "false"
            try:
                yield transport
            finally:
                transport.ready_command = before

        def nowhere() -> Transport:
            port = f"socket://127.0.0.1:{free_port()}" if way != "pty" else f"{folder}/no-such-tty"
            return SerialTransport(SerialSpec(port=port), connect_timeout=5)

        @contextmanager
        def cutting() -> Iterator[float]:
            # A pull is one command whose output ser2net may already hold whole when the timeout
            # stops it (then it is the result): the pull is cut by its size limit instead.
            transport.pull_limit = 4096
            try:
                yield 0.05
            finally:
                del transport.pull_limit

        try:
            yield LinkPeer(name=f"serial-{way}", kind="serial", transport=transport,
                           remote_dir=f"{folder}/dev", host_path=Path, stderr_separate=True,
                           bulk={"pty": 4 * MB, "socket": 2 * MB, "rfc2217": MB // 5}[way],
                           files={"pty": 200_000, "socket": 100_000, "rfc2217": 10_000}[way],
                           unwritable="/proc/harness-no", nowhere=nowhere, never_ready=never_ready,
                           cutting=cutting)
        finally:
            transport.close()


# -- hdc -------------------------------------------------------------------------------------------


@contextmanager
def start_hdc(tmp: Path) -> Iterator[LinkPeer]:
    from harness.lab.faults import Faults
    from harness.lab.hdc.server import HdcServer

    from .hdc_peers import binaries, hdc_device, transport_for

    bins = binaries()
    with HdcServer(bins.hdc) as server, hdc_device(tmp / "device", server, bins) as device:
        transport = transport_for(device)
        remote_dir = "/data/local/tmp/contract"

        @contextmanager
        def never_ready() -> Iterator[Transport]:
            with hdc_device(tmp / "never", server, bins) as other:
                other.set_faults(Faults(fail_boot=True))
                t = transport_for(other)
                yield t
                t.close()

        def nowhere() -> Transport:
            return HdcTransport(HdcSpec(target="NOSUCHDEVICE", server_port=server.port))

        try:
            yield LinkPeer(name="hdc", kind="hdc", transport=transport, remote_dir=remote_dir,
                           host_path=device.sandbox.host_path, stderr_separate=False, bulk=10 * MB, files=3 * MB,
                           unwritable="/system/harness-no", nowhere=nowhere, never_ready=never_ready)
        finally:
            transport.close()


# The contract's peers, in the order they run (each is started once, for all the contract's tests).
def start_peer(name: str, request: pytest.FixtureRequest, tmp: Path) -> AbstractContextManager[LinkPeer]:
    kind, _, variant = name.partition("-")
    if kind == "ssh":
        return start_ssh(variant)
    if kind == "adb":
        return start_adb(variant, request.getfixturevalue("contract_adb_server"))
    if kind == "serial":
        return start_serial(variant)
    return start_hdc(tmp)


# Marked with the peer they need (conftest starts the hdc build early for it).
PEERS = [
    *(pytest.param(name, marks=pytest.mark.peer("sshd")) for name in ("ssh-openssh", "ssh-dropbear")),
    *(pytest.param(name, marks=pytest.mark.peer("adb")) for name in ("adb-shell_v2", "adb-legacy")),
    *(pytest.param(name, marks=pytest.mark.peer("console"))
      for name in ("serial-pty", "serial-socket", "serial-rfc2217")),
    pytest.param("hdc", marks=pytest.mark.peer("hdc")),
]
