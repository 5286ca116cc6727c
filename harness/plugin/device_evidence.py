"""A PASS rests on the device (issue 9, item 12): a test that used the device passes only when something
the device said is behind it: a command run during the test, a command run by a shared (module or
session) fixture the test uses, or the device identity the test asked for. A test that judges reference
data alone says so with `@pytest.mark.data_only("reason")`; any other PASS without device evidence is
an ERROR of the suite, never a pass."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

DATA_ONLY = "data_only"
MARKER_HELP = "data_only(reason): this test judges reference data only, nothing read from the device"
NO_EVIDENCE = (
    "passed without device evidence: the test ran no command on the device and judged no identity "
    "(a test of reference data alone says so with @pytest.mark.data_only(reason))"
)


def data_only_reason(item: pytest.Item) -> str | None:
    """None: not declared data-only; "" declared without a reason (an error); else the reason."""
    mark = item.get_closest_marker(DATA_ONLY)
    if mark is None:
        return None
    reason = mark.args[0] if mark.args else mark.kwargs.get("reason", "")
    return str(reason).strip()


@dataclass
class EvidenceTracker:
    """Counts device evidence as it is recorded, and which shared fixtures produced some while they were
    set up (their value carries it to every test that uses them)."""

    commands: int = 0
    shared: dict[str, bool] = field(default_factory=dict)

    def fixture_set_up(self, name: str, scope: str, commands_before: int) -> None:
        if scope != "function":
            self.shared[name] = self.commands > commands_before

    def rests_on_device(self, item: pytest.Item, own_commands: int, identity_read: bool) -> bool:
        if own_commands or identity_read:
            return True
        names = getattr(item, "fixturenames", ())
        argnames = getattr(getattr(item, "_fixtureinfo", None), "argnames", ())
        if "ident" in argnames:  # the test judges the identity the device reported
            return True
        return any(self.shared.get(name) for name in names)


def uses_device(item: pytest.Item) -> bool:
    return "dut" in getattr(item, "fixturenames", ())
