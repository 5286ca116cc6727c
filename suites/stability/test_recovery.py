"""Recovery: a watchdog left unfed resets the device by itself, and the filesystem survives the lab
cutting the power. Both are destructive (the device resets or loses power mid-run) and run only where
the bench says they may: the watchdog on a device declaring `watchdog-reboot`, the power cut on one
whose inventory entry has a `power` table (harness.power). Anything else is a SKIP with the reason.
Each carries the `reboots` marker (`-m "not reboots"` leaves them out) and its requirement says what it
does in suite.toml (`destructive`), which `harness suites` shows."""

from __future__ import annotations

import shlex
import time
import uuid
from dataclasses import dataclass, field

import pytest

from harness.checks import recovery, sysfs
from harness.checks.recovery import BootMark
from harness.errors import NotReady
from harness.identity import Identity

MARKER = ".harness-power-marker"
BUILD_FIELDS = ("os_name", "os_version", "kernel", "fingerprint")


def _boot_mark(dut) -> BootMark:
    result = dut.run(recovery.BOOT_MARK_COMMAND)
    mark = recovery.parse_boot_mark(result.stdout_text)
    assert mark is not None, (f"no boot id and uptime in {result.stdout_text[:200]!r} "
                              f"(exit {result.exit_code})")
    return mark


def _build_changes(before: Identity, after: Identity) -> list[str]:
    return [f"{f} changed from {getattr(before, f)!r} to {getattr(after, f)!r}" for f in BUILD_FIELDS
            if getattr(before, f) != getattr(after, f)]


# -- the watchdog ----------------------------------------------------------------------------------


@dataclass
class WatchdogRun:
    problems: list[str]  # why the watchdog could not be armed, or did not reset the device
    before: Identity | None = None
    after: Identity | None = None  # the identity after the reset; None when there was none
    timeout: float = 0.0
    reset_seconds: float | None = None


@pytest.fixture(scope="module")
def watchdog_run(dut, suite_data, request) -> WatchdogRun:
    if "watchdog-reboot" not in dut.spec.declared.capabilities:
        pytest.skip("the device does not declare the capability (declared.capabilities: watchdog-reboot)")
    patterns = [f"{recovery.WATCHDOG_CLASS}/watchdog*/{name}" for name in recovery.WATCHDOG_FILES]
    tree = sysfs.parse_dump(dut.run(sysfs.dump_script(patterns)).stdout_text)
    nodes = dut.run("if [ -e /dev/watchdog ]; then echo /dev/watchdog; fi").stdout_text
    dog, problems = recovery.watchdog_usable(tree, nodes)
    if problems or dog is None or dog.timeout is None:
        return WatchdogRun(problems)
    before_identity = dut.identity()
    before = _boot_mark(dut)
    slack = float(suite_data["watchdog_slack_s"])
    budget = dog.timeout + slack + dut.profile.boot_time_budget
    # Open, write one byte, close without the magic 'V': the watchdog keeps counting and nothing feeds it.
    armed_at = time.monotonic()
    arm = dut.run("printf 1 > /dev/watchdog")
    if not arm.ok:
        why = arm.stderr_text.strip() or arm.stdout_text.strip()
        return WatchdogRun([f"cannot open /dev/watchdog: {why}"])
    answered: dict[str, float] = {}

    def settled(result) -> bool:
        # Another boot, or still this one past the timeout and the slack: either way waiting is over.
        answered["at"] = time.monotonic()
        mark = recovery.parse_boot_mark(result.stdout_text)
        waited = answered["at"] - armed_at
        return mark is not None and (mark.boot_id != before.boot_id or waited > dog.timeout + slack)

    result = dut.wait_rebooted(recovery.BOOT_MARK_COMMAND, settled, budget)
    after = recovery.parse_boot_mark(result.stdout_text) if result is not None else None
    since = answered.get("at", time.monotonic()) - armed_at
    problems = recovery.rebooted_by_itself(before, after, since, float(dog.timeout), slack)
    reset = after is not None and after.boot_id != before.boot_id
    reset_seconds = since - after.uptime if reset and after is not None else None
    after_identity = dut.identity() if reset else None  # only a boot the watchdog began can recover
    return WatchdogRun(problems, before_identity, after_identity, float(dog.timeout), reset_seconds)


@pytest.mark.reboots
@pytest.mark.requirement("STAB-WDT-001")
def test_unfed_watchdog_resets_the_device(dut, watchdog_run):
    if watchdog_run.reset_seconds is not None:
        dut.metric("watchdog_reset_after", round(watchdog_run.reset_seconds, 1), "s",
                   high=watchdog_run.timeout)
    assert not watchdog_run.problems, "; ".join(watchdog_run.problems)


@pytest.mark.reboots
@pytest.mark.requirement("STAB-WDT-002")
def test_device_recovers_from_the_watchdog_reset(dut, watchdog_run):
    if watchdog_run.before is None or watchdog_run.after is None:
        pytest.fail("no watchdog reset to recover from: " + "; ".join(watchdog_run.problems))
    assert dut.run(dut.profile.boot_completed).ok, "boot-completed check fails after the watchdog reset"
    changes = _build_changes(watchdog_run.before, watchdog_run.after)
    assert not changes, "after the watchdog reset: " + "; ".join(changes)


