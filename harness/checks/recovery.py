"""Stability and recovery: a watchdog that resets an unfed device, and a filesystem that comes back
consistent after the power is cut. Pure checks over text the device printed; each returns the problems
found (an empty list is a pass).

Sources: Linux Documentation/watchdog/watchdog-api.rst (an open /dev/watchdog closed without the magic
'V' keeps counting, and the device resets once the timeout passes unfed) and watchdog-kernel-api.rst
(/sys/class/watchdog/watchdogN: identity, timeout, nowayout, state); Documentation/filesystems/ext4
(the journal is replayed at the next mount, "recovery complete"; "EXT4-fs error" is corruption found);
e2fsck(8) exit codes (0 clean, 1/2 corrected, 4 left uncorrected, 8 and up operational trouble)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .sysfs import Tree

WATCHDOG_CLASS = "/sys/class/watchdog"
WATCHDOG_FILES = ("identity", "timeout", "nowayout", "state", "status", "bootstatus")
BOOT_MARK_COMMAND = "cat /proc/sys/kernel/random/boot_id /proc/uptime"
# Journaled filesystems whose replay the kernel reports, and the lines that say so.
RECOVERY_PATTERNS = (
    re.compile(r"EXT[34]-fs \((?P<dev>[^)]+)\): recovery complete"),
    re.compile(r"XFS \((?P<dev>[^)]+)\): Ending recovery"),
)
ERROR_PATTERNS = (
    re.compile(r"EXT[34]-fs error \(device (?P<dev>[^)]+)\)"),
    re.compile(r"EXT[34]-fs \((?P<dev>[^)]+)\): (?:error|warning: mounting fs with errors|"
               r"Remounting filesystem read-only|error count since last fsck)"),
    re.compile(r"JBD2: (?:.*(?:error|failed|Invalid checksum)|Journal transaction \d+ is corrupt)"),
    re.compile(r"XFS \((?P<dev>[^)]+)\): (?:Corruption|Internal error|log mount failed|Metadata corruption)"),
)
E2FSCK_CLEAN, E2FSCK_CORRECTED, E2FSCK_REBOOT, E2FSCK_UNCORRECTED = 0, 1, 2, 4


@dataclass(frozen=True)
class Watchdog:
    """One /sys/class/watchdog/watchdogN as its sysfs files say it."""

    name: str
    identity: str | None
    timeout: int | None  # seconds
    nowayout: bool | None
    state: str | None  # "active" | "inactive"


def watchdogs(tree: Tree) -> list[Watchdog]:
    found = []
    for name in tree.children(WATCHDOG_CLASS):
        base = f"{WATCHDOG_CLASS}/{name}"
        nowayout = tree.int_value(f"{base}/nowayout")
        found.append(Watchdog(name, tree.value(f"{base}/identity"), tree.int_value(f"{base}/timeout"),
                              None if nowayout is None else bool(nowayout), tree.value(f"{base}/state")))
    return found


def watchdog_usable(tree: Tree, device_nodes: str) -> tuple[Watchdog | None, list[str]]:
    """(the watchdog the test arms, problems): /dev/watchdog must be there and its class entry must
    say the timeout the test waits for, and it must not be running already (a daemon feeding it would
    keep the device up and the test would prove nothing)."""
    dogs = watchdogs(tree)
    if "/dev/watchdog" not in device_nodes.split():
        return None, ["no /dev/watchdog to open" + (f" (sysfs lists {', '.join(d.name for d in dogs)})"
                                                   if dogs else "")]
    if not dogs:
        return None, [f"/dev/watchdog exists but {WATCHDOG_CLASS} lists no watchdog"]
    dog = next((d for d in dogs if d.name == "watchdog0"), dogs[0])
    problems = []
    if dog.timeout is None or dog.timeout <= 0:
        problems.append(f"{dog.name} reports no timeout ({WATCHDOG_CLASS}/{dog.name}/timeout)")
    if dog.state == "active":
        problems.append(f"{dog.name} is already active: something else feeds it, so stopping to feed "
                        "it proves nothing (stop the watchdog daemon for the test)")
    return dog, problems


@dataclass(frozen=True)
class BootMark:
    """Which boot the device is in and for how long it has been up."""

    boot_id: str
    uptime: float  # seconds

    def __str__(self) -> str:
        return f"boot {self.boot_id} up {self.uptime:.1f}s"


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def parse_boot_mark(text: str) -> BootMark | None:
    """BOOT_MARK_COMMAND's output: the boot id line, then /proc/uptime ("up idle")."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or not _UUID.fullmatch(lines[0].lower()):
        return None
    try:
        uptime = float(lines[1].split()[0])
    except (ValueError, IndexError):
        return None
    return BootMark(lines[0].lower(), uptime)


