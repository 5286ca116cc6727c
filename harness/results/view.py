"""A results document read for comparison: per device, its identity, verdict, requirement statuses and
each test's final outcome, flakiness and metrics, keyed for lookup.

The document is untrusted (a colleague's zip, a platform download): every field used is type-checked
and a bad one is a ConfigError naming the source and the JSON path, never a traceback. Nothing else of
the document (evidence, attempts) is kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError

MAX_TEXT = 400  # a message or id is cut here: the diff shows a line, not the evidence


@dataclass(frozen=True, slots=True)
class MetricView:
    name: str
    value: float
    unit: str
    low: float | None
    high: float | None

    def within(self) -> bool | None:
        """Inside its bounds (None: it has none)."""
        if self.low is None and self.high is None:
            return None
        return (self.low is None or self.value >= self.low) and (self.high is None or self.value <= self.high)


@dataclass(frozen=True, slots=True)
class TestView:
    __test__ = False  # not a pytest class

    test_id: str
    suite: str
    outcome: str
    flaky: bool
    message: str
    requirements: tuple[str, ...]
    metrics: tuple[MetricView, ...]


@dataclass(frozen=True, slots=True)
class RequirementView:
    id: str
    level: str
    status: str


@dataclass(frozen=True)
class DeviceView:
    name: str
    verdict: str
    identity: dict[str, str]
    tests: dict[str, TestView]
    requirements: dict[str, RequirementView]

    @property
    def build(self) -> str:
        """What names the build under test: the fingerprint, else OS name and version."""
        ident = self.identity
        return ident.get("fingerprint") or " ".join(
            v for v in (ident.get("os_name", ""), ident.get("os_version", "")) if v
        )


@dataclass(frozen=True)
class RunView:
    source: str  # where it was read from, for messages
    run_id: str
    devices: dict[str, DeviceView] = field(default_factory=dict)


def _encodable(text: str) -> str:
    """Text as UTF-8 can carry it: a lone surrogate (legal as a JSON escape, which device output and
    results.json may hold) becomes a visible escape instead of failing whoever prints it."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def bad(self, where: str, why: str) -> ConfigError:
        return ConfigError(f"{self.source}: {where}: {why}")

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.bad(where, "not an object")
        return value

    def arr(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.bad(where, "not a list")
        return value

    def text(self, value: Any, where: str, *, required: bool = True) -> str:
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value):
            raise self.bad(where, "not a non-empty string" if required else "not a string")
        value = _encodable(value)
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"

    def number(self, value: Any, where: str, *, optional: bool = False) -> float | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.bad(where, "not a number")
        return float(value)


def _metrics(r: _Reader, raw: Any, where: str) -> tuple[MetricView, ...]:
    if not raw:
        return ()
    out = []
    for i, m in enumerate(r.arr(raw, where)):
        w = f"{where}[{i}]"
        m = r.obj(m, w)
        value = r.number(m.get("value"), f"{w}.value")
        assert value is not None
        out.append(
            MetricView(
                name=r.text(m.get("name"), f"{w}.name"),
                value=value,
                unit=r.text(m.get("unit"), f"{w}.unit", required=False),
                low=r.number(m.get("low"), f"{w}.low", optional=True),
                high=r.number(m.get("high"), f"{w}.high", optional=True),
            )
        )
    return tuple(out)


def _test(r: _Reader, raw: Any, where: str) -> TestView:
    t = r.obj(raw, where)
    test_id, suite, outcome, message = t.get("test_id"), t.get("suite"), t.get("outcome"), t.get("message")
    reqs = t.get("requirements") or ()
    # The common case checked in one go (100,000 tests a run); anything else takes the slow path
    # that names what is wrong.
    if not (
        type(test_id) is str
        and test_id
        and len(test_id) <= MAX_TEXT
        and type(suite) is str
        and type(outcome) is str
        and outcome
        and (message is None or type(message) is str)
        and type(reqs) in (list, tuple)
        and all(type(x) is str and x for x in reqs)
    ):
        test_id = r.text(test_id, f"{where}.test_id")
        suite = r.text(suite, f"{where}.suite", required=False)
        outcome = r.text(outcome, f"{where}.outcome")
        message = r.text(message, f"{where}.message", required=False)
        reqs = [r.text(x, f"{where}.requirements") for x in r.arr(reqs, f"{where}.requirements")]
    test_id, message = _encodable(test_id), _encodable(message or "")
    if "\n" in message or len(message) > MAX_TEXT:
        message = r.text(message.split("\n", 1)[0], f"{where}.message")
    metrics = t.get("metrics")
    return TestView(
        test_id=test_id,
        suite=suite,
        outcome=outcome,
        flaky=t.get("flaky") is True,
        message=message or "",
        requirements=tuple(_encodable(x) for x in reqs),
        metrics=_metrics(r, metrics, f"{where}.metrics") if metrics else (),
    )


def _device(r: _Reader, raw: Any, where: str) -> DeviceView:
    d = r.obj(raw, where)
    ident_raw = d.get("identity") or {}
    identity = {
        k: _encodable(v) for k, v in r.obj(ident_raw, f"{where}.identity").items() if isinstance(v, str)
    }
    tests: dict[str, TestView] = {}
    for i, t in enumerate(r.arr(d.get("tests") or [], f"{where}.tests")):
        view = _test(r, t, f"{where}.tests[{i}]")
        tests[view.test_id] = view
    requirements: dict[str, RequirementView] = {}
    for i, q in enumerate(r.arr(d.get("requirements") or [], f"{where}.requirements")):
        w = f"{where}.requirements[{i}]"
        q = r.obj(q, w)
        req = RequirementView(
            id=r.text(q.get("id"), f"{w}.id"),
            level=r.text(q.get("level"), f"{w}.level", required=False),
            status=r.text(q.get("status"), f"{w}.status"),
        )
        requirements[req.id] = req
    return DeviceView(
        name=r.text(d.get("name"), f"{where}.name"),
        verdict=r.text(d.get("verdict"), f"{where}.verdict", required=False),
        identity=identity,
        tests=tests,
        requirements=requirements,
    )


def run_view(document: Any, source: str) -> RunView:
    """The parts of a results document a comparison needs; ConfigError on a malformed one."""
    r = _Reader(source)
    doc = r.obj(document, "$")
    run = r.obj(doc.get("run"), "$.run")
    devices: dict[str, DeviceView] = {}
    for i, d in enumerate(r.arr(doc.get("devices"), "$.devices")):
        view = _device(r, d, f"$.devices[{i}]")
        if view.name in devices:
            raise r.bad(f"$.devices[{i}].name", f"device {view.name!r} appears twice")
        devices[view.name] = view
    return RunView(source=source, run_id=r.text(run.get("run_id"), "$.run.run_id"), devices=devices)
