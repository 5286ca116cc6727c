"""SshTransport's contract against real SSH servers on loopback, no mocks: OpenSSH's sshd
(harness.lab.peers.sshd) and dropbear (harness.lab.peers.dropbear, the server of many busybox boards). Every test
runs on both. What every link promises (exit codes, streams, the output limit, timeouts, files, reboot) is
tested on both by test_transport_contract.py; here is what only ssh does: signals as exit codes, both
streams at full speed at once, traps and process trees on timeout, one connection shared by threads,
authentication, host keys, jump hosts and ssh_config."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from harness.errors import (
    AuthFailed,
    CommandTimeout,
    ConfigError,
    ConnectionLost,
    HostKeyMismatch,
    NotReady,
    TransportError,
)
from harness.lab.peers.dropbear import MAX_UNAUTH_PER_IP, DropbearServer
from harness.lab.peers.dropbear_build import DropbearUnavailable, ensure_dropbear
from harness.lab.peers.sshd import OpenSshServer
from harness.links.ssh import SshSpec
from harness.secrets import Secret
from harness.specs import JumpSpec
from harness.transports.ssh import SshTransport
from harness.transports.ssh_channel import StreamsReady
from harness.transports.ssh_connect import cipher_order
from harness.waiting import poll_until

PASSWORD = "pw-Correct-horse-42"
WRONG_PASSWORD = "pw-Wrong-battery-17"

pytestmark = pytest.mark.peer("sshd")


SshPeer = OpenSshServer | DropbearServer


@pytest.fixture(scope="module", params=["openssh", "dropbear"])
def sshd(request: pytest.FixtureRequest) -> Iterator[SshPeer]:
    if not os.path.exists("/usr/sbin/sshd") or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH server (sshd, ssh-keygen) is not installed")
    if os.geteuid() != 0:
        pytest.skip("the private sshd needs root for its clean HOME and test password")
    if request.param == "openssh":
        with OpenSshServer(password=PASSWORD) as server:
            yield server
        return
    try:
        build = ensure_dropbear()
    except DropbearUnavailable as exc:
        pytest.skip(f"dropbear: {exc}")
    with DropbearServer(password=PASSWORD, build=build) as dropbear:
        yield dropbear


@pytest.fixture(autouse=True)
def sshd_serves_a_new_connection(request: pytest.FixtureRequest) -> None:
    """The refused logins and host keys of earlier tests leave dropbear children that count against its
    five unauthenticated connections per address for a moment: a test starts once they are gone."""
    if "sshd" in request.fixturenames:
        server = request.getfixturevalue("sshd")
        if isinstance(server, DropbearServer):
            server.wait_settled()


@pytest.fixture(scope="module")
def ssh(sshd: SshPeer) -> Iterator[SshTransport]:
    with SshTransport(sshd.spec()) as transport:
        yield transport


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pid_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"  # killed, waiting for its parent to reap it


def _socket_owner(port: int) -> int:
    """The pid owning the local TCP socket bound to 127.0.0.1:port (from /proc, like `ss -p`)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            inode = fields[9]
    assert inode is not None, f"no TCP socket on local port {port}"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return int(pid)
        except OSError:
            continue
    raise AssertionError(f"no process owns socket inode {inode}")


# -- commands ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sig", "code"), [("KILL", 137), ("TERM", 143)])
def test_command_killed_by_a_signal_exits_128_plus_n(ssh: SshTransport, sig: str, code: int) -> None:
    # sshd reports this as exit-signal, not exit-status; the code is what a shell would show.
    result = ssh.run(f"echo before; kill -{sig} $$", timeout=10)
    assert result.exit_code == code
    assert result.stdout == b"before\n"


def test_ten_megabytes_on_both_streams_at_once_arrive_intact(ssh: SshTransport, tmp_path: Path) -> None:
    blob = os.urandom(10 * 1024 * 1024)
    source = tmp_path / "blob.bin"
    source.write_bytes(blob)
    # Both streams flow at the same time: a reader that drains one while the other's window is
    # full would deadlock here.
    result = ssh.run(f"cat {source} & cat {source} >&2; wait", timeout=60)
    assert result.exit_code == 0
    assert len(result.stdout) == len(blob) and _sha(result.stdout) == _sha(blob)
    assert len(result.stderr) == len(blob) and _sha(result.stderr) == _sha(blob)
    assert not result.truncated


