"""harness.checks.recovery on real output: captured from the QEMU tier's Debian arm64 kernel (the
i6300esb watchdog's sysfs, the kernel log after QEMU was SIGKILLed with an ext4 disk mounted, the
errors of an ext4 whose inode was cleared behind the kernel's back, e2fsck -n both ways), and the
boot marks the board printed before and after its watchdog reset it."""

from __future__ import annotations

from pathlib import Path

from harness.checks import recovery, sysfs
from harness.checks.recovery import BootMark

CAPTURED = Path(__file__).parent / "data" / "captured"
BEFORE = BootMark("2d364494-51c6-4f17-aacb-34b5853df8ba", 25.16)


def captured(name: str) -> str:
    return (CAPTURED / name).read_text()


def test_the_i6300esb_watchdog_as_sysfs_shows_it() -> None:
    tree = sysfs.parse_dump(captured("qemu-arm64-watchdog-sysfs.txt"))
    dog, problems = recovery.watchdog_usable(tree, "/dev/watchdog\n")
    assert problems == []
    assert dog == recovery.Watchdog("watchdog0", "i6300ESB timer", 10, False, "inactive")


def test_a_watchdog_that_cannot_be_armed_is_said_why() -> None:
    tree = sysfs.parse_dump(captured("qemu-arm64-watchdog-sysfs.txt"))
    assert recovery.watchdog_usable(tree, "") == (None, ["no /dev/watchdog to open (sysfs lists watchdog0)"])
    assert recovery.watchdog_usable(sysfs.Tree(), "") == (None, ["no /dev/watchdog to open"])
    assert recovery.watchdog_usable(sysfs.Tree(), "/dev/watchdog") == (
        None, ["/dev/watchdog exists but /sys/class/watchdog lists no watchdog"])
    active = sysfs.Tree({**tree.entries, "/sys/class/watchdog/watchdog0/state": "=active",
                         "/sys/class/watchdog/watchdog0/timeout": "=0"})
    _dog, problems = recovery.watchdog_usable(active, "/dev/watchdog")
    assert problems == ["watchdog0 reports no timeout (/sys/class/watchdog/watchdog0/timeout)",
                        "watchdog0 is already active: something else feeds it, so stopping to feed it proves "
                        "nothing (stop the watchdog daemon for the test)"]


def test_boot_marks_as_the_board_printed_them() -> None:
    assert recovery.parse_boot_mark("2d364494-51c6-4f17-aacb-34b5853df8ba\n25.16 22.50\n") == BEFORE
    assert recovery.parse_boot_mark("2D364494-51C6-4F17-AACB-34B5853DF8BA\n1 2\n") == BootMark(BEFORE.boot_id, 1.0)
    for bad in ("", "not-a-uuid\n1.0 2.0\n", "2d364494-51c6-4f17-aacb-34b5853df8ba\n",
                "2d364494-51c6-4f17-aacb-34b5853df8ba\nup\n"):
        assert recovery.parse_boot_mark(bad) is None, bad


def test_the_real_watchdog_reset_passes() -> None:
    # Answered 18.6 s after the watchdog was armed, in a new boot up 7.22 s: it reset 11.4 s in.
    after = BootMark("4e1a239a-9669-4d1b-84b3-2db2994aa10a", 7.22)
    assert recovery.rebooted_by_itself(BEFORE, after, 18.6, 10, 15) == []
    assert recovery.rebooted_by_itself(BEFORE, after, 18.6, 10, 1) == [
        "the device reset 11s after the watchdog was armed, past its 10s timeout (+1s allowed)"]


def test_no_reset_is_a_failure_with_the_reason() -> None:
    assert recovery.rebooted_by_itself(BEFORE, None, 60, 10, 15) == [
        "the device never answered again after the watchdog was armed"]
    assert recovery.rebooted_by_itself(BEFORE, BootMark(BEFORE.boot_id, 85.0), 60, 10, 15) == [
        f"still {BEFORE.boot_id} after 60s: the unfed watchdog did not reset the device (timeout 10s)"]
    # A new boot id with an uptime older than the wait: not this watchdog's reset.
    assert recovery.rebooted_by_itself(BEFORE, BootMark("4e1a239a-9669-4d1b-84b3-2db2994aa10a", 90.0), 60, 10,
                                       15) == ["up 90s, no shorter than the 60s since the watchdog was armed: the "
                                               "uptime did not restart"]


