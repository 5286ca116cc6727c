"""`harness exec`, `push` and `pull` respect a device's lock (harness.locks): while a run holds the
device they refuse, naming the holder, unless --force. With $HARNESS_DB set (a multi-host lab), they
also refuse a device someone else has reserved (`harness reserve`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import click

from ..agent.dburl import DB_ENV, resolve_url
from ..locks import LockBusy, LockHolder, device_lock
from .app import fail

_FORCE_KEY = "harness.force"
EXIT_TRANSPORT = 255  # exec/push/pull's code for lab trouble

FORCE = click.option(
    "--force", is_flag=True, expose_value=False, help="Use the device even while a run holds its lock.",
    callback=lambda ctx, _param, value: ctx.meta.__setitem__(_FORCE_KEY, value))


@contextmanager
def held_device(ctx: click.Context, name: str) -> Iterator[None]:
    """The device's lock for the block; with --force, none (the holder's run may be disturbed)."""
    if ctx.meta.get(_FORCE_KEY):
        yield
        return
    _check_reservation(name)
    lock = device_lock(name)
    try:
        lock.acquire(LockHolder.me(ctx.command.name or "exec"), hint="--force to use it anyway")
    except LockBusy as exc:
        fail(str(exc), EXIT_TRANSPORT)
    with lock:
        yield


def _check_reservation(name: str) -> None:
    """Only in a multi-host lab ($HARNESS_DB): a single-host lab has no database and no reservations."""
    url = os.environ.get(DB_ENV)
    if not url:
        return
    import psycopg

    from ..agent import leases
    from ..agent.db import Db, DbUnavailable
    from ..agent.owner import me

    db = Db(resolve_url(url))
    try:
        lease = db.run(lambda c: leases.active_lease(c, name))
    except DbUnavailable as exc:
        fail(f"cannot check device {name!r}'s reservation: {exc} (--force to use it anyway)", EXIT_TRANSPORT)
    except psycopg.errors.UndefinedTable:
        return  # the queue has never been used: nothing is reserved
    finally:
        db.close()
    if lease is not None and lease.owner != me():
        fail(f"device {name!r} is {lease.describe()} (--force to use it anyway)", EXIT_TRANSPORT)
