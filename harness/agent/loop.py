"""The agent of one lab host (`harness agent`): registers the host and its inventory's devices, keeps a
heartbeat, and runs the jobs of its host's queue, one per device at a time (procrastinate's lock per
device, and the device's local lock the run takes), until SIGINT/SIGTERM.

One thread owns the database; each running job has a thread waiting for its run. When the database is
gone (restarted, cut off) the running jobs go on, nothing new starts, and their results wait in memory
until the database is back; only this host's agent ever starts this host's jobs again, so a job is never
started twice because its agent was out of reach. A job left running by a previous agent of this host
(killed) is handed back to the queue and resumes its run (see runner.py); one started `max_starts`
times without finishing is an ERROR. First SIGINT/SIGTERM: finish the running jobs, start no more;
second: stop them cleanly and hand them back to the queue.

A job for "any device tagged T" waits on that tag's queue with no device. A free device (not running
anything here) takes the oldest job of its own queue and of its tags' queues, priorities first (a health
check before runs), so a device with a steady stream of its own jobs still serves its tags in turn; a
tag job it fetches (only while it is not reserved nor quarantined) claims the device in the same
transaction (its lock, this host's queue), after which it is an ordinary job of that device. A running
job ended elsewhere while this host was silent (`harness cancel --force`) has its run stopped here and
nothing recorded over that end; and whatever the database's locks say, this agent never starts a job on
a device it still runs one on (only the devices free here fetch)."""

from __future__ import annotations

import contextlib
import os
import queue as queues
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import FrameType
from typing import Any

import psycopg

from ..specs import DeviceSpec
from . import health, leases, registry
from . import queue as jobq
from .db import Conn, Db, DbUnavailable
from .dburl import conninfo
from .names import DEFAULT_HEALTH_SUITE, HEALTH_TASK, RUN_TASK, host_queue, tag_queue
from .runner import JobResult, JobRunner, JobSpec, RunningJob
from .schema import ensure_schema

MAX_BACKOFF = 2.0


@dataclass
class AgentConfig:
    host: str
    db_url: str
    devices: list[DeviceSpec]
    heartbeat: float = 2.0
    host_timeout: float = 30.0  # a host silent this long is taken for dead (its devices may be claimed)
    poll: float = 1.0  # look at the queue at least this often (a NOTIFY wakes the agent sooner)
    health_every: float = 6 * 3600.0  # 0: no periodic health checks
    health_suite: str = DEFAULT_HEALTH_SUITE
    max_starts: int = 3


@dataclass
class _Running:
    job: jobq.QueuedJob
    handle: RunningJob | None
    hand_back: bool = False
    cancel: bool = False
    ended_elsewhere: bool = False  # ended by hand while this host was silent: stop it, record nothing


@dataclass
class _Finished:
    job: jobq.QueuedJob
    result: JobResult
    hand_back: bool = False
    cancel: bool = False
    ended_elsewhere: bool = False


@dataclass
class _Timer:
    every: float
    due: float = 0.0

    def ready(self, now: float) -> bool:
        if self.every <= 0 or now < self.due:
            return False
        self.due = now + self.every
        return True


