"""The emulated arm64 board: a real Debian kernel under qemu-system-aarch64 (TCG) with the harness
initramfs, reached through the project's own transports: SSH with the pinned host key, and the serial
console (login with the board's password). The image is built with apt from Debian's mirror into the
QEMU state folder ($HARNESS_QEMU_DIR or ~/.cache/harness/qemu) on first use and cached afterwards."""

from __future__ import annotations

import random
import re
import shutil
import socket
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import CommandTimeout, HostKeyMismatch
from harness.lab.qemu import QemuBoard, build_image, default_state_dir
from harness.lab.qemu.board import QEMU
from harness.lab.qemu.cpio import CpioArchive
from harness.lab.qemu.image import is_shared_library_package
from harness.lab.qemu.initramfs import ImageBuildError, check_libraries
from harness.transports.serial import SerialTransport
from harness.transports.serial_link import open_link
from harness.transports.serial_protocol import Strategy
from harness.transports.ssh import SshTransport
from harness.waiting import Deadline

pytestmark = [pytest.mark.qemu, pytest.mark.peer("qemu")]

BOOT_ID = re.compile(rb"boot id ([0-9a-f-]{36})")


@pytest.fixture(scope="module")
def board() -> Iterator[QemuBoard]:
    if shutil.which(QEMU) is None:
        pytest.skip(f"{QEMU} is not installed (scripts/system-deps.sh installs it)")
    state = default_state_dir()
    with QemuBoard(state, name="test-board", image=build_image(state), boot_timeout=90) as started:
        yield started


@pytest.fixture
def ssh(board: QemuBoard) -> Iterator[SshTransport]:
    with SshTransport(board.ssh_spec()) as transport:
        yield transport


def read_until(link_read, pattern: re.Pattern[bytes], timeout: float) -> tuple[bytes, re.Match[bytes]]:
    """Collect console bytes until `pattern` matches, against a deadline."""
    deadline, seen = Deadline(timeout), b""
    while not deadline.expired:
        seen += link_read(deadline.remaining())
        if (found := pattern.search(seen)) is not None:
            return seen, found
    raise AssertionError(f"no {pattern.pattern!r} on the console within {timeout}s; got {seen[-400:]!r}")


