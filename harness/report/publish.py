"""The end of every run (and `harness report RUN`): results.json -> junit.xml -> report.html ->
manifest.json + manifest.sig (the lab key) -> reports/<run-id>.zip -> reports/index.html.

Three steps a caller (a server, say) may also take apart: `build` (results.json), `render` (junit.xml,
report.html) and `sign_and_bundle` (manifest, signature, zip); `add_to_index` then lists the run.
`publish` takes them all in order. The order matters: the manifest hashes what the reports say, and
the zip holds the signed manifest."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..errors import ConfigError
from ..results.build import RESULTS_JSON, write_results
from ..results.document import ResultsDocument
from .bundle import write_manifest, zip_bundle
from .html import write_report
from .i18n import DEFAULT_LANG, LANGS
from .index import index_entry, save_entry, write_index
from .junit import write_junit
from .signing import PRIVATE_NAME, PUBLIC_NAME, SigningKey, default_key_dir, load_or_create_key

JUNIT_XML = "junit.xml"
REPORT_HTML = "report.html"
LANG_ENV = "HARNESS_REPORT_LANG"


@dataclass(frozen=True)
class Rendered:
    junit: Path
    report: Path


@dataclass(frozen=True)
class Signed:
    manifest: Path
    bundle: Path


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


def build(run_dir: Path) -> ResultsDocument:
    """Step 1: results.json from run.json and the journals, written; the document."""
    return write_results(Path(run_dir))


def render(run_dir: Path, results: ResultsDocument, *, lang: str | None = None, key_id: str = "",
           junit_copies: Iterable[Path] = ()) -> Rendered:
    """Step 2: junit.xml (and its copies) and report.html in the run folder, from the document.
    `key_id`: the key the bundle will be signed with, which the page names."""
    run_dir = Path(run_dir)
    chosen = report_lang(lang)
    junit = write_junit(results, run_dir / JUNIT_XML, junit_copies)
    report = write_report(results, run_dir / REPORT_HTML, chosen, key_id)
    return Rendered(junit=junit, report=report)


def sign_and_bundle(run_dir: Path, key: SigningKey, run_id: str | None = None) -> Signed:
    """Step 3: manifest.json over every file of the run folder, its signature, and the zip beside the
    folder (reports/<run>.zip). Run it last: the manifest hashes what the folder holds now."""
    run_dir = Path(run_dir)
    manifest = write_manifest(run_dir, key, run_id or run_dir.name)
    bundle = zip_bundle(run_dir, run_dir.parent / f"{run_dir.name}.zip")
    return Signed(manifest=manifest, bundle=bundle)


def add_to_index(run_dir: Path, results: ResultsDocument, lang: str | None = None) -> Path:
    """The run's entry in reports/.index and reports/index.html rewritten."""
    run_dir = Path(run_dir)
    entry = index_entry(results)
    entry["run_id"] = run_dir.name
    save_entry(run_dir.parent, entry)
    return write_index(run_dir.parent, report_lang(lang))


def publish(
    run_dir: Path,
    *,
    results: ResultsDocument | None = None,
    lang: str | None = None,
    junit_copies: Iterable[Path] = (),
    key_dir: Path | None = None,
    announce: TextIO | None = None,
) -> Published:
    """Every step for `run_dir`: build (unless `results`, the document write_results just wrote, is
    given), render, sign and bundle with the lab key, index."""
    run_dir = Path(run_dir)
    chosen = report_lang(lang)
    if results is None:
        results = build(run_dir)
    try:
        key, created = lab_key(key_dir, announce or sys.stderr)
    except ConfigError:
        write_junit(results, run_dir / JUNIT_XML, junit_copies)  # CI still gets its junit
        raise
    rendered = render(run_dir, results, lang=chosen, key_id=key.id, junit_copies=junit_copies)
    signed = sign_and_bundle(run_dir, key, results.run_id or run_dir.name)
    index = add_to_index(run_dir, results, chosen)
    return Published(
        run_dir=run_dir,
        results=run_dir / RESULTS_JSON,
        junit=rendered.junit,
        report=rendered.report,
        manifest=signed.manifest,
        bundle=signed.bundle,
        index=index,
        key_id=key.id,
        key_created=created,
    )
