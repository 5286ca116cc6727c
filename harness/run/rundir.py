"""The run directory `reports/<run-id>/`: run.json (who ran what, when, on which devices), one journal
per device, worker logs, and the `reports/latest` symlink (moved to a run when it starts, so that
`--resume latest` after a crash finds the run that crashed)."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import time
from pathlib import Path

from .. import __version__
from ..atomic_file import write_atomic
from ..errors import ConfigError
from ..results.run_info import RUN_JSON, RunInfo, SuiteRef, read_run_info
from ..suites import Suite
from .runid import valid_run_id

LATEST = "latest"


def operator_name() -> str:
    with contextlib.suppress(Exception):
        return os.environ.get("USER") or getpass.getuser()
    return "unknown"


def host_name() -> str:
    return socket.gethostname()


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def journal_dir(self) -> Path:
        return self.path / "journal"

    def journal(self, device: str) -> Path:
        return self.journal_dir / f"{device}.jsonl"

    def mend_journal(self, device: str) -> bool:
        """Cut a torn last line (a crash or a full disk mid-write) off the device's journal, so the next
        line appended to it is not glued onto it and lost. True if there was one."""
        path = self.journal(device)
        try:
            with open(path, "rb+") as fh:
                size = fh.seek(0, os.SEEK_END)
                if size == 0:
                    return False
                fh.seek(size - 1)
                if fh.read(1) == b"\n":
                    return False
                keep = 0
                pos = size
                while pos > 0 and not keep:  # back to the last complete line, in blocks
                    step = min(pos, 1 << 16)
                    pos -= step
                    fh.seek(pos)
                    newline = fh.read(step).rfind(b"\n")
                    if newline >= 0:
                        keep = pos + newline + 1
                fh.truncate(keep)
                return True
        except FileNotFoundError:
            return False

    def log_dir(self, device: str) -> Path:
        return self.path / "logs" / device

    @property
    def run_json(self) -> Path:
        return self.path / RUN_JSON

    def read_info(self) -> RunInfo:
        return read_run_info(self.path)

    def write_info(self, info: RunInfo) -> None:
        # Write-then-rename: a crash or a full disk never leaves a half-written run.json.
        write_atomic(self.run_json, json.dumps(info.to_dict(), indent=2, ensure_ascii=False) + "\n")


def check_new_run_id(reports: Path, run_id: str) -> None:
    """A run id that create_run_dir will take (checked before a run waits for its devices)."""
    if not valid_run_id(run_id):
        raise ConfigError(f"run id {run_id!r}: use letters, digits, '.', '_' and '-' (no '/')")
    if (reports / run_id).exists():
        raise ConfigError(f"{reports / run_id}: a run with this id exists already (pick another --run-id)")


def create_run_dir(reports: Path, run_id: str) -> RunDir:
    check_new_run_id(reports, run_id)
    path = reports / run_id
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        raise ConfigError(f"{path}: a run with this id exists already (pick another --run-id)") from None
    run = RunDir(path)
    run.journal_dir.mkdir()
    (path / "logs").mkdir()
    return run


def new_info(run_id: str, suites: list[Suite], devices: list[str], inventory: Path, suites_root: Path,
             command_line: list[str]) -> RunInfo:
    return RunInfo(
        run_id=run_id,
        harness_version=__version__,
        suites=[SuiteRef.of(s) for s in suites],
        command_line=command_line,
        host=host_name(),
        operator=operator_name(),
        start=time.time(),
        inventory=str(inventory.resolve()),
        devices=devices,
        suites_root=str(suites_root.resolve()),
    )


def resolve_run(ref: str, reports: Path) -> RunDir:
    """A run named by id (under `reports`), by path, or `latest`."""
    candidates = [Path(ref)] if ("/" in ref or ref in (".", "..")) else [reports / ref, Path(ref)]
    for path in candidates:
        if (path / RUN_JSON).is_file():
            return RunDir(path.resolve())
    raise ConfigError(f"no run {ref!r} (looked in {reports}; give a run id, a path or 'latest')")


def update_latest(run: RunDir) -> None:
    """Point reports/latest at this run; atomic (rename over the old link)."""
    link = run.path.parent / LATEST
    tmp = run.path.parent / f".{LATEST}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        tmp.symlink_to(run.path.name)
        os.replace(tmp, link)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
