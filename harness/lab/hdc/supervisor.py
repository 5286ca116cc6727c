"""Keeps the lab's real hdc server running: starts it, and starts it again when it dies.

    python -m harness.lab.hdc.supervisor --hdc PATH --port N --home DIR

Why: the real hdc server (this build of developtools_hdc) can abort on a libuv assertion when a
device's session drops while one of its channels is being freed, as happens when a device reboots
right after `target boot`. A bench's server is restarted by the next `hdc` command a user types; the
lab's devices are reached by the harness, which never starts servers, so the lab restarts its own.
The transports `tconn` their devices again by themselves. SIGTERM stops the server and the supervisor
(`harness lab down` signals the whole process group)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from harness.lab.hdc.server import HdcServer

# Restarts closer together than this are counted as a crash loop, which ends the supervisor.
MIN_UPTIME = 2.0
MAX_QUICK_RESTARTS = 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="harness.lab.hdc.supervisor")
    parser.add_argument("--hdc", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--home", type=Path, required=True)
    opts = parser.parse_args(argv)
    stopping = threading.Event()
    current: list[HdcServer] = []

    def stop(*_: object) -> None:
        stopping.set()
        for server in current:
            if server.proc is not None and server.proc.poll() is None:
                server.proc.terminate()  # wakes the wait below

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    quick = 0
    while not stopping.is_set():
        server = HdcServer(opts.hdc, port=opts.port, home=opts.home, own_group=False)
        current[:] = [server]
        started = time.monotonic()
        try:
            server.start()
        except (OSError, TimeoutError) as exc:
            print(f"hdc supervisor: the server did not start: {exc}", file=sys.stderr, flush=True)
            return 3
        proc = server.proc
        assert proc is not None
        proc.wait()
        if stopping.is_set():
            server.stop()
            break
        print(f"hdc supervisor: the server exited ({proc.returncode}); starting it again", file=sys.stderr,
              flush=True)
        quick = quick + 1 if time.monotonic() - started < MIN_UPTIME else 0
        if quick >= MAX_QUICK_RESTARTS:
            print("hdc supervisor: the server keeps dying; giving up", file=sys.stderr, flush=True)
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
