"""Exec-channel details paramiko leaves out: reading both streams into bounded buffers, the exit code
of a command killed by a signal, and stopping a command that ran past its timeout."""

from __future__ import annotations

import contextlib
import signal

import paramiko
from paramiko.common import MSG_CHANNEL_REQUEST, cMSG_CHANNEL_REQUEST

from .base import BoundedBuffer, OutputCallback

READ_SIZE = 256 * 1024
LINK_ERRORS = (paramiko.SSHException, OSError, EOFError)

# The reaper, for servers that ignore "signal" requests: OpenSSH does on root logins (no privilege
# separation there), and closing a channel without a pty leaves its command running. Run on a fresh
# channel of the same connection, its parent is that connection's sshd process and the commands of
# the other channels are its siblings: it kills their process groups. Only used when no other
# command is in flight on the connection, and only when the parent really is an sshd (never, say, a
# simulated device's server process). POSIX sh and /proc only, so busybox and toybox devices work.
REAPER = (
    'read -r parent < /proc/$PPID/comm; case "$parent" in sshd*) ;; *) exit 3;; esac; '
    "for d in /proc/[0-9]*; do "
    's=$(cat "$d/stat" 2>/dev/null) || continue; s=${s##*) }; set -- $s; '
    '[ "$2" = "$PPID" ] && [ "${d#/proc/}" != "$$" ] || continue; '
    'read -r name < "$d/comm"; [ "$name" = sftp-server ] && continue; '
    '[ "$3" -gt 1 ] 2>/dev/null && kill -9 -"$3" 2>/dev/null; kill -9 "${d#/proc/}" 2>/dev/null; '
    "done; true"
)


def drain(
    chan: paramiko.Channel, out: BoundedBuffer, err: BoundedBuffer, on_output: OutputCallback | None
) -> None:
    """Move whatever has arrived on both streams into the buffers (and to on_output, all of it)."""
    while chan.recv_ready():
        data = chan.recv(READ_SIZE)
        if not data:
            break
        out.add(data)
        if on_output is not None:
            on_output("stdout", data)
    while chan.recv_stderr_ready():
        data = chan.recv_stderr(READ_SIZE)
        if not data:
            break
        err.add(data)
        if on_output is not None:
            on_output("stderr", data)


def send_signal(chan: paramiko.Channel, name: str) -> None:
    """RFC 4254 6.9 "signal" request (paramiko has no API for it). OpenSSH delivers it to the session's
    process group for non-root logins; other servers ignore it (no reply is asked for)."""
    transport = chan.get_transport()
    if chan.closed or transport is None:
        return
    msg = paramiko.Message()
    msg.add_byte(cMSG_CHANNEL_REQUEST)
    msg.add_int(chan.remote_chanid)
    msg.add_string("signal")
    msg.add_boolean(False)
    msg.add_string(name)
    with contextlib.suppress(*LINK_ERRORS):
        transport._send_user_message(msg)  # type: ignore[attr-defined]


def signal_exit_code(name: str) -> int:
    """128 + signal number, as a shell reports a child killed by that signal; 255 if unknown."""
    try:
        return 128 + signal.Signals["SIG" + name].value
    except KeyError:
        return 255


def report_exit_signals(transport: paramiko.Transport) -> None:
    """paramiko ignores "exit-signal" (RFC 4254 6.10), leaving a killed command without any exit code.
    Give this transport a channel-request handler that turns it into 128+N first."""
    table = dict(transport._channel_handler_table)  # type: ignore[attr-defined]
    original = table[MSG_CHANNEL_REQUEST]

    def handle_request(chan: paramiko.Channel, m: paramiko.Message) -> None:
        start = m.packet.tell()
        if m.get_text() == "exit-signal":
            m.get_boolean()  # want_reply: never set for exit-signal
            chan.exit_status = signal_exit_code(m.get_text())
            chan.status_event.set()
            return
        m.packet.seek(start)
        original(chan, m)

    table[MSG_CHANNEL_REQUEST] = handle_request
    transport._channel_handler_table = table  # type: ignore[attr-defined]
