"""Exec-channel details paramiko leaves out: reading both streams into bounded buffers, the exit code
of a command killed by a signal, and stopping a command that ran past its timeout."""

from __future__ import annotations

import contextlib
import signal
import threading

import paramiko
from paramiko.common import MSG_CHANNEL_REQUEST, cMSG_CHANNEL_REQUEST

from .base import BoundedBuffer, OutputCallback

READ_SIZE = 256 * 1024
LINK_ERRORS = (paramiko.SSHException, OSError, EOFError)

# Every command runs with this variable exported (tag_command): whatever it starts inherits it, even a
# child that outlives its parent and is adopted by init (dropbear leaves `sleep` of a killed
# `sleep 62; echo done` running with ppid 1), so its processes can be found and stopped by the tag,
# on any server, whoever their parent is now, and with other commands running on the same connection.
TAG_VARIABLE = "HARNESS_CMD_TAG"

# The stopper: run on a fresh channel as `set -- SIGNAL PATTERN [PID...]; <STOPPER>`. The command's
# processes are: those whose command line (the top shell: the server runs `sh -c "export TAG=..; CMD"`)
# or environment holds the tag; their descendants (a child that cleared its environment); the members
# of a session or process group one of them leads (OpenSSH gives each command its own session); and
# the PIDs found by an earlier look (adopted by init since their parent died). It sends them SIGNAL (0:
# none) and prints "<count> <pid>...". PATTERN is the tag as a regex that does not match itself
# ("TAG=[a]bc...") so neither grep nor this shell finds itself; the stopper's own children are left
# out by their parent. POSIX sh, grep and /proc only: busybox and toybox devices have them. Exit 3: no
# /proc, so nothing can be verified.
STOPPER = (
    'sig=$1 pat=$2; shift 2; known=" $* "; me=$$; tagged=" "; pids=" "; more=1\n'
    "[ -r /proc/$$/stat ] || exit 3\n"
    'for f in $(grep -l -s -e "$pat" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null); do '
    'p=${f#/proc/}; tagged="$tagged${p%%/*} "; done\n'
    'table=$(for d in /proc/[0-9]*; do { read -r st < "$d/stat"; } 2>/dev/null || continue; '
    'st=${st##*) }; set -- $st; echo "${d#/proc/} $1 $2 $3 $4"; done)\n'
    'while [ "$more" = 1 ]; do more=0\n'
    "while read -r p s pp pg sid; do\n"
    '  { [ "$p" = "$me" ] || [ "$pp" = "$me" ] || [ "$s" = Z ]; } && continue\n'
    '  case "$pids" in *" $p "*) continue;; esac\n'
    '  case "$tagged$known" in *" $p "*) ;; *) case "$pids$known" in '
    '*" $pp "*|*" $pg "*|*" $sid "*) ;; *) continue;; esac;; esac\n'
    '  pids="$pids$p "; more=1\n'
    "done <<EOF\n"
    "$table\n"
    "EOF\n"
    "done\n"
    'n=0; for p in $pids; do n=$((n+1)); [ "$sig" = 0 ] || kill -"$sig" "$p" 2>/dev/null; done\n'
    'echo "$n$pids"\n'
)


def tag_command(cmd: str, tag: str) -> str:
    """`cmd` with the tag exported first, on a line of its own so `cmd` parses exactly as before."""
    return f"export {TAG_VARIABLE}={tag}\n{cmd}"


def start_exec(chan: paramiko.Channel, command: str) -> None:
    """Channel.exec_command without waiting for the server's reply. The reply comes before the output
    and the exit status on the same channel, so the wait for those covers it: one round trip (and one
    hand-over between paramiko's thread and ours) less per command. A refusal makes paramiko close the
    channel, and `refused` tells it from a command that ran."""
    transport = chan.get_transport()
    if chan.closed or not chan.active or transport is None:
        raise paramiko.SSHException("Channel is not open")
    msg = paramiko.Message()
    msg.add_byte(cMSG_CHANNEL_REQUEST)
    msg.add_int(chan.remote_chanid)
    msg.add_string("exec")
    msg.add_boolean(True)  # want_reply: a refusal closes the channel instead of leaving it idle
    msg.add_string(command)
    chan._event_pending()  # type: ignore[attr-defined]
    transport._send_user_message(msg)  # type: ignore[attr-defined]


class StreamsReady:
    """One wait for both of a channel's streams: until either has data or has ended (EOF or close).

    paramiko's BufferedPipe sets or clears an event as data arrives or is read and when its stream
    ends. Channel.fileno hands it an OS pipe per stream joined into one (two descriptors a channel, a
    write and a read per state change), whose two halves are set and cleared by two threads without a
    lock, so a wake-up can be lost. Here each stream's state is a flag under one lock, set and cleared
    by paramiko under the stream's own lock as its data comes and goes."""

    def __init__(self, chan: paramiko.Channel) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._ready = [False, False]
        chan.in_buffer.set_event(_StreamFlag(self, 0))  # type: ignore[arg-type]
        chan.in_stderr_buffer.set_event(_StreamFlag(self, 1))  # type: ignore[arg-type]

    def mark(self, stream: int, ready: bool) -> None:
        with self._changed:
            self._ready[stream] = ready
            if ready:
                self._changed.notify_all()

    def wait(self, timeout: float) -> bool:
        """True once either stream is ready; False after `timeout` seconds without."""
        with self._changed:
            return self._changed.wait_for(lambda: self._ready[0] or self._ready[1], timeout)


class _StreamFlag:
    """The event paramiko's BufferedPipe drives (set, clear) for one stream of a StreamsReady."""

    def __init__(self, owner: StreamsReady, stream: int) -> None:
        self._owner, self._stream = owner, stream

    def set(self) -> None:
        self._owner.mark(self._stream, True)

    def clear(self) -> None:
        self._owner.mark(self._stream, False)


def refused(chan: paramiko.Channel) -> bool:
    """After start_exec, once the channel closed: the server declined the request (it never said yes,
    and no exit status came)."""
    return chan.exit_status == -1 and not chan.event_ready


def stopper_command(tag: str, signal_name: str, known: tuple[int, ...] = ()) -> str:
    pattern = f"{TAG_VARIABLE}=[{tag[0]}]{tag[1:]}"
    pids = " ".join(str(pid) for pid in known)
    return f"set -- {signal_name} '{pattern}' {pids}\n{STOPPER}"


def parse_stopper(output: bytes) -> tuple[int, tuple[int, ...]] | None:
    """(processes found alive, their pids), or None when this is not the stopper's output."""
    fields = output.split()
    if not fields or not all(f.isdigit() for f in fields):
        return None
    return int(fields[0]), tuple(int(f) for f in fields[1:])


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
