"""harness run / retry / merge: run suites on many devices at once, resume, retry, merge shards.

Exit codes are the CI gate (harness.run.gate): 0 pass, 1 product failure, 2 usage or configuration
error (also: `retry` refused because a device now runs a different build), 3 incomplete or lab trouble
(also: a device locked by another run, harness.locks; output lost or a hangup, harness.run.output)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ..atomic_file import write_atomic
from ..errors import ConfigError
from ..inventory import load_inventory
from ..links import LINKS
from ..locks import LockHolder, hold_devices
from ..plugin.selection import Shard
from ..preflight import check_links
from ..results.run_info import RunInfo
from ..run.finish import finish_run
from ..run.gate import EXIT_INCOMPLETE, EXIT_USAGE
from ..run.merge import merge_runs
from ..run.output import guard_output
from ..run.progress import ProgressView, make_progress
from ..run.retry import check_builds
from ..run.rundir import RunDir, check_new_run_id, create_run_dir, new_info, resolve_run
from ..run.runid import new_run_id
from ..run.runner import DeviceJob, RunOptions, execute, resume_jobs, retry_jobs, states, suites_of
from ..run.selection import Selection, collect_test_ids, resolve_suites
from ..run.workers import INTERRUPT_GRACE
from ..suites import default_suites_root
from .app import cli, fail
from .params import HOUR, WEEK, Seconds
from .publish_cmd import check_publish_option, publish_after_run

_common = [
    click.option("--reports", type=click.Path(path_type=Path, file_okay=False), default=Path("reports"),
                 show_default=True, help="Folder of run directories."),
    click.option("--junit", type=click.Path(path_type=Path, dir_okay=False), default=None,
                 help="Also write junit.xml here."),
    click.option("--strict", is_flag=True, help="Pass the gate only when every device is CERTIFIED."),
    click.option("--plain", is_flag=True, help="One line per test even on a terminal."),
    click.option("--grace", type=Seconds(0, HOUR), default=INTERRUPT_GRACE, show_default=True,
                 help="On Ctrl-C: seconds the workers get to write their records before they are killed."),
]


def common_options(fn: Any) -> Any:
    for option in reversed(_common):
        fn = option(fn)
    return fn


wait_lock_option = click.option(
    "--wait-lock", type=Seconds(0, WEEK), default=0.0, metavar="SECONDS",
    help="Wait up to SECONDS for devices another run holds (default: refuse at once, exit 3).")


@contextmanager
def _devices_locked(devices: list[str], action: str, run_id: str, wait: float,
                    progress: ProgressView) -> Iterator[None]:
    """This run alone drives its devices: their locks on this host (harness.locks), for the whole run."""

    def waiting(name: str, holder: LockHolder | None) -> None:
        who = holder.describe() if holder else "another harness process"
        progress.note(f"device {name!r} is in use by {who}: waiting up to {wait:g}s for it (--wait-lock)")

    def stale(name: str, holder: LockHolder) -> None:
        progress.note(f"device {name!r}: took over the lock left by {holder.describe()}, which is gone")

    with hold_devices(devices, LockHolder.me(action, run_id), wait, on_wait=waiting, on_stale=stale,
                      hint="wait for it with --wait-lock SECONDS, or try again later"):
        yield


WAIVER_FILE = "waivers.json"


def _checked_waivers(path: Path | None, key_path: Path | None) -> str | None:
    """The waiver file's text once its signature by the platform checks out (ConfigError, exit 2,
    otherwise): a waiver the platform did not sign never changes a verdict."""
    if path is None:
        if key_path is not None:
            raise click.UsageError("--platform-key goes with --waivers FILE")
        return None
    from ..waivers import load_waiver_file
    from .cert_cmd import load_platform_key

    envelope, _ = load_waiver_file(path, load_platform_key(key_path))
    return envelope.text()


def _command_line() -> list[str]:
    return ["harness", *sys.argv[1:]]


def _options(junit: Path | None, strict: bool, plain: bool, grace: float,
             via: str | None = None) -> RunOptions:
    return RunOptions(progress=make_progress(plain or None), junit_paths=[junit] if junit else [],
                      strict=strict, grace=grace, via=via)


@cli.command("run")
@click.argument("suite_ids", nargs=-1)
@click.option("--device", "-d", "devices", multiple=True, help="Device name (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Every device with this tag (repeatable).")
@click.option("--all", "all_", is_flag=True, help="Every device in the inventory.")
@click.option("-k", "keyword", default=None, help="pytest -k expression.")
@click.option("--include", multiple=True, help="Only test ids matching this glob (repeatable).")
@click.option("--exclude", multiple=True, help="Leave out test ids matching this glob (repeatable).")
@click.option("--repeat", type=click.IntRange(min=1), default=1, help="Run each test N times.")
@click.option("--test-timeout", type=Seconds(0, WEEK, low_open=True), default=600.0, show_default=True,
              help="Stop a test after SECONDS (ERROR), so an unattended run cannot hang for ever.")
@click.option("--shard", "shard_text", default=None, help="K/N: run the K-th of N slices of the tests.")
@click.option("--run-id", default=None, help="Name of the run directory (default: time + random).")
@click.option("--resume", "resume_ref", default=None, metavar="RUN",
              help="Finish RUN (id, path or 'latest'): only planned tests without a result.")
@click.option("--suites-root", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder of suites (default: the suites beside the harness).")
@click.option("--via", type=click.Choice(LINKS.names()), default=None, help="Link to use.")
@wait_lock_option
@click.option("--publish", "publish_url", default=None, metavar="URL", callback=check_publish_option,
              help="Then publish the bundle to the platform at URL (token: $HARNESS_PLATFORM_TOKEN).")
@click.option("--waivers", "waiver_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The platform's signed waiver file: verdicts with its waivers, as the platform does.")
@click.option("--platform-key", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The platform's public key that signed --waivers (default: $HARNESS_PLATFORM_KEY).")
@common_options
@click.pass_context
def run(ctx: click.Context, suite_ids: tuple[str, ...], devices: tuple[str, ...], tags: tuple[str, ...],
        all_: bool, keyword: str | None, include: tuple[str, ...], exclude: tuple[str, ...], repeat: int,
        test_timeout: float | None, shard_text: str | None, run_id: str | None, resume_ref: str | None,
        suites_root: Path | None, via: str | None, wait_lock: float, reports: Path, junit: Path | None,
        strict: bool, plain: bool, grace: float, publish_url: str | None, waiver_path: Path | None,
        platform_key: Path | None) -> int:
    """Run SUITE... (default: every suite) on the chosen devices, one worker per device in parallel."""
    guard_output()
    waiver_text = _checked_waivers(waiver_path, platform_key)
    if resume_ref is not None:
        if waiver_text is not None:
            raise click.UsageError("--resume keeps the run's own waivers; --waivers is for a new run")
        if suite_ids or devices or tags or all_ or keyword or include or exclude or shard_text or run_id:
            raise click.UsageError("--resume takes the run's own suites, devices and selection; "
                                   "give only --reports/--junit/--strict with it")
        code = _resume(resume_ref, reports, _options(junit, strict, plain, grace, via), wait_lock)
        return publish_after_run(code, resolve_run(resume_ref, reports).path, publish_url)
    shard = Shard.parse(shard_text, "--shard") if shard_text is not None else None
    root = (suites_root or default_suites_root()).resolve()
    suites = resolve_suites(list(suite_ids), root)
    inventory_path = Path(ctx.obj["inventory"]).resolve()
    specs = load_inventory(inventory_path).select(list(devices), list(tags), all_)
    if not specs:
        raise ConfigError(f"{inventory_path}: no devices to run on")
    check_links(specs, via)
    selection = Selection(root, suites, keyword, list(include), list(exclude))
    selected = collect_test_ids(selection) if selection.filtered else None
    if selected is not None and not selected:
        raise ConfigError("no test matches the --include/--exclude globs")
    run_id = run_id or new_run_id()
    check_new_run_id(reports.resolve(), run_id)
    opts = _options(junit, strict, plain, grace, via)
    names = [s.name for s in specs]
    with _devices_locked(names, "run", run_id, wait_lock, opts.progress):
        run_dir = create_run_dir(reports.resolve(), run_id)
        info = new_info(run_dir.run_id, suites, names, inventory_path, root, _command_line())
        info.shard, info.keyword, info.include, info.exclude = (str(shard) if shard else None), keyword, \
            list(include), list(exclude)
        info.repeat, info.test_timeout, info.strict = repeat, test_timeout, strict
        info.declared = {s.name: {k: v for k, v in (("model", s.model), ("soc", s.soc)) if v} for s in specs}
        if waiver_text is not None:
            write_atomic(run_dir.path / WAIVER_FILE, waiver_text)
            info.waiver_file = WAIVER_FILE
        jobs = [DeviceJob(s.name, attempt=1, only=selected) for s in specs]
        code = execute(run_dir, info, jobs, "run", _command_line(), opts)
    return publish_after_run(code, run_dir.path, publish_url)


def _check_run_links(info: RunInfo, via: str | None) -> None:
    """A resumed or retried run's devices, as its inventory says now, before anything is appended."""
    inventory = load_inventory(Path(info.inventory))
    check_links([inventory.get(name) for name in info.devices], via)


