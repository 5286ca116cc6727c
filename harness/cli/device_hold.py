"""`harness exec`, `push` and `pull` respect a device's lock (harness.locks): while a run holds the
device they refuse, naming the holder, unless --force."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from ..locks import LockBusy, LockHolder, device_lock
from . import fail

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
    lock = device_lock(name)
    try:
        lock.acquire(LockHolder.me(ctx.command.name or "exec"), hint="--force to use it anyway")
    except LockBusy as exc:
        fail(str(exc), EXIT_TRANSPORT)
    with lock:
        yield
