"""The multi-host lab's pure rules: which device a tag picks, who may claim a device, leases, the gate a
fetched job passes, health and quarantine, a job's outcome, durations, and the overlap check the lab
tests read from the devices' command logs."""

from __future__ import annotations

import datetime as dt

import pytest

from harness.agent.health import after_check
from harness.agent.leases import Lease, decide, gate
from harness.agent.names import HEALTH_TASK, RUN_TASK, TAG_QUEUE_MAX, tag_queue
from harness.agent.owner import parse_duration
from harness.agent.queue import cancel_action, ended_note, view_state
from harness.agent.registry import Claim, claim_refusals, host_in_use
from harness.agent.runner import state_of
from harness.agent.selection import DeviceState, pick_for_tag, resolve
from harness.errors import ConfigError
from harness.lab.device.command_log import LoggedCommand
from tests.agent_peers import overlaps

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def dev(name: str, **kw: object) -> DeviceState:
    return DeviceState(name=name, host=kw.pop("host", "h1"), tags=kw.pop("tags", ("arm64",)), **kw)  # type: ignore[arg-type]


def test_a_tag_picks_a_free_device_before_a_busy_reserved_or_quarantined_one() -> None:
    devices = [dev("a", running=1), dev("b", reserved_by="alice"), dev("c", quarantined=True),
               dev("d", host_alive=False), dev("e", queued=2), dev("f")]
    assert pick_for_tag(devices, "arm64").name == "f"
    # None free: the usable one with the shortest queue, a reserved one last.
    busy = [dev("a", running=1, queued=3), dev("b", reserved_by="x"), dev("c", running=1), dev("q", quarantined=True)]
    assert pick_for_tag(busy, "arm64").name == "c"


def test_an_unknown_device_or_tag_is_a_usage_error_with_a_suggestion() -> None:
    devices = [dev("board-1", tags=("kylin",))]
    with pytest.raises(ConfigError, match="did you mean 'board-1'"):
        resolve(devices, ["board-2"], [], False)
    with pytest.raises(ConfigError, match="did you mean 'kylin'"):
        resolve(devices, [], ["kyln"], False)
    with pytest.raises(ConfigError, match="--device NAME, --tag TAG or --all"):
        resolve(devices, [], [], False)
    assert [t.device.name for t in resolve(devices, ["board-1", "board-1"], [], False) if t.device] == [
        "board-1", "board-1"]


def test_a_tag_stays_a_tag_until_its_job_starts() -> None:
    devices = [dev("a", tags=("kylin",), running=1), dev("b", tags=("kylin", "x")), dev("c", tags=("x",))]
    [one] = resolve(devices, [], ["kylin"], False)
    assert one.device is None and one.tag == "kylin" and [d.name for d in one.matching] == ["a", "b"]
    # Each tag's own queue; a long tag's by a digest, short enough for NOTIFY's 63-byte channel names.
    assert tag_queue("kylin") == "tag:kylin" and tag_queue("x") != tag_queue("kylin")
    long = "t" * 200
    assert tag_queue(long) != tag_queue(long + "u") and len(f"procrastinate_queue_v1#{tag_queue(long)}") <= 63
    assert len(f"procrastinate_queue_v1#{tag_queue('é' * TAG_QUEUE_MAX)}") <= 63


def test_cancel_ends_a_stalled_job_only_when_forced() -> None:
    assert cancel_action("todo", "alice", "alice", False, True) == "cancel"
    assert cancel_action("todo", "alice", "bob", False, True) == "refuse"
    assert cancel_action("doing", "alice", "alice", False, True) == "abort"
    assert cancel_action("doing", "alice", "alice", False, False) == "abort"  # stalled: its agent may return
    assert cancel_action("doing", "alice", "alice", True, False) == "end"
    assert cancel_action("doing", "alice", "bob", True, False) == "end"
    assert cancel_action("doing", "alice", "bob", True, True) == "abort"  # a live host stops it itself
    assert cancel_action("doing", "alice", "bob", False, False) == "refuse"
    assert cancel_action("failed", "alice", "bob", True, False) == "done"
    note = ended_note("bob", "host-a", NOW)
    assert note.startswith("ended by bob: its host host-a was silent since ")


def test_a_device_of_a_live_host_is_refused_a_dead_hosts_is_taken_over() -> None:
    claims = [Claim("x", "other", True), Claim("y", "dead", False), Claim("z", None, False), Claim("w", "me", True)]
    refused = claim_refusals(claims, "me")
    assert len(refused) == 1 and "'x'" in refused[0] and "'other'" in refused[0]