def _selected_again(info_root: Path, run_info: RunInfo) -> list[str] | None:
    if not (run_info.include or run_info.exclude):
        return None
    sel = Selection(info_root, suites_of(run_info), run_info.keyword, run_info.include, run_info.exclude)
    return collect_test_ids(sel)


def _resume(ref: str, reports: Path, opts: RunOptions, wait_lock: float) -> int:
    run_dir = resolve_run(ref, reports)
    info = run_dir.read_info()
    _check_run_links(info, opts.via)
    # Locked before the journals are read: a second resume of the same run waits, then finds less to do.
    with _devices_locked(info.devices, "resume", info.run_id, wait_lock, opts.progress):
        info = run_dir.read_info()  # as it is now that the run is ours
        jobs = resume_jobs(run_dir, info, _selected_again(Path(info.suites_root), info))
        if not jobs:
            opts.progress.note(f"run {info.run_id}: every planned test has a result; nothing to resume")
        return execute(run_dir, info, jobs, "resume", _command_line(), opts)


@cli.command("retry")
@click.argument("run_ref", metavar="RUN")
@click.option("--force", is_flag=True, help="Retry even on a device whose build fingerprint changed.")
@click.option("--via", type=click.Choice(LINKS.names()), default=None, help="Link to use.")
@wait_lock_option
@common_options
def retry(run_ref: str, force: bool, via: str | None, wait_lock: float, reports: Path, junit: Path | None,
          strict: bool, plain: bool, grace: float) -> int:
    """Rerun the FAIL, ERROR and NOT_RUN tests of RUN as its next attempt, on the same builds.

    Refuses (exit 2) when a device reports a different build fingerprint than the run recorded, unless
    --force; exits 3 when a device does not answer the check."""
    guard_output()
    run_dir = resolve_run(run_ref, reports)
    info = run_dir.read_info()
    opts = _options(junit, strict, plain, grace, via)
    _check_run_links(info, via)
    with _devices_locked(info.devices, "retry", info.run_id, wait_lock, opts.progress):
        return _retry(run_dir, run_dir.read_info(), opts, force, strict)


