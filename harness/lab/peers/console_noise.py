"""A noisy console for tests: a second pty in front of a console's port that passes every byte both
ways and, in what the console sends, writes foreign lines of its own, as syslogd (`-O /dev/console`),
the kernel, dropbear, init and getty do on a board's shared console: at random points, mid-line, and
on purpose inside the harness's markers and prompts.

    with ConsolePeer() as peer, NoisyConsole(peer.path, seed=7) as noisy:
        SerialTransport(peer.serial_spec(noisy.path)) ...

`injected` counts what was written, `inside_markers` how much of it landed inside a marker.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import tempfile
import threading
import time
import tty
from pathlib import Path
from types import TracebackType

# What the harness prints that foreign text is aimed at (serial_protocol's tags; the prompt's tag).
MARKERS = (b"__HR", b"__HB", b"__HZ", b"__HQ", b"@HP")

FOREIGN = (
    b"<30>%(date)s board syslogd[%(n)d]: syslogd started: BusyBox v1.35.0\n",
    b"%(date)s board user.notice root: message %(n)d from logger\n",
    b"[%(up)12.6f] usb 1-1: new high-speed USB device number %(n)d using xhci-hcd\r\n",
    b"[%(n)d] %(date)s Child connection from 10.0.2.2:%(n)d\r\n",
    b"[%(n)d] %(date)s Password auth succeeded for 'root' from 10.0.2.2:%(n)d\r\n",
    b"\r\nINIT: Id \"S0\" respawning too fast: disabled for 5 minutes\r\n",
    b"__HR0123456789ab 0 1 2 3 4\n",  # looks like a status line of ours, with a token never used
    b"@HPfeedfacecafe# ",  # a prompt of ours, but not this command's
    b"words without a newline ",
)


class NoisyConsole:
    """The relay (a context manager). `rate`: chance per chunk of a line at a random point;
    `marker_rate`: chance, for each marker seen, of a line inside it."""

    def __init__(self, upstream: str, *, seed: int, rate: float = 0.1, marker_rate: float = 0.1) -> None:
        self.upstream = upstream
        self.rate, self.marker_rate = rate, marker_rate
        self._random = random.Random(seed)
        self._tmp = tempfile.TemporaryDirectory(prefix="harness-noisy-")
        self.path = str(Path(self._tmp.name) / "ttyNOISY")
        self.injected = 0
        self.inside_markers = 0
        self._stop = threading.Event()
        self._fds: list[int] = []
        self._thread: threading.Thread | None = None

    def start(self) -> NoisyConsole:
        up = os.open(self.upstream, os.O_RDWR | os.O_NOCTTY)
        master, slave = os.openpty()
        tty.setraw(slave)  # bytes pass through untouched, as on a UART
        self._fds = [up, master, slave]
        os.symlink(os.ttyname(slave), self.path)
        self._thread = threading.Thread(target=self._relay, args=(up, master), name="noisy-console",
                                        daemon=True)
        self._thread.start()
        return self

    def _relay(self, up: int, master: int) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([up, master], [], [], 0.2)
                for fd in ready:
                    data = os.read(fd, 4096)
                    if not data:
                        return
                    if fd == up:
                        _write_all(master, self._noisy(data))
                    else:
                        _write_all(up, data)
            except OSError:
                return

    def _noisy(self, data: bytes) -> bytes:
        cuts: set[int] = set()
        for marker in MARKERS:
            at = data.find(marker)
            while at >= 0:
                if self._random.random() < self.marker_rate:
                    cuts.add(at + self._random.randint(1, len(marker) + 6))
                    self.inside_markers += 1
                at = data.find(marker, at + 1)
        if self._random.random() < self.rate:
            cuts.add(self._random.randint(0, len(data)))
        out = bytearray()
        last = 0
        for cut in sorted(c for c in cuts if c <= len(data)):
            out += data[last:cut] + self._line()
            last = cut
        return bytes(out + data[last:])

    def _line(self) -> bytes:
        self.injected += 1
        n = self._random.randint(2, 99999)
        values = {b"date": time.strftime("%b %e %H:%M:%S").encode(), b"n": n, b"up": time.monotonic()}
        return self._random.choice(FOREIGN) % values

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []
        self._tmp.cleanup()

    def __enter__(self) -> NoisyConsole:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