def test_a_lease_is_granted_renewed_by_its_owner_refused_to_others_and_while_a_job_runs() -> None:
    lease = Lease("d", "alice", NOW, NOW + dt.timedelta(hours=1))
    assert decide(None, "alice", None) == "grant"
    assert decide(lease, "alice", None) == "renew"
    assert "reserved by alice" in decide(lease, "bob", None)
    assert "job 7 is running" in decide(None, "bob", 7)


def test_a_fetched_job_waits_for_a_lease_and_a_run_for_quarantine_but_not_the_health_check() -> None:
    lease = Lease("d", "alice", NOW, NOW + dt.timedelta(minutes=5))
    waits = gate(RUN_TASK, lease, False, None, NOW)
    assert not waits.go and waits.until == lease.expires_at and "alice" in (waits.note or "")
    assert not gate(HEALTH_TASK, lease, True, None, NOW).go  # interactive work is not disturbed either
    quarantined = gate(RUN_TASK, None, True, "health check failed", NOW)
    assert not quarantined.go and "quarantined: health check failed" in (quarantined.note or "")
    assert gate(HEALTH_TASK, None, True, "x", NOW).go
    assert gate(RUN_TASK, None, False, None, NOW).go


def test_health_passing_clears_quarantine_failing_sets_it() -> None:
    assert after_check(True, "").quarantined is False
    assert after_check(True, "", by_hand=True).quarantined is True  # an admin's quarantine stays
    failed = after_check(False, "lab trouble (exit 3)")
    assert failed.quarantined and "lab trouble" in (failed.reason or "")


def test_lab_trouble_is_an_error_never_a_product_failure() -> None:
    assert state_of(0, "CERTIFIED") == "pass"
    assert state_of(1, "CONDITIONAL") == "pass"
    assert state_of(1, "NOT CERTIFIED") == "fail"
    assert state_of(3, "NOT CERTIFIED") == "fail"  # a product failure wins, as in the run's own gate
    assert state_of(3, "INCOMPLETE") == "error"
    assert state_of(1, None) == "error"  # no results at all: never blamed on the product
    assert state_of(-9, None) == "error"


def test_job_states_as_shown() -> None:
    assert view_state("todo", None) == "queued"
    assert view_state("todo", "waiting") == "waiting"
    assert view_state("doing", "running") == "running"
    assert view_state("doing", "running", host_alive=False) == "stalled"  # never "running" on a dead host
    assert view_state("todo", None, host_alive=False) == "queued"
    assert view_state("succeeded", "pass", host_alive=False) == "pass"
    assert view_state("succeeded", "pass") == "pass"
    assert view_state("failed", "fail") == "fail"
    assert view_state("failed", None) == "error"
    assert view_state("cancelled", "cancelled") == "cancelled"
    assert view_state("aborted", "cancelled") == "cancelled"


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, 7 * 86400) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5m", "nan", "inf", "8d", "1e308", "5 weeks"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text, 7 * 86400)


def test_the_overlap_check_sees_commands_sharing_a_device() -> None:
    def c(cmd: str, start: float, end: float | None) -> LoggedCommand:
        return LoggedCommand(cmd, start, end, 0)

    assert overlaps({"d": [c("a", 0, 1), c("b", 1, 2), c("x", 3, 4)]}) == []
    assert len(overlaps({"d": [c("a", 0, 2), c("b", 1, 3)]})) == 1
    assert len(overlaps({"d": [c("a", 0, 10), c("b", 1, 2), c("c", 3, 4)]})) == 2  # inside a long one
    assert len(overlaps({"d": [c("a", 0, None), c("b", 5, 6)]})) == 1  # one that never ended


def test_a_host_name_is_one_agents_unless_that_agent_is_gone() -> None:
    assert host_in_use(alive=True, same_instance=False, same_machine=False, pid_alive=False)
    assert host_in_use(alive=True, same_instance=False, same_machine=True, pid_alive=True)
    assert not host_in_use(alive=True, same_instance=False, same_machine=True, pid_alive=False)  # killed here
    assert not host_in_use(alive=False, same_instance=False, same_machine=False, pid_alive=True)  # silent
    assert not host_in_use(alive=True, same_instance=True, same_machine=True, pid_alive=True)


def test_a_host_name_too_long_for_its_queues_notify_channel_is_refused_before_anything() -> None:
    import subprocess
    import sys

    argv = [sys.executable, "-m", "harness", "-i", "/nonexistent.toml", "agent", "--db",
            "postgresql://u@127.0.0.1:9/x", "--host", "h" * 36]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "give a name of 1 to 35 bytes" in done.stderr