def test_the_kernel_replayed_ext4_cleanly_after_qemu_was_killed() -> None:
    log = captured("qemu-arm64-dmesg-after-power-cut.txt")
    assert recovery.scan_fs_log(log) == recovery.FsRecovery(("[    6.086148] EXT4-fs (vda): recovery complete",), ())
    assert recovery.clean_recovery(log) == []


def test_ext4_errors_in_the_real_kernel_log_fail() -> None:
    log = captured("qemu-arm64-dmesg-ext4-error.txt")
    scan = recovery.scan_fs_log(log)
    assert scan.recovered == ("[    6.693104] EXT4-fs (vda): recovery complete",)
    assert scan.errors == ("[   10.292168] EXT4-fs error (device vda): ext4_lookup:1862: inode #2: comm ls: "
                           "deleted inode referenced: 11",) * 1 + (
        "[   10.318693] EXT4-fs error (device vda): ext4_lookup:1862: inode #2: comm ls: deleted inode referenced: 11",)
    problems = recovery.clean_recovery(log)
    assert len(problems) == 2 and problems[0].startswith("filesystem error in the kernel log: [   10.292168] EXT4-fs error")


def test_no_journal_replay_is_no_pass() -> None:
    mounted_only = "[    9.517701] EXT4-fs (vda): mounted filesystem with ordered data mode. Quota mode: none.\n"
    assert recovery.clean_recovery(mounted_only) == [
        "the kernel log of the boot after the power cut shows no journal recovery (no 'EXT4-fs (...): recovery "
        "complete' or 'XFS (...): Ending recovery')"]
    assert recovery.clean_recovery("XFS (sda2): Starting recovery (logdev: internal)\n"
                                   "XFS (sda2): Ending recovery (logdev: internal)\n") == []
    assert recovery.scan_fs_log("EXT4-fs (mmcblk1p2): warning: mounting fs with errors, running e2fsck is "
                                "recommended\nJBD2: Invalid checksum recovering block 1090 in log\n").errors != ()


def test_e2fsck_n_as_it_ran_on_the_board() -> None:
    assert recovery.fsck_result(0, captured("qemu-arm64-e2fsck-n-clean.txt")) == []
    problems = recovery.fsck_result(4, captured("qemu-arm64-e2fsck-n-errors.txt"))
    assert problems == ["e2fsck -n found filesystem errors (exit 4): data: ********** WARNING: Filesystem still "
                        "has errors ********** / data: 12/16384 files (0.0% non-contiguous), 9514/65536 blocks / "
                        "e2fsck 1.47.0 (5-Feb-2023)"]
    assert recovery.fsck_result(8, "e2fsck: No such file or directory while trying to open /dev/vdz")[0].startswith(
        "e2fsck could not check the filesystem (exit 8)")


def test_the_marker_folder_is_found_on_the_boards_ext4_disk() -> None:
    mounts = recovery.parse_mounts(captured("qemu-arm64-mounts.txt"))
    assert recovery.mount_of(mounts, "/data") == recovery.Mount("/dev/vda", "/data", "ext4", ("rw", "relatime"))
    assert recovery.mount_of(mounts, "/data/sub").point == "/data"
    assert recovery.mount_of(mounts, "/root").fstype == "rootfs"
    assert recovery.mount_of(mounts, "/database").point == "/"  # a prefix of the name is not the mount
    spaced = recovery.parse_mounts("/dev/sda1 /mnt/my\\040disk ext4 rw 0 0\n")
    assert recovery.mount_of(spaced, "/mnt/my disk/x").source == "/dev/sda1"
    assert recovery.mount_of([], "/data") is None


def test_the_marker_reads_back_whole_or_says_what_happened() -> None:
    assert recovery.marker_intact("abc", 0, "abc\n") == []
    assert recovery.marker_intact("abc", 1, "cat: can't open '/data/.m': No such file or directory\n") == [
        "the marker file written and synced before the power cut is gone (exit 1): cat: can't open '/data/.m': "
        "No such file or directory"]
    assert recovery.marker_intact("abc", 0, "\0\0\0\n") == [
        "the marker file changed across the power cut: expected 'abc', read '\\x00\\x00\\x00'"]


def watchdog_tree(**dogs: dict[str, str]) -> sysfs.Tree:
    return sysfs.Tree({f"/sys/class/watchdog/{name}/{key}": f"={value}"
                       for name, files in dogs.items() for key, value in files.items()})


