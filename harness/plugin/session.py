"""One worker's state and hooks: selection, the plan, one record per test (outcome, evidence,
metrics), the journal lines, the device link. Registered by harness.plugin at configure time."""

from __future__ import annotations

import copy
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ..device import Device
from ..errors import ConfigError
from ..identity import Identity
from ..inventory import load_inventory
from ..results.journal_records import DeviceLine, EndLine, PlanLine, PlannedTest, ResultLine
from ..results.model import Evidence, Metric, Outcome, TestRecord
from ..secrets import redact
from ..specs import DeviceSpec
from .device_evidence import DATA_ONLY, NO_EVIDENCE, EvidenceTracker, data_only_reason, uses_device
from .evidence import CommandLog
from .journal_writer import JournalWriter, progress_fd_from_env
from .link import DeviceLink, DeviceUnreachable
from .options import HarnessOptions
from .outcome import PhaseOutcome, TestTimedOut, classify, combine
from .selection import read_only_file, select, suite_test_id
from .suite_fixtures import Applicability
from .timeout import per_test_alarm

COLLECT_ERROR_LIMIT = 2000


SESSION_KEY = pytest.StashKey["HarnessSession"]()
PLANNED_KEY = pytest.StashKey[PlannedTest]()
REPEAT_KEY = pytest.StashKey[int]()  # which run of the test under --harness-repeat (0 first)


@dataclass
class _Current:
    record: TestRecord
    t0: float
    phases: list[PhaseOutcome] = field(default_factory=list)
    identity_read: bool = False


def _requirements(item: pytest.Item) -> tuple[str, ...]:
    ids: list[str] = []
    for mark in item.iter_markers("requirement"):
        ids.extend(str(a) for a in mark.args)
    return tuple(dict.fromkeys(ids))


def _repeat_copy(item: pytest.Item, planned: PlannedTest, index: int) -> pytest.Item:
    """Another run of the same test: a shallow copy with its own fixture request, stash and report
    sections, so pytest sets it up and tears it down as a separate item."""
    twin = copy.copy(item)
    twin.stash = pytest.Stash()
    twin._report_sections = []
    twin.user_properties = []
    if isinstance(twin, pytest.Function):
        twin._initrequest()
    twin.stash[PLANNED_KEY] = planned
    twin.stash[REPEAT_KEY] = index
    return twin


