"""What changed between two runs (or two devices of one run), as a pure function of two RunViews.

For each pair of devices, every test is in at most one of:
- newly failing: FAIL now, and not FAIL before (a test new in B that fails counts here too);
- fixed: FAIL before, PASS now;
- still failing: FAIL in both;
- changed: any other change of outcome (PASS -> ERROR, FAIL -> SKIP, ... : not a product verdict
  either way, so it is neither fixed nor failing);
- added / removed: planned in only one of the two (an added test that fails is also newly failing).
Flaky lists the tests the device both passed and failed within either run. Requirements are listed
when their status differs (or they exist on one side only). A metric is listed when it crossed its own
bounds (in -> out or out -> in) or moved by more than the tolerance relative to its old value.

A regression, what `harness diff` exits 1 for: a newly failing test, or a requirement that was
not `fail` and is now."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..errors import ConfigError
from .view import DeviceView, MetricView, RunView, TestView

FAIL, PASS = "FAIL", "PASS"
DEFAULT_TOLERANCE = 0.10  # a metric moving by more than 10% of its old value is listed


@dataclass(frozen=True)
class TestChange:
    __test__ = False  # not a pytest class

    test_id: str
    suite: str
    before: str | None  # outcome in A (None: not in A)
    after: str | None
    message: str  # B's message (A's when the test is gone)
    requirements: tuple[str, ...]


@dataclass(frozen=True)
class FlakyTest:
    test_id: str
    runs: tuple[str, ...]  # "a", "b" or both: where its repeats or attempts disagreed


@dataclass(frozen=True)
class RequirementChange:
    id: str
    level: str
    before: str | None  # status in A (None: not in A)
    after: str | None


@dataclass(frozen=True)
class MetricMove:
    test_id: str
    name: str
    unit: str
    before: float
    after: float
    change: float | None  # relative to before; None when before is 0
    low: float | None
    high: float | None
    why: str  # "out of bounds", "back within bounds", "moved"


@dataclass(frozen=True)
class DeviceDiff:
    a: str
    b: str
    verdict_a: str
    verdict_b: str
    build_a: str
    build_b: str
    newly_failing: tuple[TestChange, ...] = ()
    fixed: tuple[TestChange, ...] = ()
    still_failing: tuple[TestChange, ...] = ()
    changed: tuple[TestChange, ...] = ()
    added: tuple[TestChange, ...] = ()
    removed: tuple[TestChange, ...] = ()
    flaky: tuple[FlakyTest, ...] = ()
    requirements: tuple[RequirementChange, ...] = ()
    metrics: tuple[MetricMove, ...] = ()

    @property
    def worse_requirements(self) -> tuple[RequirementChange, ...]:
        return tuple(r for r in self.requirements if r.after == "fail" and r.before != "fail")

    @property
    def regression(self) -> bool:
        return bool(self.newly_failing or self.worse_requirements)

    def counts(self) -> dict[str, int]:
        return {
            "newly_failing": len(self.newly_failing),
            "fixed": len(self.fixed),
            "still_failing": len(self.still_failing),
            "changed": len(self.changed),
            "added": len(self.added),
            "removed": len(self.removed),
            "flaky": len(self.flaky),
            "requirements_changed": len(self.requirements),
            "metrics_moved": len(self.metrics),
        }


@dataclass(frozen=True)
class RunDiff:
    a_run: str
    b_run: str
    a_source: str
    b_source: str
    tolerance: float
    devices: tuple[DeviceDiff, ...] = ()
    only_a: tuple[str, ...] = ()  # devices of A paired with none of B
    only_b: tuple[str, ...] = ()

    @property
    def regression(self) -> bool:
        return any(d.regression for d in self.devices)

    def counts(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for d in self.devices:
            for k, v in d.counts().items():
                total[k] = total.get(k, 0) + v
        return total

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        for d, raw in zip(self.devices, doc["devices"], strict=True):
            raw["counts"] = d.counts()
            raw["regression"] = d.regression
        doc["summary"] = {**self.counts(), "devices": len(self.devices)}
        doc["regression"] = self.regression
        return doc


def pair_devices(a: RunView, b: RunView, pairs: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """Which device of A is compared with which of B: the pairs given, else the devices both runs name,
    else the only device of each (one board, two builds, named differently)."""
    if pairs:
        for left, right in pairs:
            if left not in a.devices:
                raise ConfigError(f"{a.source}: no device {left!r} (it has {_names(a)})")
            if right not in b.devices:
                raise ConfigError(f"{b.source}: no device {right!r} (it has {_names(b)})")
        return list(pairs)
    common = [name for name in a.devices if name in b.devices]
    if common:
        return [(name, name) for name in common]
    if len(a.devices) == 1 and len(b.devices) == 1:
        return [(next(iter(a.devices)), next(iter(b.devices)))]
    return []


def _names(run: RunView) -> str:
    return ", ".join(sorted(run.devices)) or "no devices"


def _change(test_id: str, ta: TestView | None, tb: TestView | None) -> TestChange:
    shown = tb or ta
    assert shown is not None
    return TestChange(
        test_id=test_id,
        suite=shown.suite,
        before=ta.outcome if ta else None,
        after=tb.outcome if tb else None,
        message=shown.message,
        requirements=shown.requirements,
    )


def _metric_moves(
    test_id: str, ma: tuple[MetricView, ...], mb: tuple[MetricView, ...], tolerance: float
) -> list[MetricMove]:
    before = {m.name: m for m in ma}
    moves = []
    for m in {m.name: m for m in mb}.values():
        old = before.get(m.name)
        if old is None:
            continue
        change = (m.value - old.value) / abs(old.value) if old.value else None
        was, now = old.within(), m.within()
        if was is True and now is False:
            why = "out of bounds"
        elif was is False and now is True:
            why = "back within bounds"
        elif (change is not None and abs(change) > tolerance) or (change is None and m.value != old.value):
            why = "moved"
        else:
            continue
        moves.append(MetricMove(test_id, m.name, m.unit, old.value, m.value, change, m.low, m.high, why))
    return moves


def diff_devices(da: DeviceView, db: DeviceView, tolerance: float = DEFAULT_TOLERANCE) -> DeviceDiff:
    newly: list[TestChange] = []
    fixed: list[TestChange] = []
    still: list[TestChange] = []
    changed: list[TestChange] = []
    added: list[TestChange] = []
    removed: list[TestChange] = []
    flaky: list[FlakyTest] = []
    metrics: list[MetricMove] = []
    tests_a, tests_b = da.tests, db.tests
    for test_id, ta in tests_a.items():
        tb = tests_b.get(test_id)
        if tb is None:
            removed.append(_change(test_id, ta, None))
            if ta.flaky:
                flaky.append(FlakyTest(test_id, ("a",)))
            continue
        if ta.flaky or tb.flaky:
            flaky.append(FlakyTest(test_id, tuple(r for r, t in (("a", ta), ("b", tb)) if t.flaky)))
        if ta.metrics and tb.metrics:
            metrics += _metric_moves(test_id, ta.metrics, tb.metrics, tolerance)
        before, after = ta.outcome, tb.outcome
        if before == after:
            if after == FAIL:
                still.append(_change(test_id, ta, tb))
            continue
        entry = _change(test_id, ta, tb)
        if after == FAIL:
            newly.append(entry)
        elif before == FAIL and after == PASS:
            fixed.append(entry)
        else:
            changed.append(entry)
    for test_id, tb in tests_b.items():
        if test_id in tests_a:
            continue
        entry = _change(test_id, None, tb)
        added.append(entry)
        if tb.outcome == FAIL:
            newly.append(entry)
        if tb.flaky:
            flaky.append(FlakyTest(test_id, ("b",)))
    requirements = []
    for rid, ra in da.requirements.items():
        rb = db.requirements.get(rid)
        if rb is None or rb.status != ra.status:
            status_b = rb.status if rb else None
            requirements.append(RequirementChange(rid, (rb or ra).level, ra.status, status_b))
    requirements += [
        RequirementChange(rid, rb.level, None, rb.status)
        for rid, rb in db.requirements.items()
        if rid not in da.requirements
    ]
    return DeviceDiff(
        a=da.name,
        b=db.name,
        verdict_a=da.verdict,
        verdict_b=db.verdict,
        build_a=da.build,
        build_b=db.build,
        newly_failing=tuple(newly),
        fixed=tuple(fixed),
        still_failing=tuple(still),
        changed=tuple(changed),
        added=tuple(added),
        removed=tuple(removed),
        flaky=tuple(flaky),
        requirements=tuple(requirements),
        metrics=tuple(metrics),
    )


def diff_runs(
    a: RunView,
    b: RunView,
    pairs: list[tuple[str, str]] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> RunDiff:
    matched = pair_devices(a, b, pairs)
    devices = tuple(diff_devices(a.devices[x], b.devices[y], tolerance) for x, y in matched)
    used_a = {x for x, _ in matched}
    used_b = {y for _, y in matched}
    return RunDiff(
        a_run=a.run_id,
        b_run=b.run_id,
        a_source=a.source,
        b_source=b.source,
        tolerance=tolerance,
        devices=devices,
        # Pairs given by hand say what to compare: the rest is not "only in one run" then.
        only_a=() if pairs else tuple(n for n in a.devices if n not in used_a),
        only_b=() if pairs else tuple(n for n in b.devices if n not in used_b),
    )


def sections(d: DeviceDiff) -> list[tuple[str, tuple[Any, ...]]]:
    return [
        ("newly_failing", d.newly_failing),
        ("fixed", d.fixed),
        ("still_failing", d.still_failing),
        ("changed", d.changed),
        ("added", d.added),
        ("removed", d.removed),
        ("flaky", d.flaky),
        ("requirements", d.requirements),
        ("metrics", d.metrics),
    ]