def test_on_output_streams_while_the_command_runs(ssh: SshTransport, tmp_path: Path) -> None:
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    chunks: list[tuple[str, bytes]] = []

    def on_output(stream: str, data: bytes) -> None:
        chunks.append((stream, data))
        if b"first" in data:
            # The command blocks on the fifo until this callback runs: only streaming lets it finish.
            with open(fifo, "w") as gate:
                gate.write("go\n")

    result = ssh.run(f"echo first; read x < {fifo}; echo second-$x; echo e >&2", timeout=20,
                     on_output=on_output)
    assert result.stdout == b"first\nsecond-go\n"
    assert b"".join(d for s, d in chunks if s == "stdout") == result.stdout
    assert b"".join(d for s, d in chunks if s == "stderr") == b"e\n"


def test_timeout_kills_the_remote_command_and_the_connection_stays_usable(
    ssh: SshTransport, tmp_path: Path
) -> None:
    pid_file = tmp_path / "hung.pid"
    connection_before = ssh.run("echo $PPID", timeout=10).stdout
    with pytest.raises(CommandTimeout) as caught:
        ssh.run(f"echo $$ > {pid_file}; echo partial; sleep 1000", timeout=0.5)
    assert caught.value.usable
    assert caught.value.stdout == b"partial\n"
    pid = int(pid_file.read_text())
    poll_until(lambda: _pid_gone(pid), 10, what=f"timed-out remote command {pid} to die")
    after = ssh.run("echo $PPID", timeout=10)
    assert after.ok
    # Same sshd session process as parent: the same connection, not a new one.
    assert after.stdout == connection_before


def _all_gone(pids_file: Path) -> list[int]:
    """The pids listed in the file that are still running (not even a zombie)."""
    pids = [int(line) for line in pids_file.read_text().split()]
    assert pids, "the command never started"
    return [pid for pid in pids if not _pid_gone(pid)]


def test_timeout_stops_the_whole_command_traps_included_verified_gone(ssh: SshTransport, tmp_path: Path) -> None:
    # The shell traps TERM and keeps going; its child ignores INT, HUP and TERM and outlives its
    # parent (on dropbear it would be adopted by init); a grandchild clears its environment.
    pids, log = tmp_path / "pids", tmp_path / "trap.log"
    cmd = (f"trap 'echo term >> {log}' TERM; trap '' INT HUP; echo $$ >> {pids}; "
           f"sh -c 'trap \"\" INT HUP TERM; echo $$ >> {pids}; env -i sh -c \"echo \\$\\$ >> {pids}; "
           f"exec sleep 1001\" & exec sleep 1000' & "
           "while :; do sleep 0.05; done")
    with pytest.raises(CommandTimeout) as caught:
        ssh.run(cmd, timeout=1)
    # Verified gone when run() returns: no waiting here.
    assert _all_gone(pids) == [] and len(pids.read_text().split()) == 3
    assert log.read_text() == "term\n"  # TERM came first, and the shell's trap ran
    assert "could not be verified" not in str(caught.value)
    assert caught.value.usable and ssh.run("echo next", timeout=10).stdout == b"next\n"


def test_timeout_gives_a_trap_its_grace_before_any_kill(ssh: SshTransport, tmp_path: Path) -> None:
    done = tmp_path / "cleaned"
    with pytest.raises(CommandTimeout):
        ssh.run(f"trap 'echo cleaned > {done}; exit 0' TERM; while :; do sleep 0.05; done", timeout=0.5)
    assert done.read_text() == "cleaned\n"


def test_a_timeout_leaves_other_commands_on_the_connection_running(ssh: SshTransport, tmp_path: Path) -> None:
    other = tmp_path / "other"
    results: list[bytes] = []

    def slow() -> None:
        results.append(ssh.run(f"echo $$ > {other}; sleep 2; echo survived", timeout=20).stdout)

    thread = threading.Thread(target=slow)
    thread.start()
    poll_until(other.exists, 10, what="the other command to start")
    with pytest.raises(CommandTimeout):
        ssh.run("sleep 1000", timeout=0.3)
    thread.join(timeout=30)
    assert results == [b"survived\n"]


def test_dropped_connection_is_connection_lost_then_next_run_reconnects(sshd: SshPeer) -> None:
    with SshTransport(sshd.spec()) as transport:
        first_session = transport.run("echo $PPID", timeout=10).stdout
        with pytest.raises(ConnectionLost):
            # The parent of the command is this connection's sshd process: the link drops mid-command.
            transport.run("echo going; kill -9 $PPID; sleep 30", timeout=20)
        again = transport.run("echo $PPID", timeout=10)
        assert again.ok
        assert again.stdout != first_session


# -- authentication ------------------------------------------------------------------------------


def test_password_login(sshd: SshPeer) -> None:
    with SshTransport(sshd.spec(key_file=None, password=Secret(inline=PASSWORD))) as transport:
        assert transport.run("echo in", timeout=10).stdout == b"in\n"


