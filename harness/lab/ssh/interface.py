"""One SSH connection to the simulated device, as paramiko's server side sees it: who may log in,
which channel requests are granted, and the device behaviour behind exec/shell/env/signal requests.
The lifecycle (listening, reboot, faults) lives in harness.lab.ssh.server."""

from __future__ import annotations

import hmac
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import paramiko
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    MSG_CHANNEL_REQUEST,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)

from harness.lab.faults import Faults
from harness.lab.ssh.session import CommandSession, ExecRunner, PtyRequest, SessionContext
from harness.lab.ssh.sftp import PathMap
from harness.secrets import Secret

# Without a persona's reboot shim, `reboot` must still mean the simulated device, never the host.
REBOOT_COMMAND = re.compile(r"^\s*(?:\S*/)?reboot(?:\s.*)?$", re.DOTALL)


class SshDevice(Protocol):
    """What one connection needs of the device behind it (SimulatedSshServer is one): the server
    builds the interface, so the interface names only this, not the server's module."""

    @property
    def faults(self) -> Faults: ...
    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> Secret: ...
    @property
    def authorized_keys(self) -> frozenset[bytes]: ...
    @property
    def auth_methods(self) -> list[str]: ...
    @property
    def runner(self) -> ExecRunner: ...
    @property
    def cwd(self) -> Path: ...
    @property
    def map_path(self) -> PathMap: ...
    @property
    def intercept_reboot(self) -> bool: ...

    def command_env(self) -> dict[str, str]: ...
    def reboot(self, boot_time: float | None = None) -> None: ...
    def drop_connection(self, transport: paramiko.Transport) -> None: ...
    def track(self, session: CommandSession) -> None: ...


