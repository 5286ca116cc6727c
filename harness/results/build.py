"""run dir -> results.json: run.json (who, what, when) plus every device journal, folded into each
planned test's final outcome, its attempt history, the requirement statuses and the device verdict."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import __version__
from ..atomic_file import write_atomic
from ..errors import ConfigError
from ..suites import Requirement, Suite, default_suites_root, discover_suites
from .document import (
    OUTCOMES,
    DeviceResult,
    ResultsDocument,
    RunSection,
    SuiteEntry,
    Summary,
    TestEntry,
    WaiverEntry,
)
from .gc_pause import gc_paused
from .journal import DeviceJournal, TestHistory, read_journals
from .model import Outcome
from .run_info import RunInfo, SuiteRef, read_run_info
from .schema import SCHEMA_PATH  # noqa: F401  (where it always was)
from .verdict import Status, assess
from .waiving import RunWaivers, device_evaluations, load_run_waivers

RESULTS_JSON = "results.json"
_OPEN = (Outcome.FAIL, Outcome.ERROR, Outcome.NOT_RUN)  # what leaves a test open


def _load_suites(root: Path | None, expected: Iterable[str] = ()) -> dict[str, Suite]:
    """The suites whose requirement levels decide the verdicts. A suite the run used that cannot be
    found is an error: without it MUST requirements would vanish and a device could come out
    CERTIFIED (a report re-rendered on a machine without the suites, say)."""
    folder = root or default_suites_root()
    try:
        suites = discover_suites(folder)
    except OSError as exc:
        raise ConfigError(f"cannot read the suites under {folder}: {exc}") from None
    lost = sorted(set(expected) - set(suites))
    if lost:
        raise ConfigError(
            f"suite(s) {', '.join(lost)} of this run not found under {folder}: verdicts need their "
            "requirement levels (give the suites folder the run used)"
        )
    return suites


def _test_entry(history: TestHistory) -> TestEntry:
    """One test's entry: the final attempt decides (its deciding repeat), with the whole history."""
    test, records, final_records = history.test, history.records, history.final
    decider = history.decider
    outcomes = {r.outcome for r in records}
    entry = TestEntry.of(
        decider,
        repeats=len(final_records),
        # Flaky: the device both passed and failed it (lab errors alone are not flakiness).
        flaky=Outcome.PASS in outcomes and Outcome.FAIL in outcomes,
        attempts=list(records),
    )
    entry.requirements = list(decider.requirements or test.requirements)
    entry.suite = decider.suite or test.suite
    return entry


def _requirements_in_scope(suite_ids: Iterable[str], suites: dict[str, Suite]) -> list[Requirement]:
    return [
        req for sid in dict.fromkeys(suite_ids) if sid in suites for req in suites[sid].requirements.values()
    ]


def build_device(journal: DeviceJournal, suites: dict[str, Suite],
                 run_waivers: RunWaivers | None = None) -> DeviceResult:
    tests = [_test_entry(h) for h in journal.histories()]
    requirements = _requirements_in_scope((t.suite for t in tests), suites)
    evaluations, applied = device_evaluations(journal, run_waivers) if run_waivers else ([], {})
    assessment = assess(requirements, tests, profile=journal.profile, kind=journal.kind,
                        waivers=set(applied))
    present = {r.id for r in assessment.requirements}
    for r in assessment.requirements:
        if r.status is Status.WAIVED and r.id in applied:
            r.waiver = applied[r.id].waiver.id
    waived = {r.id: r.waiver or "waived" for r in assessment.requirements if r.status is Status.WAIVED}
    for t in tests:  # a failing test whose every requirement is waived says by what
        reqs = t.requirements
        if t.outcome in _OPEN and reqs and all(q in waived for q in reqs):
            t.waived_by = sorted({waived[q] for q in reqs})
    counts = Counter(str(t.outcome) for t in tests)
    # Never connected, or a test's record says the device stopped answering (the plugin's DeviceUnreachable).
    unreachable = journal.identity is None or any(t.outcome is Outcome.ERROR and t.unreachable for t in tests)
    identities = {json.dumps(i, sort_keys=True) for i in journal.identities}
    return DeviceResult(
        name=journal.device,
        kind=journal.kind,
        profile=journal.profile,
        identity=journal.identity,
        identity_changed=len(identities) > 1,
        reachable=not unreachable,
        interrupted=journal.interrupted,
        attempts=sorted({p.attempt for p in journal.plans} | {t.attempt for t in tests}),
        journal_bad_lines=journal.bad_lines,
        verdict=assessment.verdict,
        verdict_reasons=assessment.reasons,
        summary={**{o: counts.get(o, 0) for o in OUTCOMES}, "total": len(tests)},
        requirements=assessment.requirements,
        tests=tests,
        waivers=[WaiverEntry.from_dict(e.to_dict()) for e in evaluations if e.waiver.requirement in present]
        if run_waivers else None,
    )


