"""harness platform local RUN: publish a run to a platform on this machine (what `make run` ends with).

Sets up the local platform in --data (SQLite) if needed: the platform's own organisation with an
officer account (its password shown once, when it is made), a lab organisation with this machine's
lab signing key registered, a vendor organisation. Then starts the real server on a private loopback
port, publishes the run's bundle through it with a short-lived lab token (revoked afterwards) and
stops the server. The last line printed is the one command that serves the platform, with its URL."""

from __future__ import annotations

import contextlib
import datetime as dt
import shlex
import subprocess
import sys
from pathlib import Path

import click
import httpx

from ..errors import ConfigError
from ..platform.auth.apitokens import revoke
from ..platform.auth.passwords import generate_password
from ..platform.client import EXIT_ACCEPTED, declared_devices, publish_bundle
from ..platform.config import default_data_dir
from ..platform.db.models import User
from ..platform.services import accounts
from ..report.signing import PUBLIC_NAME, default_key_dir
from ..waiting import free_port, poll_until
from .platform_cmd import DEFAULT_PORT, EXIT_TROUBLE, open_platform, platform_group
from .publish_cmd import bundle_of

PLATFORM_ORG, LAB_ORG, VENDOR_ORG = "platform", "local-lab", "demo-vendor"
OFFICER = "officer"
START_DEADLINE = 60.0


def _setup(data_dir: Path, key_dir: Path) -> tuple[str | None, str]:
    """Organisations, the officer, the lab key, and a 15-minute publish token. Returns the officer's
    password when the account was made now (None: it existed), and the token."""
    public = key_dir / PUBLIC_NAME
    if not public.is_file():
        raise ConfigError(f"{public}: no lab public key (a run makes one; or 'harness keys init')")
    platform = open_platform(data_dir, None)
    password = None
    with platform.db.write() as db:
        home, _ = accounts.ensure_org(db, PLATFORM_ORG, "适配测试平台 (local)", "platform")
        lab, _ = accounts.ensure_org(db, LAB_ORG, "Local lab 本地实验室", "lab")
        accounts.ensure_org(db, VENDOR_ORG, "Example vendors 示例厂商", "vendor")
        if db.query(User).filter(User.username == OFFICER).one_or_none() is None:
            password = generate_password()
            accounts.create_user(db, OFFICER, home, "officer", password, "Certification officer")
        accounts.register_key(db, lab, public.read_text(), f"this machine ({key_dir})")
        token = accounts.issue_token(
            db, lab, "lab", "make run (local publish)", dt.timedelta(minutes=15)
        ).secret
    platform.close()
    return password, token


def _revoke_tokens(data_dir: Path, secret: str) -> None:
    from sqlalchemy import select

    from ..platform.auth.tokens import digest
    from ..platform.db.models import ApiToken

    platform = open_platform(data_dir, None)
    with platform.db.write() as db:
        row = db.scalar(select(ApiToken).where(ApiToken.token_hash == digest(secret)))
        if row is not None:
            revoke(row)
    platform.close()


def _harness_command() -> str:
    """How this harness was started (.venv/bin/harness from `make run`), so the line printed runs as is."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "harness" and argv0.is_file():
        try:
            return str(argv0.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(argv0)
    return "harness"


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@platform_group.command("local")
@click.argument("run_ref", metavar="RUN", default="latest")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The local platform's data folder (default: $HARNESS_PLATFORM_DATA or ./.platform).",
)
@click.option(
    "--reports", type=click.Path(path_type=Path, file_okay=False), default=Path("reports"), show_default=True
)
def local(run_ref: str, data_dir: Path | None, reports: Path) -> int:
    """Publish RUN (default: latest) to the local platform and say how to open it."""
    data = (data_dir or default_data_dir()).resolve()
    bundle = bundle_of(run_ref, reports)
    password, token = _setup(data, default_key_dir())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "platform",
            "serve",
            "--data",
            str(data),
            "--port",
            str(port),
            "--no-access-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with contextlib.suppress(TimeoutError):
            poll_until(
                lambda: _healthy(url) or server.poll() is not None, START_DEADLINE, interval=0.1, what=url
            )
        if server.poll() is not None or not _healthy(url):
            stderr = (
                server.stderr.read().decode(errors="replace")
                if server.stderr and server.poll() is not None
                else ""
            )
            click.echo(f"harness platform local: the server did not start: {stderr.strip()[-500:]}", err=True)
            return EXIT_TROUBLE
        result = publish_bundle(
            url, token, bundle, vendor=VENDOR_ORG, declared=declared_devices(None, bundle)
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        _revoke_tokens(data, token)
    if result.code != EXIT_ACCEPTED:
        click.echo(f"harness platform local: {bundle}: {result.message}", err=True)
        return result.code
    path = result.url.removeprefix(url)
    click.echo(f"platform: {bundle.name} {result.message} (in {data})")
    if password:
        click.echo(f"platform officer login: {OFFICER} / {password}   (shown once; keep it)")
    else:
        click.echo(
            f"platform officer login: {OFFICER} (new password: harness platform admin user passwd {OFFICER})"
        )
    serve = [_harness_command(), "platform", "serve"]
    if data != default_data_dir().resolve():
        serve += ["--data", str(data)]
    click.echo(f"{shlex.join(serve)}   # then open http://127.0.0.1:{DEFAULT_PORT}{path}")
    return EXIT_ACCEPTED