class DeviceInterface(paramiko.ServerInterface):
    """Built per connection; paramiko calls it from the connection's transport thread, so every
    request that does real work hands it to a thread of its own and returns at once."""

    def __init__(self, device: SshDevice, transport: paramiko.Transport) -> None:
        self.device = device
        self.transport = transport
        self.map_path = device.map_path  # read by the SFTP subsystem
        self.commands_served = 0
        self.sessions: dict[int, CommandSession] = {}
        self._unstarted: dict[int, CommandSession] = {}
        self._env: dict[int, dict[str, str]] = {}
        self._pty: dict[int, PtyRequest] = {}
        self._lock = threading.Lock()

    def current_faults(self) -> Faults:
        return self.device.faults

    # -- login -------------------------------------------------------------------------------

    def get_allowed_auths(self, username: str) -> str:
        return ",".join(self.device.auth_methods)

    def _user_ok(self, username: str) -> bool:
        return self.device.username is None or username == self.device.username

    def check_auth_password(self, username: str, password: str) -> int:
        expected = self.device.password.reveal()
        if self.current_faults().auth_fail or expected is None or not self._user_ok(username):
            return AUTH_FAILED
        if hmac.compare_digest(password.encode(), expected.encode()):
            return AUTH_SUCCESSFUL
        return AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if self.current_faults().auth_fail or not self._user_ok(username):
            return AUTH_FAILED
        if key.asbytes() in self.device.authorized_keys:
            return AUTH_SUCCESSFUL
        return AUTH_FAILED

    # -- channels ----------------------------------------------------------------------------

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return OPEN_SUCCEEDED
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_env_request(self, channel: paramiko.Channel, name: Any, value: Any) -> bool:
        name = name.decode(errors="replace") if isinstance(name, bytes) else str(name)
        value = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        with self._lock:
            self._env.setdefault(channel.get_id(), {})[name] = value
        return True

    def check_channel_exec_request(self, channel: paramiko.Channel, command: Any) -> bool:
        if isinstance(command, bytes):
            # surrogateescape: any bytes the client sent reach the process unchanged.
            command = command.decode("utf-8", errors="surrogateescape")
        faults = self.current_faults()
        with self._lock:
            self.commands_served += 1
            limit = faults.drop_after_commands
            over = limit is not None and self.commands_served > limit
        if over:
            self._in_background(self.device.drop_connection, self.transport)
            return True
        if self.device.intercept_reboot and REBOOT_COMMAND.match(command):
            self._in_background(self.device.reboot)
            return True
        self._start_session(channel, command, faults)
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        self._start_session(channel, None, self.current_faults())
        return True

    def check_channel_pty_request(
        self, channel: paramiko.Channel, term: Any, width: int, height: int, *_pixels_and_modes: Any
    ) -> bool:
        term = term.decode(errors="replace") if isinstance(term, bytes) else str(term)
        with self._lock:
            self._pty[channel.get_id()] = PtyRequest(term=term or "vt100", columns=width, rows=height)
        return True

    def check_channel_window_change_request(
        self, channel: paramiko.Channel, width: int, height: int, *_pixels: Any
    ) -> bool:
        with self._lock:
            session = self.sessions.get(channel.get_id())
        if session is not None:
            session.resize(width, height)
        return True

    def deliver_signal(self, channel: paramiko.Channel, name: str) -> None:
        with self._lock:
            session = self.sessions.get(channel.get_id())
        if session is not None:
            session.signal(name)

    # -- internals ---------------------------------------------------------------------------

    def _start_session(self, channel: paramiko.Channel, command: str | None, faults: Faults) -> None:
        with self._lock:
            client_env = self._env.pop(channel.get_id(), {})
            pty = self._pty.pop(channel.get_id(), None)
        ctx = SessionContext(
            runner=self.device.runner,
            cwd=self.device.cwd,
            faults=faults,
            env={**self.device.command_env(), **client_env},
            drop_connection=lambda: self.device.drop_connection(self.transport),
            pty=pty,
        )
        session = CommandSession(channel, command, ctx)
        with self._lock:
            # Channel ids are reused once closed; a long-lived connection keeps only live sessions.
            self.sessions = {k: s for k, s in self.sessions.items() if not s.finished}
            self.sessions[channel.get_id()] = session
        self.device.track(session)
        # Started once paramiko has sent the request's reply (see _channel_request): a command as
        # quick as `true` could otherwise send its exit status and close before the SUCCESS reply,
        # and the client would see its channel closed before the exec was even accepted.
        with self._lock:
            self._unstarted[channel.get_id()] = session

    def start_accepted(self, channel: paramiko.Channel) -> None:
        with self._lock:
            session = self._unstarted.pop(channel.get_id(), None)
        if session is not None:
            session.start()

    @staticmethod
    def _in_background(action: Callable[..., None], *args: Any) -> None:
        # Never drop or reboot from the transport thread itself: closing a transport joins its thread.
        threading.Thread(target=action, args=args, daemon=True).start()


def _channel_request(chan: paramiko.Channel, m: paramiko.Message) -> None:
    """paramiko's server has no "signal" request (RFC 4254 6.10); OpenSSH delivers it to the
    command's process group, and clients use it to stop a timed-out command. Everything else goes
    to paramiko's own handler, with the message rewound."""
    start = m.packet.tell()
    key = m.get_text()
    if key == "signal":
        m.get_boolean()  # want_reply: RFC 4254 says false, and no reply is defined
        server = chan.transport.server_object if chan.transport is not None else None
        if isinstance(server, DeviceInterface):
            server.deliver_signal(chan, m.get_text())
        return
    m.packet.seek(start)
    chan._handle_request(m)  # type: ignore[attr-defined]
    server = chan.transport.server_object if chan.transport is not None else None
    if isinstance(server, DeviceInterface):
        server.start_accepted(chan)


class DeviceTransport(paramiko.Transport):
    """paramiko's Transport, taught the "signal" channel request."""

    _channel_handler_table = {
        **paramiko.Transport._channel_handler_table,  # type: ignore[attr-defined]
        MSG_CHANNEL_REQUEST: _channel_request,
    }