def test_nowayout_is_read_as_the_kernel_says_it_or_not_at_all() -> None:
    tree = watchdog_tree(watchdog0={"timeout": "30", "nowayout": "1"}, watchdog1={"timeout": "60"})
    assert recovery.watchdogs(tree) == [recovery.Watchdog("watchdog0", None, 30, True, None),
                                        recovery.Watchdog("watchdog1", None, 60, None, None)]


def test_the_watchdog_behind_dev_watchdog_is_armed_else_the_first_listed() -> None:
    both = watchdog_tree(watchdog1={"timeout": "0", "state": "active"}, watchdog0={"timeout": "1"})
    # A one-second timeout is a timeout; watchdog1's troubles are not the armed one's.
    assert recovery.watchdog_usable(both, "/dev/watchdog /dev/watchdog0 /dev/watchdog1") == (
        recovery.Watchdog("watchdog0", None, 1, None, None), [])
    assert recovery.watchdog_usable(both, "/dev/watchdog0") == (
        None, ["no /dev/watchdog to open (sysfs lists watchdog0, watchdog1)"])
    only = watchdog_tree(watchdog1={"timeout": "20"})
    assert recovery.watchdog_usable(only, "/dev/watchdog") == (
        recovery.Watchdog("watchdog1", None, 20, None, None), [])


def test_the_reset_deadline_and_the_uptime_restart_at_their_edges() -> None:
    after = BootMark("4e1a239a-9669-4d1b-84b3-2db2994aa10a", 5.0)
    # Reset exactly timeout + slack after arming: still within.
    assert recovery.rebooted_by_itself(BEFORE, after, 30.0, 10, 15) == []
    assert recovery.rebooted_by_itself(BEFORE, after, 30.5, 10, 15) == [
        "the device reset 26s after the watchdog was armed, past its 10s timeout (+15s allowed)"]
    # Up exactly as long as since the arming: that boot began before the wait, not by the reset.
    assert recovery.rebooted_by_itself(BEFORE, BootMark(after.boot_id, 30.0), 30.0, 10, 15) == [
        "up 30s, no shorter than the 30s since the watchdog was armed: the uptime did not restart"]


def test_device_text_in_problems_is_bounded() -> None:
    long_error = "EXT4-fs error (device vda): " + "x" * 300
    log = "\n".join([long_error] * 12 + ["EXT4-fs (vda): recovery complete"])
    problems = recovery.clean_recovery(log)
    # At most ten error lines, each cut to 200 characters of the device's text.
    assert problems == [f"filesystem error in the kernel log: {long_error[:200]}"] * 10
    shown = "y" * 300
    assert recovery.marker_intact("abc", 1, shown) == [
        f"the marker file written and synced before the power cut is gone (exit 1): {shown[:200]}"]
    assert recovery.marker_intact("abc", 0, shown) == [
        f"the marker file changed across the power cut: expected 'abc', read {shown[:200]!r}"]
    output = "z" * 400
    assert recovery.fsck_result(4, output) == [f"e2fsck -n found filesystem errors (exit 4): {output[:300]}"]
    assert recovery.fsck_result(8, output) == [f"e2fsck could not check the filesystem (exit 8): {output[:300]}"]


def test_mount_points_at_their_edges() -> None:
    # Four fields are enough (source, point, type, options); fewer is no mount line.
    assert recovery.parse_mounts("/dev/vda /data ext4 rw,relatime\n/dev/vdb /x ext4\n") == [
        recovery.Mount("/dev/vda", "/data", "ext4", ("rw", "relatime"))]
    root = recovery.Mount("/dev/root", "/", "ext4", ("rw",))
    # A point written with a trailing slash, and one whose name ends in X, still hold their files.
    slashed = recovery.Mount("/dev/vda", "/data/", "ext4", ("rw",))
    assert recovery.mount_of([root, slashed], "/data/m") == slashed
    boxed = recovery.Mount("/dev/sdb1", "/media/BOX", "vfat", ("rw",))
    assert recovery.mount_of([root, boxed], "/media/BOX/m") == boxed
    # Mounted over: the last mount at a point is the one the path is on.
    under = recovery.Mount("/dev/vda", "/data", "ext4", ("rw",))
    over = recovery.Mount("tmpfs", "/data", "tmpfs", ("rw",))
    assert recovery.mount_of([root, under, over], "/data/m") == over
