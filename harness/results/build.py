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
from ..atomic_file import atomic_output
from ..errors import ConfigError
from ..suites import Requirement, Suite, default_suites_root, discover_suites
from .journal import DeviceJournal, TestHistory, read_journals
from .model import SCHEMA_VERSION, Outcome, TestRecord
from .run_info import RunInfo, SuiteRef, read_run_info
from .verdict import Status, assess
from .waiving import RunWaivers, device_evaluations, load_run_waivers

RESULTS_JSON = "results.json"


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


def _test_entry(history: TestHistory) -> dict[str, Any]:
    """One test's entry: the final attempt decides (its deciding repeat), with the whole history."""
    test, records, final_records = history.test, history.records, history.final
    decider = history.decider
    outcomes = {r.outcome for r in records}
    entry = decider.to_dict()
    entry.update(
        requirements=list(decider.requirements or test.requirements),
        suite=decider.suite or test.suite,
        repeats=len(final_records),
        # Flaky: the device both passed and failed it (lab errors alone are not flakiness).
        flaky=Outcome.PASS in outcomes and Outcome.FAIL in outcomes,
        attempts=[r.to_dict() for r in records],
    )
    return entry


def _requirements_in_scope(suite_ids: Iterable[str], suites: dict[str, Suite]) -> list[Requirement]:
    return [
        req for sid in dict.fromkeys(suite_ids) if sid in suites for req in suites[sid].requirements.values()
    ]


def build_device(journal: DeviceJournal, suites: dict[str, Suite],
                 run_waivers: RunWaivers | None = None) -> dict[str, Any]:
    tests = [_test_entry(h) for h in journal.histories()]
    final = [TestRecord.from_dict(t) for t in tests]
    requirements = _requirements_in_scope((t.suite for t in final), suites)
    evaluations, applied = device_evaluations(journal, run_waivers) if run_waivers else ([], {})
    assessment = assess(requirements, final, profile=journal.profile, kind=journal.kind,
                        waivers=set(applied))
    present = {r.id for r in assessment.requirements}
    for r in assessment.requirements:
        if r.status is Status.WAIVED and r.id in applied:
            r.waiver = applied[r.id].waiver.id
    waived = {r.id: r.waiver or "waived" for r in assessment.requirements if r.status is Status.WAIVED}
    for t in tests:  # a failing test whose every requirement is waived says by what
        reqs = t.get("requirements") or []
        if t["outcome"] in ("FAIL", "ERROR", "NOT_RUN") and reqs and all(q in waived for q in reqs):
            t["waived_by"] = sorted({waived[q] for q in reqs})
    counts = Counter(str(t.outcome) for t in final)
    # Never connected, or a test's record says the device stopped answering (the plugin's DeviceUnreachable).
    unreachable = journal.identity is None or any(t.outcome is Outcome.ERROR and t.unreachable for t in final)
    identities = {json.dumps(i, sort_keys=True) for i in journal.identities}
    return {
        "name": journal.device,
        "kind": journal.kind,
        "profile": journal.profile,
        "identity": journal.identity,
        "identity_changed": len(identities) > 1,
        "reachable": not unreachable,
        "interrupted": journal.interrupted,
        "attempts": sorted({p.attempt for p in journal.plans} | {t.attempt for t in final}),
        "journal_bad_lines": journal.bad_lines,
        "verdict": str(assessment.verdict),
        "verdict_reasons": assessment.reasons,
        "summary": {**{str(o): counts.get(str(o), 0) for o in Outcome}, "total": len(final)},
        "requirements": [r.to_dict() for r in assessment.requirements],
        "tests": tests,
        **({"waivers": [e.to_dict() for e in evaluations if e.waiver.requirement in present]}
           if run_waivers else {}),
    }


def _suite_refs(known: list[SuiteRef], suites: dict[str, Suite], used: set[str]) -> list[dict[str, Any]]:
    refs: dict[str, dict[str, Any]] = {}
    for k in known:
        refs[k.id] = {"id": k.id, "version": k.version, "content_hash": k.content_hash}
    for sid in sorted(used - set(refs)):
        suite = suites.get(sid)
        # Not in run.json: hashed now, which pins what is on disk at build time.
        refs[sid] = {
            "id": sid,
            "version": suite.version if suite else "",
            "content_hash": suite.content_hash() if suite else "",
        }
    for sid, ref in refs.items():
        suite = suites.get(sid)
        ref["title_en"] = suite.title_en if suite else ""
        ref["title_zh"] = suite.title_zh if suite else ""
    return list(refs.values())


def _run_section(run_dir: Path, info: RunInfo | None) -> dict[str, Any]:
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
    return run


def build_results(run_dir: Path, *, suites_root: Path | None = None) -> dict[str, Any]:
    run_dir = Path(run_dir)
    try:
        info: RunInfo | None = read_run_info(run_dir, lenient=True)
    except ConfigError:  # none, or unreadable: the journals still say what happened
        info = None
    root = suites_root or (Path(info.suites_root) if info and info.suites_root else None)
    suites = _load_suites(root, [ref.id for ref in info.suites] if info else [])
    run_waivers = load_run_waivers(run_dir, info) if info else None
    devices = [build_device(j, suites, run_waivers) for j in read_journals(run_dir)]
    used = {t["suite"] for d in devices for t in d["tests"] if t["suite"]}
    verdicts = Counter(d["verdict"] for d in devices)
    outcomes: Counter[str] = Counter()
    for d in devices:
        outcomes.update({k: v for k, v in d["summary"].items() if k != "total"})
    run = _run_section(run_dir, info)
    # The schema's list of requirement ids waived for the whole run: nothing sets it any more (the
    # platform's signed waivers are evaluated per device, in devices[].waivers).
    run["waivers"] = []
    run["waiver_file"] = (info.waiver_file if info else None) or None
    run["waivers_evaluated"] = run_waivers.at_text if run_waivers else None
    return {
        "schema_version": SCHEMA_VERSION,
        "generated": time.time(),
        "run": run,
        "suites": _suite_refs(info.suites if info else [], suites, used),
        "devices": devices,
        "summary": {
            "devices": len(devices),
            "verdicts": dict(sorted(verdicts.items())),
            "outcomes": {str(o): outcomes.get(str(o), 0) for o in Outcome},
        },
    }


def save_results(run_dir: Path, document: dict[str, Any]) -> Path:
    """Write results.json atomically (temp file + rename)."""
    target = Path(run_dir) / RESULTS_JSON
    # One json.dumps without indent runs the C encoder: 100,000 results with evidence take ~1 s, where
    # json.dump(indent=2) takes ~5 s. (`jq .` or `python -m json.tool` indent it for reading.)
    text = json.dumps(document, ensure_ascii=False)
    # backslashreplace: a lone surrogate (legal as a JSON escape in a journal) is written back as that
    # escape instead of failing the whole document.
    with atomic_output(target, "w", fsync=True, encoding="utf-8", errors="backslashreplace") as out:
        out.write(text)
        out.write("\n")
    return target


def write_results(run_dir: Path, **kwargs: Any) -> dict[str, Any]:
    """Build and write results.json; returns the document."""
    document = build_results(Path(run_dir), **kwargs)
    save_results(Path(run_dir), document)
    return document


SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "results.schema.json"
