"""How an agent runs one job: the seam (JobRunner) and the real one, SuiteRunner, which is the existing
`harness run` in its own process group: it takes the device's local lock itself, journals every test,
builds, signs and zips the bundle, and publishes it when the agent has a platform. The run directory
is named after the job (`job-<id>`), so a job that starts again after its agent died resumes that run
(`harness run --resume`): it waits for the device's lock while a run the dead agent left behind is
still going, and then redoes only what has no result."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .names import run_id_of

JOB_ID_ENV = "HARNESS_JOB_ID"  # the job's id, for the run's processes (and a suite that wants it)
RUN_WAIT_LOCK = 7 * 24 * 3600.0  # the run waits for its device's lock (a run left behind by a dead agent)


@dataclass(frozen=True)
class JobSpec:
    job_id: int
    device: str
    suites: tuple[str, ...] = ()
    keyword: str | None = None
    health: bool = False


@dataclass(frozen=True)
class JobResult:
    state: str  # pass | fail | error | cancelled | handed-back
    exit_code: int | None = None
    verdict: str | None = None
    run_id: str | None = None
    bundle_path: str | None = None
    bundle_sha256: str | None = None
    note: str | None = None


class RunningJob(Protocol):
    def wait(self) -> JobResult: ...

    def stop(self) -> None:
        """Ask the job to stop soon and cleanly (its records kept)."""


class JobRunner(Protocol):
    def start(self, spec: JobSpec) -> RunningJob: ...


def state_of(exit_code: int | None, verdict: str | None) -> str:
    """Pure: a job's outcome. The verdict decides when there is one (a failed publish does not turn a
    certified device into a product failure); without one, only exit 1 is the product's fault."""
    if verdict in ("CERTIFIED", "CONDITIONAL"):
        return "pass"
    if verdict == "NOT CERTIFIED":
        return "fail"
    if verdict is None and exit_code == 0:
        return "pass"
    return "error"  # INCOMPLETE, a device unreachable, a usage error, a crash: lab trouble


@dataclass
class SuiteRunner:
    inventory: Path
    reports: Path
    suites_root: Path | None = None
    publish_url: str | None = None
    test_timeout: float | None = None
    python: str = sys.executable
    extra_env: dict[str, str] = field(default_factory=dict)

    def argv(self, spec: JobSpec) -> list[str]:
        run_id = run_id_of(spec.job_id)
        base = [self.python, "-m", "harness", "-i", str(self.inventory), "run"]
        tail = ["--reports", str(self.reports), "--plain", "--wait-lock", f"{RUN_WAIT_LOCK:g}"]
        if self.publish_url:
            tail += ["--publish", self.publish_url]
        if (self.reports / run_id / "run.json").exists():
            return [*base, "--resume", run_id, *tail]
        argv = [*base, *spec.suites, "--device", spec.device, "--run-id", run_id, *tail]
        if spec.keyword:
            argv += ["-k", spec.keyword]
        if self.suites_root:
            argv += ["--suites-root", str(self.suites_root)]
        if self.test_timeout:
            argv += ["--test-timeout", f"{self.test_timeout:g}"]
        return argv

    def start(self, spec: JobSpec) -> _SuiteRun:
        self.reports.mkdir(parents=True, exist_ok=True)
        logs = self.reports / "agent-logs"
        logs.mkdir(exist_ok=True)
        env = {**os.environ, **self.extra_env, JOB_ID_ENV: str(spec.job_id)}
        with open(logs / f"{run_id_of(spec.job_id)}.log", "ab") as log:
            proc = subprocess.Popen(
                self.argv(spec),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )  # a Ctrl-C at the agent's terminal is the agent's
        return _SuiteRun(proc, self.reports, run_id_of(spec.job_id), spec.device)


class _SuiteRun:
    def __init__(self, proc: subprocess.Popen[bytes], reports: Path, run_id: str, device: str) -> None:
        self.proc, self.reports, self.run_id, self.device = proc, reports, run_id, device

    def stop(self) -> None:
        # As Ctrl-C at a terminal: the run stops its workers, keeps every record, exits 3.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGINT)

    def wait(self) -> JobResult:
        code = self.proc.wait()
        verdict = read_verdict(self.reports / self.run_id / "results.json", self.device)
        bundle = self.reports / f"{self.run_id}.zip"
        digest = sha256_of(bundle) if bundle.is_file() else None
        state = state_of(code, verdict)
        note = (
            None
            if state != "error"
            else f"lab trouble (harness run exit {code}, verdict {verdict or 'none'})"
        )
        return JobResult(
            state=state,
            exit_code=code,
            verdict=verdict,
            run_id=self.run_id,
            bundle_path=str(bundle) if digest else None,
            bundle_sha256=digest,
            note=note,
        )


def read_verdict(results: Path, device: str) -> str | None:
    try:
        doc = json.loads(results.read_text())
    except (OSError, ValueError):
        return None
    for entry in doc.get("devices", []):
        if isinstance(entry, dict) and entry.get("name") == device:
            verdict = entry.get("verdict")
            return str(verdict) if verdict else None
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
