"""The `shell:` (legacy raw) and `shell,v2,...:` services of the simulated adbd."""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import threading
from collections.abc import Callable
from typing import IO

from harness.lab.adbd.runner import CommandRunner, DeviceContext, ProcessTable, kill_process_group
from harness.lab.adbd.streams import Stream
from harness.transports.adb_wire import (
    SHELL_CLOSE_STDIN,
    SHELL_EXIT,
    SHELL_HEADER,
    SHELL_STDERR,
    SHELL_STDIN,
    SHELL_STDOUT,
    ShellPacketReader,
    shell_packet,
)


def parse_shell_service(service: str) -> tuple[bool, str] | None:
    """`shell:CMD` -> (False, CMD); `shell,v2,TERM=x,raw:CMD` -> (True, CMD); else None."""
    head, sep, command = service.partition(":")
    if not sep or not head.startswith("shell"):
        return None
    args = head.split(",")[1:]
    return "v2" in args, command


def serve_shell(
    stream: Stream,
    command: str,
    *,
    v2: bool,
    runner: CommandRunner,
    ctx: DeviceContext,
    processes: ProcessTable,
    on_sent: Callable[[int], None],
) -> None:
    """Run one command; stream its output in payload-sized WRTEs; v2 ends with the exit packet."""
    try:
        proc = runner(command, v2, ctx)
    except OSError as exc:
        message = f"/system/bin/sh: {exc}\n".encode()
        if v2:
            message = shell_packet(SHELL_STDERR, message) + shell_packet(SHELL_EXIT, b"\x7f")
        stream.write(message)
        stream.close()
        return
    processes.add(proc)
    stream.on_close(lambda: kill_process_group(proc))
    if v2 and proc.stdin is not None:
        threading.Thread(target=_feed_stdin, args=(stream, proc.stdin), daemon=True).start()
    else:
        threading.Thread(target=_discard_input, args=(stream,), daemon=True).start()
    try:
        _pump_output(stream, proc, v2, on_sent)
        code = proc.wait()
    finally:
        processes.discard(proc)
    if code < 0:
        code = 128 - code  # killed by a signal: report it as a shell would
    if v2:
        stream.write(shell_packet(SHELL_EXIT, bytes([code & 0xFF])))
    stream.close()


def _pump_output(
    stream: Stream, proc: subprocess.Popen[bytes], v2: bool, on_sent: Callable[[int], None]
) -> None:
    pipes: dict[int, int] = {}
    assert proc.stdout is not None
    pipes[proc.stdout.fileno()] = SHELL_STDOUT
    if v2 and proc.stderr is not None:
        pipes[proc.stderr.fileno()] = SHELL_STDERR
    overhead = SHELL_HEADER.size if v2 else 0
    sending = True
    with selectors.DefaultSelector() as selector:
        for fd in pipes:
            selector.register(fd, selectors.EVENT_READ)
        while pipes:
            # Block for the first bytes, then take whatever else is ready, up to one payload.
            batch = bytearray()
            timeout: float | None = None
            while pipes:
                room = stream.conn.max_payload - len(batch) - overhead
                if room <= 0:
                    break
                events = selector.select(timeout)
                if not events:
                    break
                for key, _ in events:
                    chunk = os.read(key.fd, max(room, 1))
                    if not chunk:
                        selector.unregister(key.fd)
                        del pipes[key.fd]
                    elif v2:
                        batch += shell_packet(pipes[key.fd], chunk)
                    else:
                        batch += chunk
                timeout = 0
            if batch and sending:
                sending = stream.write(bytes(batch))
                if sending:
                    on_sent(len(batch))
                else:
                    kill_process_group(proc)  # the host is gone: drain the pipes until EOF
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def _feed_stdin(stream: Stream, stdin: IO[bytes]) -> None:
    reader = ShellPacketReader()
    try:
        while (data := stream.read()) is not None:
            for kind, payload in reader.feed(data):
                if kind == SHELL_STDIN:
                    stdin.write(payload)
                    stdin.flush()
                elif kind == SHELL_CLOSE_STDIN:
                    stdin.close()
    except (OSError, ValueError):
        pass  # the command exited or closed its stdin
    finally:
        with contextlib.suppress(OSError):
            stdin.close()


def _discard_input(stream: Stream) -> None:
    while stream.read() is not None:
        pass