def _retry(run_dir: RunDir, info: RunInfo, opts: RunOptions, force: bool, strict: bool) -> int:
    jobs = retry_jobs(run_dir, info)
    if not jobs:
        opts.progress.note(f"run {info.run_id}: nothing to retry (no FAIL, ERROR or NOT_RUN)")
        return finish_run(run_dir, info, interrupted=False, junit_paths=opts.junit_paths,
                          strict=strict or info.strict)
    by_device = states(run_dir, info)
    checks = check_builds([by_device[j.device] for j in jobs], Path(info.inventory))
    for check in checks:
        if check.error is not None:
            fail(f"retry: device {check.device!r} did not answer the build check: {check.error}",
                 EXIT_INCOMPLETE)
        if not check.same_build:
            if not force:
                fail(f"retry refused: device {check.device!r} now reports build {check.current!r}, run "
                     f"{info.run_id} recorded {check.recorded!r} (use --force to retry anyway)", EXIT_USAGE)
            opts.progress.note(f"[{check.device}] build changed ({check.recorded} -> {check.current}); "
                               "retrying anyway (--force)")
    # A device that never got as far as a plan runs its whole selection, with the run's globs.
    selected = _selected_again(Path(info.suites_root), info)
    for job in jobs:
        if job.only is None:
            job.only = selected
    return execute(run_dir, info, jobs, "retry", _command_line(), opts)


@cli.command("merge")
@click.argument("run_refs", nargs=-1, required=True, metavar="RUN...")
@click.option("--run-id", default=None, help="Name of the merged run directory.")
@common_options
def merge(run_refs: tuple[str, ...], run_id: str | None, reports: Path, junit: Path | None, strict: bool,
          plain: bool, grace: float) -> int:
    """Combine shards (and their retries) into one new run whose results equal the unsharded run's."""
    guard_output()
    sources = [resolve_run(ref, reports) for ref in run_refs]
    if len({s.path for s in sources}) != len(sources):
        raise ConfigError("merge: the same run is named twice")
    target, info = merge_runs(sources, reports.resolve(), run_id or new_run_id(), _command_line())
    return finish_run(target, info, interrupted=False, junit_paths=[junit] if junit else [], strict=strict)