def test_cpio_archive_unpacks_with_modes_and_links(tmp_path: Path) -> None:
    archive = CpioArchive()
    archive.add_file("etc/shadow", b"root:x:1::::::\n", 0o600)
    archive.add_file("usr/sbin/tool", b"#!/bin/sh\n", 0o755)
    archive.add_symlink("lib", "usr/lib")
    archive.add_dir("root", 0o700)
    (tmp_path / "image.cpio").write_bytes(archive.to_bytes())
    out = tmp_path / "root-fs"
    out.mkdir()
    # busybox's cpio, like the kernel, reads the newc format (the initramfs is unpacked the same way).
    with (tmp_path / "image.cpio").open("rb") as image:
        subprocess.run(["busybox", "cpio", "-i", "-d"], stdin=image, cwd=out, check=True, capture_output=True)
    assert (out / "etc/shadow").read_bytes() == b"root:x:1::::::\n"
    assert stat.S_IMODE((out / "etc/shadow").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "usr/sbin/tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "root").stat().st_mode) == 0o700
    assert (out / "lib").is_symlink() and str((out / "lib").readlink()) == "usr/lib"


def test_missing_shared_library_is_named() -> None:
    archive = CpioArchive()
    archive.add_file("usr/bin/ssh", Path(shutil.which("ssh") or "/usr/bin/ssh").read_bytes(), 0o755)
    with pytest.raises(ImageBuildError, match=r"libc\.so\.6 \(for usr/bin/ssh"):
        check_libraries(archive)


def test_shared_library_packages_are_told_apart() -> None:
    for name in ("libc6", "zlib1g", "libssl3", "libgssapi-krb5-2", "libpcre2-8-0", "liblz4-1", "libssl3t64"):
        assert is_shared_library_package(name), name
    for name in ("libpam-modules", "libtirpc-common", "debconf", "adduser", "libaudit-common"):
        assert not is_shared_library_package(name), name


def test_image_is_todays_debian_kernel(board: QemuBoard) -> None:
    image = board.image
    kernel_packages = [name for name in image.packages if name.startswith("linux-image-")]
    # The metapackage was resolved to the real, ABI-named package whose vmlinuz we boot.
    assert kernel_packages == [f"linux-image-{image.kernel_release}"]
    header = image.kernel.read_bytes()[:64]
    assert header[0x38:0x3C] == b"ARM\x64", "not an arm64 kernel Image"
    assert {"busybox-static", "openssh-server", "libc6", "libssl3", "zlib1g"} <= image.packages.keys()


def test_ssh_reaches_the_arm64_kernel(board: QemuBoard, ssh: SshTransport) -> None:
    assert ssh.run("uname -r").stdout_text.strip() == board.kernel_release
    assert ssh.run("uname -m").stdout_text.strip() == "aarch64"
    os_release = ssh.run("cat /etc/os-release").stdout_text
    assert 'ID="openEuler"' in os_release
    assert ssh.run("hostname").stdout_text.strip() == board.name


def test_ssh_exit_codes_and_streams(ssh: SshTransport) -> None:
    failed = ssh.run("echo out; echo err >&2; exit 3")
    assert (failed.exit_code, failed.stdout, failed.stderr) == (3, b"out\n", b"err\n")
    assert ssh.run("false").exit_code == 1
    assert ssh.run("true").ok


def test_ssh_back_to_back_commands_on_one_connection(ssh: SshTransport) -> None:
    # Old dropbear dropped channels here; OpenSSH's sshd must answer every one.
    results = [ssh.run(f"echo {i}", timeout=20) for i in range(25)]
    assert [r.stdout_text.strip() for r in results] == [str(i) for i in range(25)]


def test_ssh_timeout_stops_every_process_on_busybox(ssh: SshTransport) -> None:
    # The stopper is POSIX sh, grep and /proc: busybox's must do. A trapping shell, an immune child.
    with pytest.raises(CommandTimeout) as caught:
        ssh.run("trap 'echo t' TERM; sh -c 'trap \"\" TERM HUP INT; exec sleep 1000' & "
                "while :; do sleep 1; done", timeout=2)
    assert "could not be verified" not in str(caught.value)
    left = ssh.run("for d in /proc/[0-9]*; do cat $d/cmdline 2>/dev/null | tr '\\0' ' '; echo; done")
    assert b"sleep 1000" not in left.stdout


def test_ssh_password_login_and_pinned_key_enforced(board: QemuBoard) -> None:
    with SshTransport(board.ssh_spec(use_key=False)) as by_password:
        assert by_password.run("id -u").stdout_text.strip() == "0"
    wrong = replace(board.ssh_spec(), host_key="SHA256:" + "A" * 43)
    with SshTransport(wrong) as impostor, pytest.raises(HostKeyMismatch):
        impostor.run("true")


def test_specs_and_inventory_carry_no_password(board: QemuBoard) -> None:
    entry = board.inventory_entry(password_env="QEMU_BOARD_PASSWORD")
    assert entry["ssh"]["port"] == board.ssh_port and entry["serial"]["port"] == board.serial_url
    assert entry["ssh"]["host_key"] == board.host_key_fingerprint
    spec = board.device_spec()
    for text in (repr(entry), repr(spec), repr(board), repr(board.identity)):
        assert board.password not in text


def test_serial_console_login_and_commands(board: QemuBoard) -> None:
    with SerialTransport(board.serial_spec(), connect_timeout=30) as console:
        assert console.run("uname -r", timeout=20).stdout_text.strip() == board.kernel_release
        assert console.run("uname -m", timeout=20).stdout_text.strip() == "aarch64"
        assert console.run("sh -c 'exit 7'", timeout=20).exit_code == 7
        assert console.run("test -e /etc/openEuler-release", timeout=20).ok


def test_reboot_over_ssh_gives_a_fresh_boot_on_serial(board: QemuBoard, ssh: SshTransport) -> None:
    old_boot = ssh.run("cat /proc/sys/kernel/random/boot_id").stdout_text.strip()
    link = open_link(board.serial_url, 115200)  # watch the console through the reboot
    try:
        ssh.reboot()
        seen, banner = read_until(link.read, BOOT_ID, timeout=90)
    finally:
        link.close()
    assert b"Booting Linux" in seen, "no kernel boot log on the console"
    new_boot = banner.group(1).decode()
    assert new_boot != old_boot
    ssh.wait_ready(timeout=90)
    assert ssh.run("cat /proc/sys/kernel/random/boot_id").stdout_text.strip() == new_boot
    assert board.alive, "a reboot resets the machine inside the same QEMU process"
    with SerialTransport(board.serial_spec(), connect_timeout=30) as console:
        assert console.run("cat /proc/sys/kernel/random/boot_id", timeout=20).stdout_text.strip() == new_boot


def test_reboot_over_serial(board: QemuBoard) -> None:
    with SerialTransport(board.serial_spec(), connect_timeout=30) as console:
        old_boot = console.run("cat /proc/sys/kernel/random/boot_id", timeout=20).stdout_text.strip()
        console.reboot()
        console.wait_ready(timeout=90)
        assert console.run("cat /proc/sys/kernel/random/boot_id", timeout=20).stdout_text.strip() != old_boot


def test_poweroff_ends_qemu_and_restart_keeps_the_host_key(board: QemuBoard) -> None:
    pinned = board.host_key_fingerprint
    with SshTransport(board.ssh_spec(), reboot_command="poweroff") as ssh:
        ssh.reboot()
    board.wait_stopped(60)  # QEMU exits when the guest powers off
    assert not board.alive
    board.restart()
    assert board.host_key_fingerprint == pinned
    with SshTransport(board.ssh_spec()) as ssh:  # the pinned key is still the board's
        assert ssh.run("uname -m").stdout_text.strip() == "aarch64"
    with socket.create_connection((board.ssh_host, board.ssh_port), timeout=5) as raw:
        assert raw.recv(64).startswith(b"SSH-2.0-OpenSSH_")


def test_serial_on_busybox_with_syslog_on_the_console(board: QemuBoard, ssh: SshTransport) -> None:
    """Issue 9, items 2-5 on a real kernel and busybox: syslogd writes to the console (-O /dev/console)
    while commands run; each result holds only its command's output, stdout apart from stderr; ash
    gets `sh -c` children and shell state never leaks; a timed-out command that ignores INT, HUP and
    TERM is gone afterwards; close restores the printk level the board had."""
    ssh.run("dmesg -n 7")  # a board found at console loglevel 7
    noise = ssh.run("syslogd -O /dev/console && (i=0; while :; do logger -t noise \"foreign line $i\"; "
                    "i=$((i+1)); sleep 0.2; done) </dev/null >/dev/null 2>&1 & echo $!")
    duration = f"40.{random.randrange(10**8):08d}"
    try:
        with SerialTransport(board.serial_spec(), connect_timeout=60) as console:
            for i in range(12):
                result = console.run(f"seq 1 {40 + i}; echo e{i} >&2; (exit {i % 3})", timeout=30)
                expected = "".join(f"{n}\n" for n in range(1, 41 + i)).encode()
                assert (result.exit_code, result.stdout, result.stderr) == (i % 3, expected, f"e{i}\n".encode())
            assert console._session is not None and console._session.strategy is Strategy.CHILD
            assert console.run("cd /tmp; X=1; exit 4", timeout=20).exit_code == 4
            after = console.run('echo "${X:-clean} $(pwd)"', timeout=20).stdout_text.split()
            assert after[0] == "clean" and after[1] != "/tmp"
            with pytest.raises(CommandTimeout) as caught:
                console.run(f"trap '' INT HUP TERM; echo started; while :; do sleep {duration}; done",
                            timeout=3)
            assert caught.value.usable and caught.value.stdout == b"started\n"
            assert duration not in ssh.run("ps -o args").stdout_text  # really gone from the board
            assert console.run("echo still here", timeout=20).stdout == b"still here\n"
        assert ssh.run("cat /proc/sys/kernel/printk").stdout_text.split()[0] == "7"  # as found
        assert "foreign line" in board.console_tail(1 << 20)  # the noise was on the console
    finally:
        ssh.run(f"kill {noise.stdout_text.strip() or 0}; killall syslogd; true")