class HarnessSession:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.options = HarnessOptions.from_config(config)
        self.device_name = self.options.device or ""
        self.link: DeviceLink | None = None
        self.kind = self.profile = ""
        spec: DeviceSpec | None = None
        if self.options.device:
            spec = load_inventory(self.options.inventory).get(self.options.device)
            self.kind, self.profile = spec.kind, spec.profile
            self.link = DeviceLink(
                spec,
                via=self.options.via,
                boot_timeout=self.options.boot_timeout,
                on_identity=self._identity_line,
            )
        self.applicability = Applicability(spec)
        run_dir = self.options.run_dir
        journal = run_dir / "journal" / f"{self.device_name}.jsonl" if run_dir else None
        self.writer = JournalWriter(journal, progress_fd_from_env())
        self.commands = CommandLog(run_dir / "logs" / self.device_name / "commands.log" if run_dir else None)
        self.current: _Current | None = None
        self.interrupted = False
        self.missing: list[str] = []
        self.collect_errors: list[tuple[PlannedTest, str]] = []
        self.evidence = EvidenceTracker()
        self._in_call = False

    @staticmethod
    def of(config: pytest.Config) -> HarnessSession:
        return config.stash[SESSION_KEY]

    # -- Recorder (for Dut) --------------------------------------------------------------------

    def add_evidence(self, evidence: Evidence, stdout: bytes, stderr: bytes) -> None:
        self.evidence.commands += 1
        test_id = ""
        if self.current is not None:
            self.current.record.evidence.append(evidence)
            test_id = self.current.record.test_id
        self.commands.append(test_id, evidence, stdout, stderr)

    def note_identity(self) -> None:
        # Only the test body's own look counts: a fixture's (ident) is judged by who asks for it.
        if self.current is not None and self._in_call:
            self.current.identity_read = True

    def add_metric(self, metric: Metric) -> None:
        if self.current is not None:
            self.current.record.metrics.append(metric)

    def _identity_line(self, device: Device, identity: Identity) -> None:
        self.writer.write(
            DeviceLine(
                device=self.device_name,
                kind=device.spec.kind,
                profile=device.spec.profile,
                transport=device.transport.kind,
                identity=identity.to_dict(),
                at=time.time(),
            )
        )

    # -- collection and the plan ---------------------------------------------------------------

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if not report.failed:
            return
        path = self.config.rootpath / report.nodeid.split("::", 1)[0]
        test_id, suite = suite_test_id(path, report.nodeid)
        text = str(report.longrepr).strip()
        message = "collection error: " + text[-COLLECT_ERROR_LIMIT:]
        self.collect_errors.append((PlannedTest(test_id, suite, ()), redact(message)))

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        for item in items:
            test_id, suite = suite_test_id(item.path, item.nodeid)
            item.stash[PLANNED_KEY] = PlannedTest(test_id, suite, _requirements(item))
        ids = [item.stash[PLANNED_KEY].test_id for item in items]
        only = read_only_file(self.options.only) if self.options.only else None
        chosen = select(ids, shard=self.options.shard, only=only)
        self.missing = chosen.missing
        kept = [items[i] for i in chosen.keep]
        keep_set = set(map(id, kept))
        dropped = [item for item in items if id(item) not in keep_set]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        runs: list[pytest.Item] = []
        for item in kept:
            runs.append(item)
            planned = item.stash[PLANNED_KEY]
            runs.extend(_repeat_copy(item, planned, i) for i in range(1, self.options.repeat))
        items[:] = runs

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        tests = {item.stash[PLANNED_KEY].test_id: item.stash[PLANNED_KEY] for item in session.items}
        for planned, _ in self.collect_errors:
            tests.setdefault(planned.test_id, planned)
        shard = self.options.shard
        self.writer.write(
            PlanLine(
                device=self.device_name,
                kind=self.kind,
                profile=self.profile,
                attempt=self.options.attempt,
                repeat=self.options.repeat,
                shard=f"{shard.index}/{shard.count}" if shard else None,
                tests=list(tests.values()),
                missing=self.missing,
                at=time.time(),
            )
        )
        for planned, message in self.collect_errors:
            record = self._new_record(planned, 0)
            record.outcome, record.message = Outcome.ERROR, message
            record.ended = record.started
            self._write_result(record)

    # -- one test ------------------------------------------------------------------------------

    def _new_record(self, planned: PlannedTest, repeat: int) -> TestRecord:
        return TestRecord(
            test_id=planned.test_id,
            suite=planned.suite,
            outcome=Outcome.NOT_RUN,
            device=self.device_name,
            requirements=list(planned.requirements),
            started=time.time(),
            attempt=self.options.attempt,
            repeat=repeat,
        )

    def _write_result(self, record: TestRecord) -> None:
        self.writer.write(ResultLine(record))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, Any, Any]:
        planned = item.stash.get(PLANNED_KEY, None) or PlannedTest(*suite_test_id(item.path, item.nodeid))
        record = self._new_record(planned, item.stash.get(REPEAT_KEY, 0))
        self.current = current = _Current(record, time.monotonic())
        try:
            return (yield)
        except BaseException as exc:  # Ctrl-C or pytest.exit mid-test: this test did not finish
            if isinstance(exc, KeyboardInterrupt):
                self.interrupted = True
            current.phases.append(
                PhaseOutcome("call", Outcome.NOT_RUN, f"interrupted ({type(exc).__name__})")
            )
            raise
        finally:
            record = current.record
            record.outcome, record.message = combine(current.phases)
            if record.outcome is Outcome.PASS and uses_device(item):
                self._check_device_evidence(item, current)
            record.duration = round(time.monotonic() - current.t0, 6)
            record.ended = time.time()
            self.current = None
            self._write_result(record)

    def _check_device_evidence(self, item: pytest.Item, current: _Current) -> None:
        """A PASS of a test that used the device must rest on something the device said."""
        record = current.record
        reason = data_only_reason(item)
        if reason:
            record.message = f"data only: {reason}"
        elif reason == "":
            record.outcome = Outcome.ERROR
            record.message = f"@pytest.mark.{DATA_ONLY} needs a reason (what the test judges instead)"
        elif not self.evidence.rests_on_device(item, len(record.evidence), current.identity_read):
            record.outcome, record.message = Outcome.ERROR, NO_EVIDENCE

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, Any, Any]:
        before = self.evidence.commands
        try:
            return (yield)
        finally:
            self.evidence.fixture_set_up(fixturedef.argname, fixturedef.scope, before)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        # Before the fixtures: a test that does not apply to the device is skipped without touching it;
        # a dropped device is brought back, or the test fails fast once it is gone.
        planned = item.stash.get(PLANNED_KEY, None)
        reason = self.applicability.reason(
            Path(item.path), planned.requirements if planned is not None else _requirements(item)
        )
        if reason:
            pytest.skip(reason)
        if self.link is not None and "dut" in getattr(item, "fixturenames", ()):
            self.link.before_test()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        self._in_call = True
        try:
            with per_test_alarm(self.options.test_timeout):
                return (yield)
        finally:
            self._in_call = False

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        exc = call.excinfo.value if call.excinfo is not None else None
        phase = classify(call.when, report.outcome, exc, xfail_reason=getattr(report, "wasxfail", None))
        if self.current is not None:
            self.current.phases.append(phase)
            if isinstance(exc, DeviceUnreachable):
                self.current.record.unreachable = True
        if exc is not None and self.link is not None:
            self.link.note_error(exc)
            if isinstance(exc, TestTimedOut):
                self.link.needs_check = True
        return report

    # -- the end -------------------------------------------------------------------------------

    def pytest_keyboard_interrupt(self) -> None:
        self.interrupted = True

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.writer.write(
            EndLine(
                device=self.device_name,
                attempt=self.options.attempt,
                interrupted=self.interrupted,
                exit_status=int(exitstatus),
                at=time.time(),
            )
        )
        if self.link is not None:
            self.link.close()
        self.commands.close()
        self.writer.close()


def start_session(config: pytest.Config) -> HarnessSession:
    try:
        session = HarnessSession(config)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "harness-session")
    return session


__all__ = ["HarnessSession", "start_session"]
