"""Run ids: sortable by start time, unique enough for one lab (`20261127-111500-ab12`)."""

from __future__ import annotations

import re
import secrets
import time

RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def new_run_id(now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(2)}"


def valid_run_id(run_id: str) -> bool:
    """A run id is a single path component: no '/', no '..', nothing hidden."""
    return bool(RUN_ID_RE.match(run_id)) and run_id not in (".", "..", "latest")