def test_wrong_password_is_auth_failed_and_never_shown(sshd: SshPeer) -> None:
    spec = sshd.spec(key_file=None, password=Secret(inline=WRONG_PASSWORD))
    transport = SshTransport(spec)
    with pytest.raises(AuthFailed) as caught:
        transport.run("true", timeout=10)
    message = str(caught.value)
    assert f"{sshd.user}@{sshd.host}:{sshd.port}" in message
    for text in (message, repr(caught.value), repr(transport), repr(spec), str(spec)):
        assert WRONG_PASSWORD not in text
    transport.close()


def test_no_credentials_is_auth_failed(sshd: SshPeer) -> None:
    with pytest.raises(AuthFailed):
        SshTransport(sshd.spec(key_file=None)).connect()


# -- host keys -----------------------------------------------------------------------------------


def _other_host_key_line(sshd: SshPeer, tmp_path: Path) -> str:
    other = OpenSshServer()  # only for its freshly generated keys; never started
    try:
        other._make_keys()
        kind, blob = other.host_key.with_suffix(".pub").read_text().split()[:2]
    finally:
        other.cleanup()
    return f"[{sshd.host}]:{sshd.port} {kind} {blob}\n"


def test_pinned_fingerprint_is_checked(sshd: SshPeer, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with SshTransport(sshd.spec(known_hosts=empty, host_key=sshd.fingerprint)) as good:
        assert good.run("true", timeout=10).ok
    wrong = "SHA256:" + "A" * 43
    with pytest.raises(HostKeyMismatch) as caught:
        SshTransport(sshd.spec(host_key=wrong)).connect()
    assert sshd.fingerprint in str(caught.value) and wrong in str(caught.value)


def test_known_hosts_mismatch_is_refused_even_with_the_opt_in(sshd: SshPeer, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(_other_host_key_line(sshd, tmp_path))
    for accept in (False, True):
        with pytest.raises(HostKeyMismatch) as caught:
            SshTransport(sshd.spec(known_hosts=known, accept_unknown_host_key=accept)).connect()
        assert sshd.fingerprint in str(caught.value)


def test_unknown_host_key_refused_by_default_accepted_with_opt_in(
    sshd: SshPeer, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyMismatch) as caught:
        SshTransport(sshd.spec(known_hosts=empty)).connect()
    assert "unknown" in str(caught.value) and sshd.fingerprint in str(caught.value)
    with SshTransport(sshd.spec(known_hosts=empty, accept_unknown_host_key=True)) as transport:
        assert transport.run("echo ok", timeout=10).stdout == b"ok\n"
    assert empty.read_text() == ""  # accepted in memory only


# -- jump host and ~/.ssh/config -----------------------------------------------------------------


def _client_port_seen_by_target(transport: SshTransport) -> int:
    # SSH_CONNECTION = "client_ip client_port server_ip server_port", as the target sshd sees it.
    return int(transport.run("echo $SSH_CONNECTION", timeout=10).stdout.split()[1])


def test_direct_connection_comes_from_this_process(ssh: SshTransport) -> None:
    assert _socket_owner(_client_port_seen_by_target(ssh)) == os.getpid()


def test_aes_gcm_is_taken_where_the_server_offers_it(sshd: SshPeer) -> None:
    # OpenSSH offers AES-GCM (the cheaper packets for paramiko); dropbear builds without it by default
    # and the link takes the next of paramiko's ciphers.
    with SshTransport(sshd.spec()) as transport:
        assert transport.run("true", timeout=10).exit_code == 0
        link = transport._transport
        assert link is not None
        expected = "aes128-ctr" if isinstance(sshd, DropbearServer) else "aes128-gcm@openssh.com"
        assert (link.local_cipher, link.remote_cipher) == (expected, expected)


def test_a_server_without_aes_gcm_is_still_reached() -> None:
    with OpenSshServer(password=PASSWORD, config=("Ciphers aes256-ctr",)) as server, \
            SshTransport(server.spec()) as transport:
        assert transport.run("echo hi", timeout=10).stdout == b"hi\n"
        assert transport._transport is not None and transport._transport.remote_cipher == "aes256-ctr"


def test_ssh_config_ciphers_turn_aes_gcm_off_for_a_device_whose_gcm_is_broken(tmp_path: Path) -> None:
    with OpenSshServer(password=PASSWORD) as server:
        config = tmp_path / "ssh_config"
        config.write_text(f"Host dut-09\n  HostName {server.host}\n  Ciphers -aes*-gcm@openssh.com\n")
        with SshTransport(server.spec(host="dut-09", ssh_config=config)) as transport:
            assert transport.run("echo hi", timeout=10).stdout == b"hi\n"
            assert transport._transport is not None and transport._transport.remote_cipher == "aes128-ctr"
        config.write_text(f"Host dut-09\n  HostName {server.host}\n  Ciphers chacha20-poly1305@openssh.com\n")
        with pytest.raises(ConfigError, match="Ciphers 'chacha20-poly1305@openssh.com' leaves no cipher"):
            SshTransport(server.spec(host="dut-09", ssh_config=config)).connect()


def test_cipher_order_reads_ssh_config_ciphers_as_openssh_does() -> None:
    offered = ("aes128-ctr", "aes256-ctr", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
    gcm = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
    assert cipher_order(offered, "aes256-ctr,nonesuch,aes128-ctr") == ("aes256-ctr", "aes128-ctr")
    assert cipher_order(offered, "-aes*-gcm@openssh.com") == ("aes128-ctr", "aes256-ctr")
    assert cipher_order(offered, "^aes256-ctr") == ("aes256-ctr", *gcm, "aes128-ctr")
    assert cipher_order(offered[:2], "+aes128-gcm@openssh.com,nonesuch") == ("aes128-ctr", "aes256-ctr")
    assert cipher_order(offered, "+aes128-ctr") == (*gcm, "aes128-ctr", "aes256-ctr")
    with pytest.raises(ConfigError, match="leaves no cipher"):
        cipher_order(offered, "-*")


def test_cipher_order_puts_aead_first_and_keeps_the_rest_in_order() -> None:
    offered = ("aes128-ctr", "aes256-ctr", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com")
    assert cipher_order(offered) == ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr",
                                     "aes256-ctr")
    assert cipher_order(("aes128-ctr", "3des-cbc")) == ("aes128-ctr", "3des-cbc")  # nothing added


def test_jump_host_connection_goes_through_the_jump(sshd: SshPeer) -> None:
    spec = sshd.spec(jump=JumpSpec(host=sshd.host, port=sshd.port, user=sshd.user))
    with SshTransport(spec) as transport:
        owner = _socket_owner(_client_port_seen_by_target(transport))
        # The target's peer socket belongs to the jump host's sshd (its direct-tcpip forward), not us.
        assert owner != os.getpid()
        argv0 = Path(f"/proc/{owner}/cmdline").read_bytes().split(b"\0")[0].decode()
        assert Path(argv0).name.startswith(sshd.program)
        assert transport.run("printf '\\377'", timeout=10).stdout == b"\xff"


def test_jump_host_key_is_checked_too(sshd: SshPeer, tmp_path: Path) -> None:
    # The pin is for the target; the jump is checked against known_hosts, which here is empty.
    jump = JumpSpec(host=sshd.host, port=sshd.port)
    spec = sshd.spec(known_hosts=tmp_path / "none", host_key=sshd.fingerprint, jump=jump)
    with pytest.raises(HostKeyMismatch) as caught:
        SshTransport(spec).connect()
    assert "unknown" in str(caught.value)


def test_ssh_config_supplies_hostname_port_user_key_and_proxyjump(
    sshd: SshPeer, tmp_path: Path
) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host lab-gw\n  HostName {sshd.host}\n  Port {sshd.port}\n  User {sshd.user}\n"
        f"  IdentityFile {sshd.client_key}\n"
        f"Host dut-07\n  HostName {sshd.host}\n  Port {sshd.port}\n  User {sshd.user}\n"
        f"  IdentityFile {sshd.client_key}\n  ProxyJump lab-gw\n"
    )
    spec = sshd.spec(host="dut-07", port=22, user=None, key_file=None, ssh_config=config)
    with SshTransport(spec) as transport:
        assert transport.run("echo via-config", timeout=10).stdout == b"via-config\n"
        owner = _socket_owner(_client_port_seen_by_target(transport))
        assert owner != os.getpid()


# -- files ---------------------------------------------------------------------------------------


# -- reboot and readiness ------------------------------------------------------------------------


def test_reboot_that_never_takes_the_link_down_is_not_ready(sshd: SshPeer) -> None:
    # Reconnecting to a device that did not go down would pass wait_ready on the old boot.
    transport = SshTransport(sshd.spec(), reboot_command="true")
    with pytest.raises(NotReady, match="still up"):
        transport.reboot(down_timeout=0.5)
    assert transport.run("echo usable", timeout=10).stdout == b"usable\n"
    transport.close()


def test_concurrent_commands_share_the_connection(ssh: SshTransport) -> None:
    results: dict[int, bytes] = {}

    def worker(n: int) -> None:
        results[n] = ssh.run(f"echo {n}", timeout=10).stdout

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == {n: f"{n}\n".encode() for n in range(8)}


def test_dropbear_counts_its_unauthenticated_connections(sshd: SshPeer) -> None:
    """What the wait before each test rests on: held pre-login connections are counted (dropbear serves
    no sixth one from this address, "Error reading SSH protocol banner"), and closed ones stop counting."""
    if not isinstance(sshd, DropbearServer):
        return  # OpenSSH's MaxStartups (10) is not reached by these tests
    held = [socket.create_connection((sshd.host, sshd.port), timeout=5) for _ in range(MAX_UNAUTH_PER_IP)]
    try:
        for sock in held:
            assert sock.recv(8) == b"SSH-2.0-"
        assert sshd.unauthenticated() == MAX_UNAUTH_PER_IP
        with socket.create_connection((sshd.host, sshd.port), timeout=5) as refused:
            assert refused.recv(8) == b""  # closed before any banner
    finally:
        for sock in held:
            sock.close()
    sshd.wait_settled()
    with SshTransport(sshd.spec()) as transport:
        assert transport.run("echo served", timeout=10).stdout == b"served\n"


# -- a server that declines to run commands --------------------------------------------------------


class _DecliningServer(paramiko.ServerInterface):
    """Logs in and opens sessions, then declines every exec request (as a restricted account may)."""

    def __init__(self) -> None:
        self.exec_requests = 0

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        return paramiko.AUTH_SUCCESSFUL if password == PASSWORD else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.exec_requests += 1
        return False


def test_a_declined_exec_is_lab_trouble_and_the_link_stays_up(tmp_path: Path) -> None:
    # The exec request is sent without waiting for its reply (the reply comes before the output): a
    # refusal must still end the command as typed lab trouble, not as an exit code, and not hang.
    key = paramiko.Ed25519Key.from_private_key_file(str(_ed25519_key(tmp_path)))
    listener = socket.create_server(("127.0.0.1", 0))
    server = _DecliningServer()
    links: list[paramiko.Transport] = []

    def serve() -> None:
        conn, _ = listener.accept()
        link = paramiko.Transport(conn)
        link.add_server_key(key)
        links.append(link)
        link.start_server(server=server)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    spec = SshSpec(host="127.0.0.1", port=listener.getsockname()[1], user="root",
                   password=Secret(inline=PASSWORD), host_key=fingerprint, connect_timeout=10)
    try:
        with SshTransport(spec) as transport:
            for _ in range(2):
                with pytest.raises(TransportError, match="refused to run 'true'") as caught:
                    transport.run("true", timeout=10)
                assert caught.value.usable and not isinstance(caught.value, ConnectionLost | CommandTimeout)
                assert transport.connected  # the same connection takes the next request
            assert server.exec_requests == 2
    finally:
        listener.close()
        for link in links:
            link.close()


def _ed25519_key(folder: Path) -> Path:
    path = folder / "host_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


class _Streams:
    """What StreamsReady uses of a channel: its two paramiko BufferedPipes (the real ones)."""

    def __init__(self) -> None:
        self.in_buffer = paramiko.buffered_pipe.BufferedPipe()
        self.in_stderr_buffer = paramiko.buffered_pipe.BufferedPipe()


def test_streams_ready_keeps_a_wake_up_when_the_other_stream_runs_dry() -> None:
    # paramiko's own fileno pipe loses this one: stderr has data, stdout is read empty, and the read
    # clears the one pipe both share, so a select sleeps while stderr waits.
    chan = _Streams()
    ready = StreamsReady(chan)  # type: ignore[arg-type]
    assert not ready.wait(0)
    chan.in_buffer.feed(b"out")
    chan.in_stderr_buffer.feed(b"err")
    assert chan.in_buffer.read(100) == b"out"  # stdout empty again: paramiko clears its flag
    assert ready.wait(0)  # stderr still waits
    assert chan.in_stderr_buffer.read(100) == b"err"
    assert not ready.wait(0)
    chan.in_stderr_buffer.close()  # EOF or close: ready for good
    assert ready.wait(0)


def test_streams_ready_wakes_a_waiter_when_data_comes_from_another_thread() -> None:
    chan = _Streams()
    ready = StreamsReady(chan)  # type: ignore[arg-type]
    feeder = threading.Thread(target=chan.in_buffer.feed, args=(b"late",))
    feeder.start()
    assert ready.wait(30)  # returns on the feed, whether it came before the wait or during it
    feeder.join()
    assert chan.in_buffer.read(100) == b"late"
