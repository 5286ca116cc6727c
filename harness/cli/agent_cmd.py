"""harness agent | submit | jobs | cancel | reserve | quarantine: a lab over many hosts, on a PostgreSQL
queue (harness.agent). `harness run` stays as it is: one host, no database.

Exit codes: 0 done; 2 usage (bad flags, unknown device/tag/suite, no --db); 3 lab trouble (the database
unreachable, a device or host claimed by another live agent, a device reserved by someone else)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import click

from ..agent import health, leases, registry, selection
from ..agent import queue as jobq
from ..agent.db import Db
from ..agent.dburl import DB_ENV, resolve_url
from ..agent.loop import Agent, AgentConfig
from ..agent.names import DEFAULT_HEALTH_SUITE, HOST_NAME_MAX, HOST_TIMEOUT
from ..agent.owner import me, parse_duration
from ..agent.runner import SuiteRunner
from ..config_check import suggest
from ..errors import ConfigError
from ..inventory import load_inventory
from ..suites import default_suites_root, discover_suites
from .app import cli
from .params import HOUR, WEEK, Seconds

DB_OPTION = click.option("--db", "db_url", default=None, metavar="URL",
                         help=f"The queue's PostgreSQL (default: ${DB_ENV}).")


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            return parse_duration(str(value), WEEK)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _db(url: str | None) -> Db:
    return Db(resolve_url(url))


@cli.command("agent")
@DB_OPTION
@click.option("--host", "host", default=None, help="This lab host's name in the queue (default: hostname).")
@click.option("--reports", type=click.Path(path_type=Path, file_okay=False), default=Path("reports"),
              show_default=True, help="Where the jobs' runs are kept on this host.")
@click.option("--suites-root", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder of suites (default: the suites beside the harness).")
@click.option("--publish", "publish_url", default=None, metavar="URL",
              help="Publish each job's bundle to the platform at URL (token: $HARNESS_PLATFORM_TOKEN).")
@click.option("--health-every", type=Seconds(0, WEEK), default=6 * HOUR, show_default=True,
              help="Seconds between health checks of each device (0: none); one also runs at start.")
@click.option("--health-suite", default=DEFAULT_HEALTH_SUITE, show_default=True,
              help="The suite of the health check.")
@click.option("--heartbeat", type=Seconds(0.1, HOUR), default=2.0, show_default=True,
              help="Seconds between heartbeats.")
@click.option("--host-timeout", type=Seconds(1, WEEK), default=HOST_TIMEOUT, show_default=True,
              help="A host silent this long is taken for dead (its devices may be claimed by another).")
@click.option("--test-timeout", type=Seconds(0, WEEK, low_open=True), default=None,
              help="Each run's --test-timeout (default: harness run's).")
@click.pass_context
def agent(ctx: click.Context, db_url: str | None, host: str | None, reports: Path, suites_root: Path | None,
          publish_url: str | None, health_every: float, health_suite: str, heartbeat: float,
          host_timeout: float, test_timeout: float | None) -> int:
    """Serve this lab host: register its inventory's devices and run their queued jobs until Ctrl-C.

    One job per device at a time, with `harness run`; the first Ctrl-C (or SIGTERM) finishes the
    running jobs and starts no more, a second stops them and hands them back to the queue."""
    url = resolve_url(db_url)
    host = host or socket.gethostname()
    if not host or len(host.encode()) > HOST_NAME_MAX:
        raise ConfigError(f"--host {host!r}: give a name of 1 to {HOST_NAME_MAX} bytes (it names the host's "
                          "queue, and PostgreSQL's NOTIFY channel names are short)")
    inventory_path = Path(ctx.obj["inventory"]).resolve()
    specs = list(load_inventory(inventory_path).devices.values())
    if not specs:
        raise ConfigError(f"{inventory_path}: no devices to serve")
    root = (suites_root or default_suites_root()).resolve()
    if health_every and health_suite not in discover_suites(root):
        raise ConfigError(f"--health-suite {health_suite!r}: no such suite in {root}")
    config = AgentConfig(host=host, db_url=url, devices=specs, heartbeat=heartbeat,
                         host_timeout=host_timeout, health_every=health_every, health_suite=health_suite)
    runner = SuiteRunner(inventory=inventory_path, reports=reports.resolve(), suites_root=root,
                         publish_url=publish_url, test_timeout=test_timeout)
    return Agent(config, runner).run()


@cli.command("submit")
@click.argument("suite_ids", nargs=-1)
@click.option("--device", "-d", "devices", multiple=True, help="A registered device (repeatable).")
@click.option("--tag", "tags", multiple=True,
              help="Whichever registered device with this tag is free first (repeatable).")
@click.option("--all", "all_", is_flag=True, help="Every registered device.")
@click.option("-k", "keyword", default=None, help="pytest -k expression for the runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the jobs as JSON.")
@click.option("--suites-root", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Check the SUITE names against this folder (default: the suites beside the harness).")
@DB_OPTION
def submit(suite_ids: tuple[str, ...], devices: tuple[str, ...], tags: tuple[str, ...], all_: bool,
           keyword: str | None, as_json: bool, suites_root: Path | None, db_url: str | None) -> int:
    """Queue runs of SUITE... (default: every suite) on registered devices; prints the job ids."""
    known = discover_suites(suites_root or default_suites_root())
    for suite in suite_ids:
        if known and suite not in known:
            raise ConfigError(f"unknown suite {suite!r}{suggest(suite, known)}")
    db = _db(db_url)
    submitter = me()

    def queue_them(conn: Any) -> list[tuple[int, selection.Target]]:
        states = registry.device_states(conn, HOST_TIMEOUT)
        chosen = selection.resolve(states, list(devices), list(tags), all_)
        requests = [jobq.JobRequest(device=t.device.name if t.device else "",
                                    host=t.device.host if t.device else "", tag=t.tag, suites=suite_ids,
                                    keyword=keyword, submitter=submitter) for t in chosen]
        return list(zip(jobq.submit_many(conn, requests), chosen, strict=True))

    from ..agent.schema import ensure_schema

    db.run(ensure_schema)
    queued = db.run(queue_them)
    what = " ".join(suite_ids) or "every suite"
    for job_id, target in queued:
        if not as_json:
            click.echo(f"job {job_id}: {what} on {_target_text(target)}")
    if as_json:
        click.echo(json.dumps([{"id": j, "device": t.device.name if t.device else None,
                                "host": t.device.host if t.device else None, "tag": t.tag,
                                "suites": list(suite_ids)} for j, t in queued], indent=2))
    return 0


def _target_text(target: selection.Target) -> str:
    if target.device is None:
        free = sum(1 for d in target.matching if d.free)
        now = f"{free} of its {len(target.matching)} free now" if free else (
            f"none of its {len(target.matching)} free now: it waits for the first")
        return f"any device tagged {target.tag} ({now})"
    state = target.device
    flags = "".join(f" ({w})" for w, on in (("host offline", not state.host_alive),
                                              ("quarantined", state.quarantined),
                                              (f"reserved by {state.reserved_by}", state.reserved_by)) if on)
    return f"{state.name} (host {state.host}){flags}"


def _job_line(v: jobq.JobView) -> str:
    what = "health" if v.kind == "health" else (" ".join(v.suites) or "all suites")
    verdict = v.verdict or "-"
    note = f"  {v.note}" if v.note else ""
    device = v.device or (f"tag:{v.tag}" if v.tag else "")
    return f"{v.id:>6}  {v.state:<9} {device:<22} {v.host:<14} {verdict:<14} {what}{note}"


@cli.command("jobs")
@click.argument("job_ids", nargs=-1, type=int)
@click.option("--active", is_flag=True, help="Only queued, waiting and running jobs.")
@click.option("--watch", is_flag=True, help="Refresh until every job shown is done (Ctrl-C to leave).")
@click.option("--devices", "show_devices", is_flag=True,
              help="The registered devices, and the jobs waiting for any device of a tag, instead of jobs.")
@click.option("--limit", type=click.IntRange(1, 10000), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@DB_OPTION
def jobs(job_ids: tuple[int, ...], active: bool, watch: bool, show_devices: bool, limit: int, as_json: bool,
         db_url: str | None) -> int:
    """Queued, waiting, running and done jobs with their device, host, state and verdict."""
    db = _db(db_url)
    from ..agent.schema import ensure_schema

    db.run(ensure_schema)
    if show_devices:
        states, backlog = db.run(lambda c: (registry.device_states(c, HOST_TIMEOUT), jobq.tag_backlog(c)))
        if as_json:
            click.echo(json.dumps({"devices": [_device_json(s) for s in states],
                                   "tags": [b.as_json() for b in backlog]}, indent=2))
            return 0
        for s in states:
            flags = [f for f, on in (("offline", not s.host_alive), ("QUARANTINED", s.quarantined),
                                     (f"reserved by {s.reserved_by}", bool(s.reserved_by))) if on]
            for_tags = f" (+{s.tag_waiting} for its tags)" if s.tag_waiting else ""
            click.echo(f"{s.name:<22} {s.host:<14} health {s.health:<8} running {s.running} queued {s.queued}"
                       f"{for_tags}{'  ' + ', '.join(flags) if flags else ''}")
        for b in backlog:  # no device's yet, so in no device's count above
            click.echo(f"tag:{b.tag:<18} {'':<14} {b.describe()}")
        return 0
    last = ""
    while True:
        views = db.run(lambda c: jobq.list_jobs(c, ids=job_ids, include_done=not active, limit=limit))
        if as_json:
            text = json.dumps([v.as_json() for v in views], indent=2)
        else:
            header = f"{'job':>6}  {'state':<9} {'device':<22} {'host':<14} {'verdict':<14} suites"
            text = "\n".join([header, *(_job_line(v) for v in views)])
        if text != last:
            click.echo(text)
            last = text
        if not watch or all(v.state in jobq.DONE_STATES for v in views):
            return 0
        time.sleep(1.0)  # --watch's refresh interval (a display, not a synchronisation)


def _device_json(s: selection.DeviceState) -> dict[str, Any]:
    return {"name": s.name, "host": s.host, "host_alive": s.host_alive, "tags": list(s.tags),
            "health": s.health, "quarantined": s.quarantined, "reserved_by": s.reserved_by,
            "running": s.running, "queued": s.queued, "tag_waiting": s.tag_waiting}


@cli.command("cancel")
@click.argument("job_ids", nargs=-1, type=int, required=True)
@click.option("--force", is_flag=True,
              help="Cancel jobs someone else submitted; end a stalled job (its host silent) for good.")
@click.option("--owner", default=None, help="Who you are (default: $HARNESS_OWNER or user@host).")
@DB_OPTION
def cancel(job_ids: tuple[int, ...], force: bool, owner: str | None, db_url: str | None) -> int:
    """Cancel queued jobs; a running one is stopped by its agent (its records are kept). Another's job
    only with --force. A stalled job (its host silent past the host timeout) is ended for good with
    --force: an error, its device free for the next job; its agent, if it returns, stops that run."""
    db = _db(db_url)
    who = owner or me()
    code = 0
    for job_id in job_ids:
        done = db.run(lambda c, j=job_id: jobq.cancel(c, j, who, force))  # type: ignore[misc]
        if done is None:
            click.echo(f"harness: job {job_id}: no such job", err=True)
            code = 2
        elif done.action == "cancel":
            click.echo(f"job {job_id}: cancelled")
        elif done.action == "end":
            # The device's lock is free for the next job; a host only cut off may still be running this
            # one (its agent stops it when it is back): say so, the admin vouches for the host.
            click.echo(f"job {job_id}: {done.note}; marked error and its device freed for the next job"
                       " (if that host is only cut off, its run may still be going until its agent is back)")
        elif done.action == "abort" and not done.host_alive:
            click.echo(f"job {job_id}: stalled (its host is silent); its agent stops it if it returns"
                       " (--force ends it now)")
        elif done.action == "abort":
            click.echo(f"job {job_id}: running; its agent stops it")
        else:
            click.echo(f"job {job_id}: already finished ({done.before})")
    return code


@cli.command("reserve")
@click.argument("device", required=False)
@click.option("--tag", default=None, help="Reserve any free registered device with this tag.")
@click.option("--for", "duration", type=Duration(), default=None, metavar="DURATION",
              help="How long (90s, 30m, 2h, 1d); again to renew.")
@click.option("--release", is_flag=True, help="End the reservation now.")
@click.option("--force", is_flag=True, help="With --release: end someone else's reservation.")
@click.option("--wait", type=Seconds(0, WEEK), default=0.0, metavar="SECONDS",
              help="Wait up to SECONDS for a running job to finish (default: refuse at once).")
@click.option("--owner", default=None, help="Whose it is (default: $HARNESS_OWNER or user@host).")
@DB_OPTION
def reserve(device: str | None, tag: str | None, duration: float | None, release: bool, force: bool,
            wait: float, owner: str | None, db_url: str | None) -> int:
    """Reserve DEVICE (or one with --tag) for interactive work: queued jobs wait for it, and `exec`,
    `push` and `pull` by anyone else refuse (with $HARNESS_DB set) unless --force. Expires unless renewed."""
    if (device is None) == (tag is None):
        raise click.UsageError("give DEVICE or --tag TAG")
    if release == (duration is not None):
        raise click.UsageError("give --for DURATION (to reserve or renew) or --release")
    db = _db(db_url)
    who = owner or me()
    if release:
        assert device is not None, "--release takes the DEVICE"
        ended = db.run(lambda c: leases.release(c, device, who, force))
        click.echo(f"{device}: released" if ended else f"{device}: was not reserved")
        return 0
    assert duration is not None
    name = device or db.run(lambda c: selection.pick_for_tag(registry.device_states(c, HOST_TIMEOUT),
                                                                 tag or "")).name
    deadline = time.monotonic() + wait
    while True:
        try:
            lease = db.run(lambda c: leases.reserve(c, name, who, duration))
            break
        except leases.LeaseRefused:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)  # polls the device's running job (the database has no event for its end)
    click.echo(f"{lease.device}: {lease.describe()}")
    return 0


@cli.command("quarantine")
@click.argument("device")
@click.option("--release", is_flag=True, help="Take the device out of quarantine (an admin's word).")
@click.option("--reason", default="quarantined by hand", show_default=True)
@DB_OPTION
def quarantine(device: str, release: bool, reason: str, db_url: str | None) -> int:
    """Quarantine DEVICE (no jobs start on it) or --release it without waiting for a passing check."""
    db = _db(db_url)
    db.run(lambda c: health.set_quarantine(c, device, not release, reason))
    click.echo(f"{device}: {'released from quarantine' if release else 'quarantined'}")
    return 0