def rebooted_by_itself(before: BootMark, after: BootMark | None, since_armed: float, timeout: float,
                       slack: float) -> list[str]:
    """The device reset on its own within the watchdog's timeout: another boot id, and the new boot
    began (answer time minus its uptime) no later than `timeout + slack` seconds after the watchdog
    was armed. `since_armed`: seconds from arming to the answer that read `after`."""
    if after is None:
        return ["the device never answered again after the watchdog was armed"]
    if after.boot_id == before.boot_id:
        return [f"still {before.boot_id} after {since_armed:.0f}s: the unfed watchdog did not reset the "
                f"device (timeout {timeout:g}s)"]
    reset_after = since_armed - after.uptime
    problems = []
    if after.uptime >= since_armed:
        problems.append(f"up {after.uptime:.0f}s, no shorter than the {since_armed:.0f}s since the watchdog "
                        "was armed: the uptime did not restart")
    elif reset_after > timeout + slack:
        problems.append(f"the device reset {reset_after:.0f}s after the watchdog was armed, past its "
                        f"{timeout:g}s timeout (+{slack:g}s allowed)")
    return problems


@dataclass(frozen=True)
class FsRecovery:
    recovered: tuple[str, ...]  # the kernel's journal-replay lines
    errors: tuple[str, ...]  # its filesystem error lines


def scan_fs_log(kernel_log: str) -> FsRecovery:
    recovered, errors = [], []
    for line in kernel_log.splitlines():
        if any(p.search(line) for p in ERROR_PATTERNS):
            errors.append(line.strip())
        elif any(p.search(line) for p in RECOVERY_PATTERNS):
            recovered.append(line.strip())
    return FsRecovery(tuple(recovered), tuple(errors))


def clean_recovery(kernel_log: str) -> list[str]:
    """After a power cut: the journal was replayed ("recovery complete") and no filesystem error was
    logged. No replay at all means the filesystem was not journaled or not mounted read-write, so the
    power cut proved nothing about it: that is a failure, not a pass."""
    scan = scan_fs_log(kernel_log)
    problems = [f"filesystem error in the kernel log: {line[:200]}" for line in scan.errors[:10]]
    if not scan.recovered:
        problems.append("the kernel log of the boot after the power cut shows no journal recovery "
                        "(no 'EXT4-fs (...): recovery complete' or 'XFS (...): Ending recovery')")
    return problems


def marker_intact(expected: str, exit_code: int, shown: str) -> list[str]:
    """The marker written and synced before the power cut reads back whole."""
    if exit_code != 0:
        return [f"the marker file written and synced before the power cut is gone (exit {exit_code}): "
                f"{shown.strip()[:200]}"]
    if shown.strip() != expected:
        return [f"the marker file changed across the power cut: expected {expected!r}, "
                f"read {shown.strip()[:200]!r}"]
    return []


@dataclass(frozen=True)
class Mount:
    source: str
    point: str
    fstype: str
    options: tuple[str, ...]


def _unescape(field: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash as octal escapes.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def parse_mounts(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            source, point, fstype, options = fields[:4]
            mounts.append(Mount(_unescape(source), _unescape(point), fstype, tuple(options.split(","))))
    return mounts


def mount_of(mounts: list[Mount], path: str) -> Mount | None:
    """The mount holding `path` (the longest mount point that is a prefix; the last one mounted wins)."""
    best: Mount | None = None
    for mount in mounts:
        point = mount.point.rstrip("/") or "/"
        inside = path == point or path.startswith(point + "/") or point == "/"
        if inside and (best is None or len(point) >= len(best.point.rstrip("/") or "/")):
            best = mount
    return best


def fsck_result(exit_code: int, output: str) -> list[str]:
    """`e2fsck -fn DEVICE` on the filesystem remounted read-only: only exit 0 is clean (with -n nothing
    is corrected, so 4 means errors were found and left)."""
    if exit_code == E2FSCK_CLEAN:
        return []
    tail = " / ".join([line.strip() for line in output.splitlines() if line.strip()][-3:])
    if exit_code & E2FSCK_UNCORRECTED or exit_code in (E2FSCK_CORRECTED, E2FSCK_REBOOT):
        return [f"e2fsck -n found filesystem errors (exit {exit_code}): {tail[:300]}"]
    return [f"e2fsck could not check the filesystem (exit {exit_code}): {tail[:300]}"]