# -- the power cut ---------------------------------------------------------------------------------


@dataclass
class PowerCut:
    folder: str
    marker: str
    token: str
    mount: recovery.Mount | None
    before: Identity
    after: Identity
    kernel_log: str
    read_exit: int
    read_text: str
    boot_seconds: float
    notes: list[str] = field(default_factory=list)


def _marker_folder(dut, candidates: list[str]) -> str:
    words = " ".join(shlex.quote(c) for c in candidates)
    found = dut.run(f'for d in {words}; do if [ -d "$d" ] && [ -w "$d" ]; then echo "$d"; break; fi; done')
    folder = found.stdout_text.strip()
    assert folder, f"none of {candidates} is a writable folder on the device"
    return folder


@pytest.fixture(scope="module")
def power_cut(dut, suite_data) -> PowerCut:
    if dut.spec.power is None:
        pytest.skip("the lab has no power control of this device (devices.toml: no power table, i.e. the "
                    "off/on commands of its PDU or relay, or a power controller socket)")
    folder = _marker_folder(dut, list(suite_data["marker_dirs"]))
    marker = f"{folder.rstrip('/')}/{MARKER}"
    mount = recovery.mount_of(recovery.parse_mounts(dut.run("cat /proc/mounts").stdout_text), folder)
    token = uuid.uuid4().hex
    wrote = dut.run(f"printf '%s\\n' {token} > {shlex.quote(marker)} && sync")
    assert wrote.ok, f"cannot write the marker {marker}: {wrote.stderr_text.strip()}"
    before = dut.identity()
    boot_before = _boot_mark(dut)
    started = time.monotonic()
    after = dut.power_cycle_and_wait()
    boot_seconds = time.monotonic() - started
    boot_after = _boot_mark(dut)
    if boot_after.boot_id == boot_before.boot_id:
        # The switch said yes but the device never lost power: the lab, not the product.
        raise NotReady(f"{dut.name} is still in {boot_before.boot_id} after the power cycle: the power "
                       f"switch ({dut.spec.power.describe()}) did not cut it")
    read = dut.run(f"cat {shlex.quote(marker)}")
    log = dut.run(dut.profile.logs.get("kernel", "dmesg"), timeout=120)
    return PowerCut(folder, marker, token, mount, before, after, log.stdout_text, read.exit_code,
                    read.stdout_text + read.stderr_text, boot_seconds)


@pytest.mark.reboots
@pytest.mark.requirement("STAB-PWR-001")
def test_synced_file_survives_the_power_cut(dut, power_cut):
    problems = recovery.marker_intact(power_cut.token, power_cut.read_exit, power_cut.read_text)
    where = (f" ({power_cut.mount.fstype} {power_cut.mount.source} on {power_cut.mount.point})"
             if power_cut.mount else "")
    assert not problems, f"{power_cut.marker}{where}: " + "; ".join(problems)
    dut.run(f"rm -f {shlex.quote(power_cut.marker)}")


@pytest.mark.reboots
@pytest.mark.requirement("STAB-PWR-002")
def test_journal_recovers_cleanly_after_the_power_cut(power_cut):
    problems = recovery.clean_recovery(power_cut.kernel_log)
    assert not problems, "; ".join(problems)


@pytest.mark.reboots
@pytest.mark.requirement("STAB-PWR-003")
def test_fsck_finds_no_error_after_the_power_cut(dut, power_cut):
    mount = power_cut.mount
    if mount is None or mount.fstype not in ("ext2", "ext3", "ext4"):
        where = mount.fstype if mount else "no mount"
        pytest.skip(f"e2fsck checks ext2/3/4; {power_cut.folder} is on {where}")
    source = shlex.quote(mount.source)
    if not dut.run(f"[ -b {source} ]").ok:
        pytest.skip(f"{mount.source} (holding {mount.point}) is no block device the device shows")
    if not dut.run("command -v e2fsck").ok:
        pytest.skip("the device has no e2fsck")
    point = shlex.quote(mount.point)
    # e2fsck -n on a filesystem mounted read-write sees its in-flight state, not errors: check it read-only.
    if not dut.run(f"sync && mount -o remount,ro {point}").ok:
        pytest.skip(f"{mount.point} cannot be remounted read-only for the check (busy)")
    try:
        check = dut.run(f"e2fsck -fn {source}", timeout=300)
    finally:
        dut.run(f"mount -o remount,rw {point}")
    problems = recovery.fsck_result(check.exit_code, check.stdout_text + check.stderr_text)
    assert not problems, "; ".join(problems)


@pytest.mark.reboots
@pytest.mark.requirement("STAB-PWR-004")
def test_device_recovers_from_the_power_cut(dut, power_cut):
    dut.metric("power_cut_recovery", round(power_cut.boot_seconds, 2), "s", high=dut.profile.boot_time_budget)
    assert dut.run(dut.profile.boot_completed).ok, "boot-completed check fails after the power cut"
    changes = _build_changes(power_cut.before, power_cut.after)
    assert not changes, "after the power cut: " + "; ".join(changes)
