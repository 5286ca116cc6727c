"""The end of every run (and `harness report RUN`): results.json -> junit.xml -> report.html ->
manifest.json + manifest.sig (the lab key) -> reports/<run-id>.zip -> reports/index.html.

The order matters: the manifest hashes what the reports say, and the zip holds the signed manifest."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..errors import ConfigError
from ..results.build import RESULTS_JSON, write_results
from .bundle import write_manifest, zip_bundle
from .html import write_report
from .i18n import DEFAULT_LANG, LANGS
from .index import index_entry, save_entry, write_index
from .junit import write_junit
from .signing import PRIVATE_NAME, PUBLIC_NAME, SigningKey, default_key_dir, load_or_create_key

JUNIT_XML = "junit.xml"
REPORT_HTML = "report.html"
LANG_ENV = "HARNESS_REPORT_LANG"


@dataclass
class Published:
    run_dir: Path
    results: Path
    junit: Path
    report: Path
    manifest: Path
    bundle: Path
    index: Path
    key_id: str
    key_created: bool


def report_lang(lang: str | None = None) -> str:
    chosen = lang or os.environ.get(LANG_ENV) or DEFAULT_LANG
    if chosen not in LANGS:
        raise ConfigError(f"report language {chosen!r}: use one of {', '.join(LANGS)}")
    return chosen


def lab_key(key_dir: Path | None, announce: TextIO) -> tuple[SigningKey, bool]:
    """The lab's signing key; a fresh machine gets one made now, and is told where it is."""
    directory = key_dir or default_key_dir()
    created = not (directory / PRIVATE_NAME).exists()
    try:
        key = load_or_create_key(directory)
    except OSError as exc:
        raise ConfigError(f"signing key in {directory}: {exc.strerror or exc}") from None
    if created:
        print(
            f"harness: made a new lab signing key {key.path}; its public key is {directory / PUBLIC_NAME} "
            f"({key.id}): give that file to whoever verifies the bundles",
            file=announce,
        )
    return key, created


def publish(
    run_dir: Path,
    *,
    results: dict[str, Any] | None = None,
    lang: str | None = None,
    junit_copies: Iterable[Path] = (),
    key_dir: Path | None = None,
    announce: TextIO | None = None,
) -> Published:
    """Write every report of `run_dir` and sign it. `results`: the document just written by
    write_results; None rebuilds results.json from run.json and the journals."""
    run_dir = Path(run_dir)
    chosen = report_lang(lang)
    if results is None:
        results = write_results(run_dir)
    junit = write_junit(results, run_dir / JUNIT_XML, junit_copies)
    key, created = lab_key(key_dir, announce or sys.stderr)
    report = write_report(results, run_dir / REPORT_HTML, chosen, key.id)
    run_id = str((results.get("run") or {}).get("run_id") or run_dir.name)
    manifest = write_manifest(run_dir, key, run_id)
    bundle = zip_bundle(run_dir, run_dir.parent / f"{run_dir.name}.zip")
    entry = index_entry(results)
    entry["run_id"] = run_dir.name
    save_entry(run_dir.parent, entry)
    index = write_index(run_dir.parent, chosen)
    return Published(
        run_dir=run_dir,
        results=run_dir / RESULTS_JSON,
        junit=junit,
        report=report,
        manifest=manifest,
        bundle=bundle,
        index=index,
        key_id=key.id,
        key_created=created,
    )