@dataclass
class _Stats:
    started: int = 0
    finished: int = 0
    handed_back: int = 0
    recovered: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Agent:
    def __init__(
        self, config: AgentConfig, runner: JobRunner, *, say: Callable[[str], None] | None = None
    ) -> None:
        self.config = config
        self.runner = runner
        self.db = Db(config.db_url)
        self.instance = secrets.token_hex(8)
        self.devices = {d.name: d for d in config.devices}
        self.worker_id: int | None = None
        self.running: dict[int, _Running] = {}
        self.pending: list[_Finished] = []  # finished, not yet recorded (the database was away)
        self.events: queues.SimpleQueue[tuple[Any, ...]] = queues.SimpleQueue()
        self.signals = 0
        self.connected = False
        self.stats = _Stats()
        self._say = say or (lambda line: print(line, file=sys.stderr, flush=True))
        self._heartbeat = _Timer(config.heartbeat)
        self._sweep = _Timer(max(config.heartbeat * 3, 1.0))
        self._health = _Timer(config.health_every)
        self._aborts = _Timer(1.0)
        self._backoff = 0.1
        self._retry_at = 0.0
        self._quit = threading.Event()
        self._registered = False
        self._stop_asked = False
        self._superseded_seen = False

    def say(self, line: str) -> None:
        self._say(f"agent {self.config.host}: {line}")

    # -- the loop -----------------------------------------------------------------------------------

    def run(self) -> int:
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        listener = threading.Thread(target=self._listen, name="agent-listen", daemon=True)
        try:
            listener.start()
            while True:
                self._handle_signals()
                if self.signals and not self.running and not self.pending:
                    break
                if time.monotonic() >= self._retry_at:
                    try:
                        self._db_step()
                        self._backoff = 0.1
                    except DbUnavailable as exc:
                        if not self._registered:
                            raise  # never reached it: a wrong URL or password is one line, exit 3
                        self._lost(exc)
                self._wait_events(self._next_wakeup())
            self._close()
        finally:
            self._quit.set()
            for s, h in old.items():
                signal.signal(s, h)
        self.say(f"stopped ({self.stats.finished} jobs finished, {self.stats.handed_back} handed back)")
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        self.events.put(("signal",))  # SimpleQueue.put is safe in a signal handler

    def _handle_signals(self) -> None:
        if self.signals == 1 and not self._stop_asked:
            self._stop_asked = True
            self.say(
                f"stopping: no new jobs; finishing {len(self.running)} running "
                "(again to stop them and hand them back to the queue)"
            )
        if self.signals >= 2:
            for run in self.running.values():
                if not run.hand_back:
                    run.hand_back = True
                    if run.handle is not None:
                        run.handle.stop()

    def _next_wakeup(self) -> float:
        now = time.monotonic()
        if not self.connected:
            return max(0.01, self._retry_at - now)
        return max(0.01, min(self.config.poll, self._heartbeat.due - now))

    def _wait_events(self, timeout: float) -> None:
        try:
            event = self.events.get(timeout=timeout)
        except queues.Empty:
            return
        while True:
            if event[0] == "done":
                _, job_id, result = event
                run = self.running.pop(job_id)
                self.pending.append(
                    _Finished(run.job, result, run.hand_back, run.cancel, run.ended_elsewhere)
                )
            try:
                event = self.events.get_nowait()
            except queues.Empty:
                return

    def _lost(self, exc: DbUnavailable) -> None:
        if self.connected or not self._registered:
            self.say(f"{exc}; {len(self.running)} running jobs go on, no new ones start until it is back")
        self.connected = False
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(MAX_BACKOFF, self._backoff * 2)

    # -- with the database --------------------------------------------------------------------------

    def _db_step(self) -> None:
        if not self._registered:
            self.db.run(self._register)
            self._registered = True
        elif not self.connected:
            self.db.run(self._reconnected)
        self.connected = True
        now = time.monotonic()
        if self._heartbeat.ready(now):
            self.db.run(self._beat)
        # Before recording a result, and every second for the running jobs: asked to stop, or ended
        # elsewhere while this host was silent?
        check = [f.job.id for f in self.pending if not f.ended_elsewhere]
        if self.running and self._aborts.ready(now):
            check += list(self.running)
        if check:
            self.db.run(lambda c: self._check_runs(c, check))
        self._record_finished()
        if self._sweep.ready(now) and not self._superseded_seen:
            self.db.run(self._recover_orphans)
        if self.signals:
            return
        if self._health.ready(now):
            self.db.run(self._queue_health_checks)
        while free := self._free_devices():
            # Each free device takes the oldest job of its own queue and its tags' queues: one transaction
            # of three round trips (four when a tag job is among them).
            fetched = self.db.run(lambda c: self._start_next(c, free))  # noqa: B023
            if fetched < len(free):
                break

    def _busy(self) -> dict[str, int]:
        """device -> the job it runs here (ours, whatever the database says)."""
        return {run.job.device: job_id for job_id, run in self.running.items()}

    def _free_devices(self) -> list[str]:
        busy = self._busy()
        return [d for d in self.devices if d not in busy]

    def _worker(self) -> int:
        assert self.worker_id is not None
        return self.worker_id

    def _register(self, conn: Conn) -> None:
        ensure_schema(conn)
        registry.register_host(conn, self.config.host, self.instance, os.getpid(), self.config.host_timeout)
        taken = registry.register_devices(
            conn, self.config.host, self.config.devices, self.config.host_timeout
        )
        jobq.prune_workers(conn, self.config.host_timeout)
        self.worker_id = jobq.register_worker(conn)
        conn.execute(
            "UPDATE harness_hosts SET worker_id = %s WHERE name = %s", (self.worker_id, self.config.host)
        )
        for name in taken:
            self.say(f"took over device {name!r} from a host whose agent is gone")
        self.say(
            f"registered {len(self.devices)} devices on queue {host_queue(self.config.host)} "
            f"({self.db.where}, worker {self.worker_id})"
        )
        self._recover_orphans(conn)

    def _reconnected(self, conn: Conn) -> None:
        if not registry.heartbeat(conn, self.config.host, self.instance):
            self._superseded()  # before adopting anything: the jobs are the other agent's now
            return
        if not jobq.worker_heartbeat(conn, self._worker()):
            self.worker_id = jobq.register_worker(conn)
            jobq.adopt(conn, list(self.running), self.worker_id)
        self._aborts.due = 0.0  # what became of our running jobs meanwhile: at once
        self.say(f"queue database back; {len(self.pending)} results to record")

    def _beat(self, conn: Conn) -> None:
        if not registry.heartbeat(conn, self.config.host, self.instance):
            self._superseded()
            return
        if not jobq.worker_heartbeat(conn, self._worker()):
            self.worker_id = jobq.register_worker(conn)
            jobq.adopt(conn, list(self.running), self.worker_id)

    def _superseded(self) -> None:
        """Another agent took this host name while we were away (past the host timeout): it owns the
        queue and has requeued our jobs as orphans, so they may be running again under it. Ours are
        stopped and their results dropped: recording them would overwrite the new runs' records."""
        if self._superseded_seen:
            return
        self._superseded_seen = True
        self.signals = max(self.signals, 1)
        self.say(f"another agent has taken this host's name: starting no more jobs; stopping "
                 f"{len(self.running)} running and recording none of them")
        for run in self.running.values():
            run.ended_elsewhere = True
            if run.handle is not None:
                run.handle.stop()
        for done in self.pending:
            done.ended_elsewhere = True

    def _recover_orphans(self, conn: Conn) -> None:
        mine = set(self.running) | {f.job.id for f in self.pending}
        for job in jobq.orphans(conn, self.config.host):
            if job.id in mine:
                continue
            if jobq.hand_back(conn, job.id):
                self.stats.recovered += 1
                jobq.record_run(
                    conn,
                    jobq.RunRecord(
                        job_id=job.id,
                        device=job.device,
                        state="queued",
                        note="not running on its host (its agent was gone): queued again, resumes its run",
                    ),
                )
                self.say(f"job {job.id} on {job.device}: marked running, not running here; queued again")
        for job in jobq.foreign_jobs(conn, self.config.host, list(self.devices)):
            jobq.finish(conn, job.id, "failed")
            note = f"host {self.config.host} has no device {job.device!r}"
            jobq.record_run(conn, jobq.RunRecord(job_id=job.id, device=job.device, state="error", ended=True,
                                                 note=note))
            self.say(f"job {job.id}: {note}; ended as an error")

    def _check_runs(self, conn: Conn, job_ids: list[int]) -> None:
        pending = {f.job.id: f for f in self.pending}
        for job_id, check in jobq.check_running(conn, job_ids).items():
            done, run = pending.get(job_id), self.running.get(job_id)
            if check.ended_elsewhere:
                why = check.note or (f"now {check.status}" if check.status else "gone from the queue")
                if done is not None and not done.ended_elsewhere:
                    done.ended_elsewhere = True
                    self.say(f"job {job_id} on {done.job.device}: ended elsewhere ({why}); recording nothing")
                elif run is not None and not run.ended_elsewhere:
                    run.ended_elsewhere = True
                    if run.handle is not None:
                        run.handle.stop()
                    self.say(f"job {job_id} on {run.job.device}: ended elsewhere ({why}); stopping its run,"
                             " recording nothing")
            elif check.abort_requested and run is not None and not run.cancel:
                run.cancel = True
                if run.handle is not None:
                    run.handle.stop()
                self.say(f"job {job_id} on {run.job.device}: cancel requested; stopping it")

    def _queue_health_checks(self, conn: Conn) -> None:
        for name in self.devices:
            self._queue_health(conn, name)

    def _queue_health(self, conn: Conn, device: str) -> None:
        jobq.submit(
            conn,
            jobq.JobRequest(
                device=device,
                host=self.config.host,
                kind=HEALTH_TASK,
                suites=(self.config.health_suite,),
                submitter=f"agent@{self.config.host}",
            ),
        )

    def _start_next(self, conn: Conn, free: list[str]) -> int:
        """The next job of each free device (`queue.fetch_next`), started in the transaction that fetched
        it: each device's gate (its row locked, in name order), the claim of the tag jobs among them (their
        device's lock, this host's queue), the records, the commit. A device's own job that may not start
        waits as its gate says; a tag job that cannot have its device after all goes back to its tag's
        queue. Returns how many jobs were fetched."""
        wants = [(d, self.devices[d].tags) for d in sorted(free)]
        started: list[jobq.QueuedJob] = []
        try:
            with conn.pipeline(), conn.transaction():
                fetched = jobq.fetch_next(conn, self.config.host, wants, self._worker())
                if not fetched:
                    return 0
                gates = leases.check_gates(conn, [(d, j.task, j.id) for d, j in fetched])
                # A tag job (no device yet) that passed its device's gate claims that device.
                asks = [(j.id, d) for (d, j), (gate, _) in zip(fetched, gates, strict=True)
                        if j.tag and not j.device and gate.go]
                won = {j for (j, _), ok in zip(asks, jobq.claim(conn, asks, self.config.host), strict=True)
                       if ok} if asks else set()
                for (device, job), (gate, starts) in zip(fetched, gates, strict=True):
                    if job.tag and not job.device:
                        if job.id not in won:
                            jobq.hand_back(conn, job.id, wait=False)  # back to its tag's queue
                            continue
                        job = replace(job, device=device)
                    if self._gate_step(conn, job, gate, starts):
                        started.append(job)
        except psycopg.errors.UniqueViolation:
            # A device got a running job between the check and the claim: the whole batch stays queued.
            self.say("a device of this host took a job meanwhile; its jobs wait for the next round")
            return 0
        for job in started:
            if job.id in won:
                self.say(f"job {job.id}: for any device tagged {job.tag!r}, takes {job.device}")
            self._launch(job)
        return len(fetched)

    def _gate_step(self, conn: Conn, job: jobq.QueuedJob, gate: leases.Gate, starts: int) -> bool:
        """The job's writes after its gate (sent, not waited for); True when it starts."""
        if not gate.go:
            jobq.hand_back(conn, job.id, gate.until, wait=False)
            jobq.record_run(
                conn,
                jobq.RunRecord(
                    job_id=job.id,
                    device=job.device,
                    state="waiting",
                    host=self.config.host,
                    note=gate.note,
                ),
            )
            return False
        if starts >= self.config.max_starts:
            jobq.finish(conn, job.id, "failed", wait=False)
            note = f"started {self.config.max_starts} times without finishing (its agent kept dying)"
            jobq.record_run(
                conn,
                jobq.RunRecord(job_id=job.id, device=job.device, state="error", ended=True, note=note),
            )
            return False
        jobq.record_run(
            conn,
            jobq.RunRecord(
                job_id=job.id, device=job.device, state="running", host=self.config.host, started=True
            ),
        )
        return True

    def _launch(self, job: jobq.QueuedJob) -> None:
        spec = JobSpec(
            job_id=job.id,
            device=job.device,
            suites=job.suites,
            keyword=job.keyword,
            health=job.task == HEALTH_TASK,
        )
        self.running[job.id] = _Running(job, None)
        self.stats.started += 1
        threading.Thread(target=self._run_job, args=(spec,), name=f"job-{job.id}", daemon=True).start()

    def _run_job(self, spec: JobSpec) -> None:
        try:
            handle = self.runner.start(spec)
            run = self.running.get(spec.job_id)
            if run is not None:
                run.handle = handle
                if run.hand_back or run.cancel or run.ended_elsewhere:  # asked before the run had started
                    handle.stop()
            result = handle.wait()
        except Exception as exc:  # the host's own trouble starting the run: the job's ERROR, not the agent's
            result = JobResult(state="error", note=f"the run did not start: {type(exc).__name__}: {exc}")
        self.events.put(("done", spec.job_id, result))

    def _record_finished(self) -> None:
        if self.pending:
            batch = list(self.pending)
            self.db.run(lambda c: self._record(c, batch))
            del self.pending[: len(batch)]

    def _record(self, conn: Conn, batch: list[_Finished]) -> None:
        with conn.pipeline():  # every finish and its record in one round trip
            checks = [done.job.device for done in batch if self._record_steps(conn, done)]
        for device in checks:  # lab trouble: is the device all right? (outside the pipeline: it may collide)
            self._queue_health(conn, device)

    def _record_steps(self, conn: Conn, done: _Finished) -> bool:
        job, result = done.job, done.result
        record = jobq.RunRecord(
            job_id=job.id,
            device=job.device,
            state=result.state,
            host=self.config.host,
            exit_code=result.exit_code,
            verdict=result.verdict,
            run_id=result.run_id,
            bundle_path=result.bundle_path,
            bundle_sha256=result.bundle_sha256,
            note=result.note,
            ended=True,
        )
        if done.ended_elsewhere:  # its end is someone else's record; the device is free again
            jobq.wake(conn, job.device)
            self.say(f"job {job.id} on {job.device}: its run has stopped ({result.state}); not recorded,"
                     " the job was ended elsewhere")
            return False
        if done.cancel:
            jobq.finish(conn, job.id, "aborted", wait=False)
            note = "cancelled while running (its records are kept)"
            jobq.record_run(conn, replace(record, state="cancelled", note=note))
            self.say(f"job {job.id} on {job.device}: cancelled")
            return False
        if done.hand_back:
            jobq.hand_back(conn, job.id, wait=False)
            note = "handed back when its agent stopped; resumes its run"
            jobq.record_run(conn, replace(record, state="queued", ended=False, note=note))
            self.stats.handed_back += 1
            self.say(f"job {job.id} on {job.device}: handed back to the queue")
            return False
        # A health check's answer is waited for: one ended elsewhere since the last look must not
        # quarantine or release its device (a run's record is refused by the database's own guard).
        health_check = job.task == HEALTH_TASK
        status = "succeeded" if result.state == "pass" else "failed"
        if not jobq.finish(conn, job.id, status, wait=health_check) and health_check:
            self.say(f"job {job.id} on {job.device}: ended elsewhere meanwhile; its check is not counted")
            return False
        jobq.record_run(conn, record)
        self.stats.finished += 1
        digest = f" sha256 {result.bundle_sha256[:16]}" if result.bundle_sha256 else ""
        self.say(
            f"job {job.id} on {job.device}: {result.state}"
            f"{f' ({result.verdict})' if result.verdict else ''}{digest}"
        )
        if health_check:
            detail = result.note or result.verdict or result.state
            change = health.record_check(conn, job.device, result.state == "pass", detail)
            if change.quarantined:
                self.say(f"device {job.device!r} quarantined: {change.reason}")
        elif job.task == RUN_TASK and result.state == "error":
            return True
        return False

    def _close(self) -> None:
        with contextlib.suppress(DbUnavailable):
            self.db.run(lambda c: registry.mark_stopped(c, self.config.host, self.instance))
            if self.worker_id is not None:
                self.db.run(lambda c: jobq.unregister_worker(c, self._worker()))
        self.db.close()

    # -- wake-ups -----------------------------------------------------------------------------------

    def _listen(self) -> None:
        """NOTIFY from procrastinate when a job lands in our queue: wake the loop at once."""
        tags = {t for d in self.devices.values() for t in d.tags}
        queues = {host_queue(self.config.host)} | {tag_queue(t) for t in tags}
        channels = sorted(f"procrastinate_queue_v1#{q}" for q in queues)
        backoff = 0.1
        while not self._quit.is_set():
            try:
                with psycopg.connect(
                    conninfo(self.config.db_url), autocommit=True, connect_timeout=5
                ) as conn:
                    for channel in channels:
                        conn.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel)))
                    backoff = 0.1
                    while not self._quit.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.events.put(("wake",))
            except psycopg.Error:
                self._quit.wait(backoff)  # the reconnect backoff while the database is away
                backoff = min(MAX_BACKOFF, backoff * 2)
