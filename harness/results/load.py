"""Find and read the results document a comparison names: a run (id under reports/, path, `latest`), a
results.json file, or a signed bundle zip (its results.json read from the archive, never extracted).

Reading is bounded (a bigger file is refused, not loaded); every failure is one ConfigError naming the
file and why. The bundle's signature is not checked here: `harness verify` does that."""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..run.rundir import resolve_run
from .build import RESULTS_JSON
from .gc_pause import gc_paused
from .view import RunView, run_view

MAX_RESULTS_BYTES = 512 << 20  # as much as the platform accepts in a bundle


def _parse(data: bytes, source: str) -> Any:
    try:
        with gc_paused():
            return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: not JSON ({exc})") from None


def _too_big(size: int, source: str) -> ConfigError:
    return ConfigError(f"{source}: {size} bytes, more than the {MAX_RESULTS_BYTES} a results document may be")


def _from_file(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_RESULTS_BYTES:
            raise _too_big(size, str(path))
        return _parse(path.read_bytes(), str(path))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None


def results_member(zf: zipfile.ZipFile) -> zipfile.ZipInfo | None:
    """The bundle's results.json: at the top or under the run's one folder (the shortest name wins)."""
    names = [i for i in zf.infolist() if i.filename.rpartition("/")[2] == RESULTS_JSON]
    return min(names, key=lambda i: len(i.filename), default=None)


def read_bundle_results(path: Path, limit: int = MAX_RESULTS_BYTES) -> bytes:
    source = str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            info = results_member(zf)
            if info is None:
                raise ConfigError(f"{source}: no {RESULTS_JSON} in the bundle")
            if info.file_size > limit:
                raise _too_big(info.file_size, f"{source}:{info.filename}")
            with zf.open(info) as member:
                data = member.read(limit + 1)  # the declared size may lie
            if len(data) > limit:
                raise _too_big(len(data), f"{source}:{info.filename}")
            return data
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise ConfigError(f"{source}: not a readable bundle zip ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror or exc}") from None


def load_document(ref: str, reports: Path) -> tuple[Any, str]:
    """The parsed results document named by `ref`, and where it came from."""
    path = Path(ref)
    if path.is_file():
        if zipfile.is_zipfile(path):
            return _parse(read_bundle_results(path), str(path)), str(path)
        return _from_file(path), str(path)
    run = resolve_run(ref, reports)
    results = run.path / RESULTS_JSON
    if not results.is_file():
        raise ConfigError(f"{run.path}: no {RESULTS_JSON} (run `harness report {ref}` to build it)")
    return _from_file(results), str(results)


def load_run(ref: str, reports: Path) -> RunView:
    document, source = load_document(ref, reports)
    with gc_paused():
        return run_view(document, source)
