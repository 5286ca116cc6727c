"""Orchestration of `harness run`, `--resume` and `retry`: pick the work per device, run the workers,
then build results, junit.xml, reports/latest, the verdict table and the gate code."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic_file import write_atomic
from ..errors import ConfigError
from ..results.run_info import Invocation, RunInfo
from ..suites import Suite, discover_suites
from .finish import finish_run
from .progress import ProgressView
from .rundir import RunDir, update_latest
from .state import DeviceState, device_state
from .worker import WorkerArgs
from .workers import INTERRUPT_GRACE, run_workers


@dataclass
class DeviceJob:
    """What one device runs: all selected tests (`only` None) or just these ids, as this attempt."""

    device: str
    attempt: int = 1
    only: list[str] | None = None


@dataclass
class RunOptions:
    progress: ProgressView
    junit_paths: list[Path] = field(default_factory=list)
    strict: bool = False
    grace: float = INTERRUPT_GRACE
    via: str | None = None


def suites_of(info: RunInfo) -> list[Suite]:
    """The run's suites as they are on disk now; refuse when one changed since the run recorded it."""
    known = discover_suites(Path(info.suites_root))
    suites = []
    for ref in info.suites:
        suite = known.get(ref.id)
        if suite is None:
            raise ConfigError(f"suite {ref.id!r} of run {info.run_id} is gone from {info.suites_root}")
        if suite.content_hash() != ref.content_hash:
            raise ConfigError(f"suite {ref.id!r} changed since run {info.run_id} started "
                              f"(content hash differs); start a new run instead")
        suites.append(suite)
    return suites


def _only_file(run: RunDir, job: DeviceJob) -> Path | None:
    if job.only is None:
        return None
    path = run.path / "selection" / f"{job.device}.attempt{job.attempt}.{time.time_ns()}.txt"
    path.parent.mkdir(exist_ok=True)
    write_atomic(path, "".join(f"{t}\n" for t in job.only))
    return path


def execute(run: RunDir, info: RunInfo, jobs: list[DeviceJob], action: str, command_line: list[str],
            opts: RunOptions) -> int:
    """Run `jobs` in `run`, record the invocation in run.json, finish the run; returns the gate code."""
    suites = suites_of(info)
    invocation = Invocation(action=action, command_line=command_line, start=time.time(),
                            attempt=max((j.attempt for j in jobs), default=1),
                            devices=[j.device for j in jobs])
    info.invocations.append(invocation)
    info.end = None
    run.write_info(info)
    update_latest(run)  # now, not at publish: after a crash, `--resume latest` is this run
    worker_jobs = []
    for job in jobs:
        if run.mend_journal(job.device):
            opts.progress.note(f"[{job.device}] its journal ended in a torn line (a crash or a full disk); "
                               "cut off, the test it held runs again")
        args = WorkerArgs(
            device=job.device, inventory=Path(info.inventory), run_dir=run.path,
            suites_root=Path(info.suites_root), suite_paths=[s.path.resolve() for s in suites],
            keyword=info.keyword, attempt=job.attempt, repeat=info.repeat, only_file=_only_file(run, job),
            shard=info.shard, test_timeout=info.test_timeout, via=opts.via,
        )
        worker_jobs.append((args, run.log_dir(job.device) / "worker.log"))
    outcome = run_workers(worker_jobs, opts.progress, grace=opts.grace) if worker_jobs else None
    invocation.end = time.time()
    invocation.interrupted = bool(outcome and outcome.interrupted)
    for device, code in (outcome.exit_codes.items() if outcome else ()):
        # pytest: 0 passed, 1 tests failed, 2 interrupted, 5 nothing collected; others: the worker broke.
        if code not in (0, 1, 2, 5):
            log = run.log_dir(device) / "worker.log"
            opts.progress.note(f"[{device}] worker exited with {code}; see {log}")
    return finish_run(run, info, interrupted=invocation.interrupted, junit_paths=opts.junit_paths,
                      strict=opts.strict or info.strict, progress=opts.progress)


def states(run: RunDir, info: RunInfo) -> dict[str, DeviceState]:
    return {d: device_state(d, run.journal(d)) for d in info.devices}


def resume_jobs(run: RunDir, info: RunInfo, selected: list[str] | None) -> list[DeviceJob]:
    """Per device, the planned tests of its latest attempt that have no result yet. A device that never
    wrote a plan (killed before collection finished) runs its whole selection again."""
    jobs = []
    for device, state in states(run, info).items():
        if not state.has_plan:
            jobs.append(DeviceJob(device, attempt=max(1, state.last_attempt), only=selected))
            continue
        attempt = state.last_attempt
        missing = state.missing(attempt)
        if missing:
            jobs.append(DeviceJob(device, attempt=attempt, only=missing))
    return jobs


def retry_jobs(run: RunDir, info: RunInfo) -> list[DeviceJob]:
    """Per device, the tests whose latest attempt is FAIL, ERROR or NOT_RUN, as the next attempt."""
    jobs = []
    for device, state in states(run, info).items():
        todo = state.to_retry() if state.has_plan else None
        if todo is None or todo:
            jobs.append(DeviceJob(device, attempt=state.last_attempt + 1, only=todo))
    return jobs
