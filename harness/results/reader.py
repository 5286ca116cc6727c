"""Reading a results.json (a file, its bytes, or an open binary file) into a ResultsDocument: bounded,
parsed, checked against the shipped schema, then typed. Every failure is one ConfigError naming the
source and, for a schema violation, the JSON path and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import BinaryIO

from ..errors import ConfigError
from .document import ResultsDocument
from .gc_pause import gc_paused
from .schema import first_violation

MAX_RESULTS_BYTES = 512 << 20  # as much as the platform accepts in a bundle


def _read(source: Path | bytes | BinaryIO, name: str) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        try:
            if isinstance(source, Path):
                with source.open("rb") as fh:
                    data = fh.read(MAX_RESULTS_BYTES + 1)
            else:
                data = source.read(MAX_RESULTS_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_RESULTS_BYTES:
        raise ConfigError(f"{name}: more than the {MAX_RESULTS_BYTES} bytes a results document may be")
    return data


def parse_results(document: object, name: str, *, check: bool = True) -> ResultsDocument:
    """A parsed results.json checked against the schema, typed. `check=False` skips the schema (which
    takes tens of seconds over 100,000 tests) for a reader that needs only part of a document this
    harness wrote; a document of the wrong shape is still a ConfigError."""
    problem = first_violation(document) if check else None
    if problem is not None:
        raise ConfigError(f"{name}: not a harness results.json: {problem[:300]}")
    if not isinstance(document, dict):
        raise ConfigError(f"{name}: not a harness results.json: not a JSON object")
    try:
        return ResultsDocument.from_dict(document)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{name}: not a harness results.json: {type(exc).__name__}: {exc}") from None


def read_results(source: Path | bytes | BinaryIO, name: str | None = None, *,
                 check: bool = True) -> ResultsDocument:
    """The results document in a file (a Path), in bytes, or in an open binary file."""
    name = name or (str(source) if isinstance(source, Path) else "results.json")
    data = _read(source, name)
    with gc_paused():
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{name}: not JSON ({exc})") from None
        return parse_results(document, name, check=check)
