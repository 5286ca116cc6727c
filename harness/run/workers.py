"""Running one worker per device in parallel and reading their progress pipes until all are done.
Ctrl-C (SIGINT), SIGTERM, SIGHUP, or the runner's output lost (harness.run.output): each worker gets one
SIGINT and `grace` seconds to write its records and its `end` line; then the stragglers are killed. A
second Ctrl-C kills at once."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from ..waiting import Deadline
from . import output
from .progress import ProgressView
from .worker import Worker, WorkerArgs

INTERRUPT_GRACE = 20.0
# Progress is read in batches at most this often: waking the runner for each test's line cost a lab
# host more CPU than printing it (every wake-up after an idle gap starts on cold caches). A stop request
# still wakes it at once, and a worker that filled much of its pipe since the last batch (long lines)
# is read again at once, so that no worker waits on a full pipe.
PROGRESS_BATCH = 0.1
STREAMING = 16 * 1024  # bytes in one read that end the pause (a 64 KiB pipe a quarter full)


@dataclass
class WorkersOutcome:
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    interrupted: bool = False
    killed: list[str] = field(default_factory=list)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _StopRequests:
    """Signal handlers that only count and wake the select loop (self-pipe). SIGINT and SIGTERM count
    each time (a second one kills the workers at once); a hangup or the output lost (which come
    together when a terminal goes away) ask once, and never for the kill: nobody is there to ask twice."""

    def __init__(self) -> None:
        self.count = 0
        self.cut_short = False
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)

    def handler(self, signum: int, frame: FrameType | None) -> None:
        self.request()

    def hangup(self, signum: int = signal.SIGHUP, frame: FrameType | None = None) -> None:
        if not self.cut_short:
            self.cut_short = True
            self.request()

    def request(self) -> None:
        self.count += 1
        with contextlib.suppress(BlockingIOError):
            os.write(self.write_fd, b"x")

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.set_blocking(self.read_fd, False)
            os.read(self.read_fd, 1024)

    def close(self) -> None:
        os.close(self.read_fd)
        os.close(self.write_fd)


@contextlib.contextmanager
def _catch_stop_signals() -> Iterator[_StopRequests]:
    stops = _StopRequests()
    old = {s: signal.signal(s, stops.handler) for s in STOP_SIGNALS}
    old[signal.SIGHUP] = signal.signal(signal.SIGHUP, stops.hangup)
    try:
        with output.on_cut_short(stops.hangup):  # nobody reads our output any more: stop, as on Ctrl-C
            yield stops
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        stops.close()


def run_workers(jobs: Sequence[tuple[WorkerArgs, Path]], progress: ProgressView,
                grace: float = INTERRUPT_GRACE) -> WorkersOutcome:
    """Start a worker per (args, log path), show progress, wait for all of them."""
    outcome = WorkersOutcome()
    with _catch_stop_signals() as stops, selectors.DefaultSelector() as sel, \
            selectors.DefaultSelector() as stop_only:
        workers: list[Worker] = []
        try:
            for args, log in jobs:
                if stops.count:
                    break
                workers.append(Worker(args, log))
        except BaseException:
            for w in workers:
                w.kill()
            raise
        progress.start([w.device for w in workers])
        sel.register(stops.read_fd, selectors.EVENT_READ, None)
        stop_only.register(stops.read_fd, selectors.EVENT_READ, None)
        next_batch = 0.0
        for w in workers:
            sel.register(w.fileno(), selectors.EVENT_READ, w)
        open_pipes = len(workers)
        deadline: Deadline | None = None
        seen_stops = 0
        while open_pipes:
            if stops.count > seen_stops:
                seen_stops = stops.count
                if deadline is None:
                    outcome.interrupted = True
                    progress.note(f"interrupted: stopping {open_pipes} worker(s), up to {grace:g}s to write "
                                  "their records (Ctrl-C again to kill them now)")
                    for w in workers:
                        w.signal(signal.SIGINT)
                    deadline = Deadline(grace)
                else:
                    deadline = Deadline(0)
            if deadline is not None and deadline.expired:
                break
            if deadline is None and (pause := next_batch - time.monotonic()) > 0 and stop_only.select(pause):
                stops.drain()
                continue  # a stop request: handled above, at once
            streaming = False
            for key, _ in sel.select(deadline.remaining() if deadline else None):
                if key.data is None:
                    stops.drain()
                    continue
                worker: Worker = key.data
                lines = worker.read()
                if lines is None:
                    sel.unregister(key.fileobj)
                    open_pipes -= 1
                    continue
                streaming = streaming or worker.last_read >= STREAMING
                for line in lines:
                    progress.line(worker.device, line)
            next_batch = time.monotonic() + (0.0 if streaming else PROGRESS_BATCH)
        for w in workers:
            if w.fd is not None:  # still open: the deadline ran out
                outcome.killed.append(w.device)
                w.kill()
                w.close_pipe()
            outcome.exit_codes[w.device] = _reap(w, deadline)
            progress.finished(w.device, outcome.exit_codes[w.device])
        if stops.count and not outcome.interrupted:
            outcome.interrupted = True
    progress.stop()
    return outcome


def _reap(w: Worker, deadline: Deadline | None) -> int | None:
    # The pipe closed, so the worker is exiting; a worker that hangs on after closing it is killed.
    try:
        return w.proc.wait(timeout=max(1.0, deadline.remaining()) if deadline else 30.0)
    except Exception:
        w.kill()
        return w.proc.wait()