def _suite_refs(known: list[SuiteRef], suites: dict[str, Suite], used: set[str]) -> list[SuiteEntry]:
    refs = {k.id: SuiteEntry(k.id, k.version, k.content_hash) for k in known}
    for sid in sorted(used - set(refs)):
        suite = suites.get(sid)
        # Not in run.json: hashed now, which pins what is on disk at build time.
        refs[sid] = SuiteEntry(sid, suite.version if suite else "", suite.content_hash() if suite else "")
    for sid, ref in refs.items():
        suite = suites.get(sid)
        ref.title_en = suite.title_en if suite else ""
        ref.title_zh = suite.title_zh if suite else ""
    return list(refs.values())


def _run_section(run_dir: Path, info: RunInfo | None, run_waivers: RunWaivers | None) -> RunSection:
    """results.json's `run`: run.json as the runner wrote it (keys this version does not know kept),
    with defaults that say so for what it lacks."""
    run = info.as_read() if info else {}
    for key in ("suites", "declared"):
        run.pop(key, None)
    run.update(
        run_id=str(run.get("run_id") or run_dir.name),
        harness_version=str(run.get("harness_version") or __version__),
        command_line=[str(a) for a in run.get("command_line") or []],
        host=str(run.get("host") or ""),
        operator=str(run.get("operator") or ""),
        start=run.get("start"),
        end=run.get("end"),
    )
    run["run_json_found"] = info is not None
    # The schema's list of requirement ids waived for the whole run: nothing sets it any more (the
    # platform's signed waivers are evaluated per device, in devices[].waivers).
    run["waivers"] = []
    run["waiver_file"] = (info.waiver_file if info else None) or None
    run["waivers_evaluated"] = run_waivers.at_text if run_waivers else None
    return RunSection.from_dict(run)  # in the order of run.json's keys


def build_document(run_dir: Path, *, suites_root: Path | None = None) -> ResultsDocument:
    """The results document of a run folder, from run.json and the journals."""
    run_dir = Path(run_dir)
    try:
        info: RunInfo | None = read_run_info(run_dir, lenient=True)
    except ConfigError:  # none, or unreadable: the journals still say what happened
        info = None
    root = suites_root or (Path(info.suites_root) if info and info.suites_root else None)
    suites = _load_suites(root, [ref.id for ref in info.suites] if info else [])
    run_waivers = load_run_waivers(run_dir, info) if info else None
    devices = [build_device(j, suites, run_waivers) for j in read_journals(run_dir)]
    used = {t.suite for d in devices for t in d.tests if t.suite}
    verdicts = Counter(str(d.verdict) for d in devices)
    outcomes: Counter[str] = Counter()
    for d in devices:
        outcomes.update({k: v for k, v in d.summary.items() if k != "total"})
    return ResultsDocument(
        generated=time.time(),
        run=_run_section(run_dir, info, run_waivers),
        suites=_suite_refs(info.suites if info else [], suites, used),
        devices=devices,
        summary=Summary(
            devices=len(devices),
            verdicts=dict(sorted(verdicts.items())),
            outcomes={o: outcomes.get(o, 0) for o in OUTCOMES},
        ),
    )


def build_results(run_dir: Path, *, suites_root: Path | None = None) -> dict[str, Any]:
    """The results document in its JSON form (what results.json holds)."""
    return build_document(run_dir, suites_root=suites_root).to_dict()


def results_text(document: ResultsDocument) -> str:
    """results.json's text. One json.dumps without indent runs the C encoder: 100,000 results with
    evidence take ~1 s, where json.dump(indent=2) takes ~5 s. (`jq .` indents it for reading.)"""
    with gc_paused():
        return json.dumps(document.to_dict(), ensure_ascii=False) + "\n"


def save_results(run_dir: Path, document: ResultsDocument) -> Path:
    """Write results.json whole or not at all."""
    # backslashreplace: a lone surrogate (legal as a JSON escape in a journal) is written back as that
    # escape instead of failing the whole document.
    return write_atomic(Path(run_dir) / RESULTS_JSON, results_text(document), fsync=True,
                        errors="backslashreplace")


def write_results(run_dir: Path, **kwargs: Any) -> ResultsDocument:
    """Build and write results.json; returns the document."""
    with gc_paused():
        document = build_document(Path(run_dir), **kwargs)
    save_results(Path(run_dir), document)
    return document
