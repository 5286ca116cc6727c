"""One emulated arm64 board: the Debian kernel and the harness initramfs under qemu-system-aarch64
(TCG), its PL011 console on a loopback TCP port, its sshd forwarded from another loopback port.

Reboot: the board runs without -no-reboot, so a `reboot` on the board resets the machine inside the
same QEMU process: both ports stay, the serial client stays connected and sees the new boot log, and
SSH answers again after the boot. Only a power-off ends the process; `restart()` starts it again."""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ...errors import ConfigError, NotReady
from ...secrets import mask_transcript
from ...specs import Declared, DeviceSpec, SerialSpec, SshSpec
from ...waiting import Deadline, free_port, poll_until
from .cpio import CpioArchive
from .image import BoardImage, build_image, default_state_dir
from .provision import BoardIdentity, provision

log = logging.getLogger(__name__)

QEMU = "qemu-system-aarch64"
LOOPBACK = "127.0.0.1"
BOOT_TIMEOUT = 120.0
STOP_GRACE = 10.0
CONSOLE_TAIL = 64 * 1024
LOGIN_PROMPT = b" login: "
SHELL_PROMPT = r"[#$] $"
# The SoC a bench declares for QEMU's virt machine: its device tree's root compatible is
# "linux,dummy-virt" (the CPU model, e.g. cortex-a57, is no SoC).
VIRT_SOC = "dummy-virt"
# A crash kernel with its initrd (the base image plus the kdump tools) boots in 256 MiB; the board keeps
# the rest. The disk kdump writes /var/crash to: a sparse file, two or three filtered dumps.
KDUMP_CRASH_MEMORY = "256M"
KDUMP_MIN_MEMORY_MB = 768
KDUMP_DISK_BYTES = 256 << 20
# Another process may take a port between free_port() and QEMU binding it: QEMU then exits at once.
PORT_ATTEMPTS = 3
_PORT_TAKEN = re.compile(r"in use|host forwarding rule", re.IGNORECASE)


class QemuBoard:
    """start()/stop() or a `with` block. Everything a harness needs to reach it is a property once
    started: serial_url, ssh_host/ssh_port, user, password, host_key_fingerprint, and specs."""

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        name: str = "qemu-arm64",
        password: str | None = None,
        memory_mb: int = 512,
        cpus: int = 2,
        cpu: str = "cortex-a57",
        image: BoardImage | None = None,
        boot_timeout: float = BOOT_TIMEOUT,
        disk_mb: int | None = None,
        watchdog: bool = False,
        files: dict[str, bytes] | None = None,
        board_dir: Path | None = None,
        kdump: bool = False,
    ) -> None:
        """`files`: more files of the board's own root (path -> bytes), there at every boot as its image
        holds them (what a test writes over SSH is gone after a reset, the initramfs being RAM);
        `disk_mb`: a virtio disk of that size holding ext4 (made once with the host's mkfs.ext4,
        kept in the board's folder like its keys), mounted as /data; `watchdog`: an i6300esb on the
        PCI bus whose expiry resets the machine (QEMU's -action watchdog=reset); `kdump`: reserve crash
        memory (crashkernel=), give the board a virtio disk for /var/crash (a fresh one at every start)
        and the kdump parts, so a forced crash is captured by a crash kernel."""
        if kdump and memory_mb < KDUMP_MIN_MEMORY_MB:
            raise ConfigError(f"a kdump board needs memory_mb >= {KDUMP_MIN_MEMORY_MB} "
                              f"({KDUMP_CRASH_MEMORY} of it for the crash kernel), got {memory_mb}")
        if kdump and disk_mb:
            # Each is /dev/vda to the board (kdump's /var/crash archive, or the ext4 data disk).
            raise ConfigError("a board takes either kdump or disk_mb, not both")
        self.kdump = kdump
        self.state_dir = state_dir or default_state_dir()
        self.name = name
        self.memory_mb = memory_mb
        self.cpus = cpus
        self.cpu = cpu
        self.boot_timeout = boot_timeout
        self.disk_mb = disk_mb
        self.files = dict(files or {})
        self.watchdog = watchdog
        # Keys, disk, initrd and logs; a test gives its own folder, so that two runs of it at once (two
        # checkouts on one machine) never boot from each other's initrd or share a disk.
        self.board_dir = board_dir or self.state_dir / "boards" / name
        self._password = password
        self._image = image
        self._identity: BoardIdentity | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.serial_port = 0
        self.ssh_port = 0
        self.ssh_host = LOOPBACK
        self.boot_seconds: float | None = None  # QEMU start to SSH answering, last start

    # -- what a harness needs ----------------------------------------------------------------------
    @property
    def image(self) -> BoardImage:
        if self._image is None:
            self._image = build_image(self.state_dir)
        return self._image

    @property
    def identity(self) -> BoardIdentity:
        if self._identity is None:
            raise ConfigError(f"board {self.name} is not started")
        return self._identity

    @property
    def user(self) -> str:
        return self.identity.user

    @property
    def password(self) -> str:
        value = self.identity.password.reveal()
        assert value is not None
        return value

    @property
    def host_key_fingerprint(self) -> str:
        return self.identity.host_key_fingerprint

    @property
    def serial_url(self) -> str:
        return f"socket://{LOOPBACK}:{self.serial_port}"

    @property
    def console_log(self) -> Path:
        """Everything the board wrote on its console since the last start (QEMU writes it)."""
        return self.board_dir / "console.log"

    @property
    def disk(self) -> Path:
        return self.board_dir / "disk.img"

    @property
    def kernel_release(self) -> str:
        return self.image.kernel_release

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def ssh_spec(self, *, use_key: bool = True) -> SshSpec:
        return SshSpec(
            host=self.ssh_host, port=self.ssh_port, user=self.user,
            key_file=self.identity.client_key if use_key else None,
            password=self.identity.password, host_key=self.host_key_fingerprint,
            connect_timeout=30.0,  # an emulated CPU under a loaded host: the key exchange alone took >10 s
        )

    def serial_spec(self) -> SerialSpec:
        # The prompt must end in "# " with its space: the boot banner's "... 2.40) #1 SMP" can arrive
        # cut after the "#", and a reboot watched on the console must not take that for a shell.
        return SerialSpec(port=self.serial_url, baud=115200, user=self.user, password=self.identity.password,
                          prompt=SHELL_PROMPT)

    def device_spec(self, name: str | None = None) -> DeviceSpec:
        return DeviceSpec(
            name=name or self.name, kind="board", profile="openeuler", vendor="QEMU", model="virt",
            soc=VIRT_SOC, tags=("arm64", "qemu"),
            declared=Declared(os_name="openEuler", os_version="22.03", arch="aarch64",
                              cpu_count=self.cpus, memory_mb=self.memory_mb),
            links={"ssh": self.ssh_spec(), "serial": self.serial_spec()}, primary="ssh",
        )

    def inventory_entry(self, password_env: str) -> dict[str, Any]:
        """A devices.toml table for this board. The password is named by environment variable (set
        it to `board.password`), so the written inventory holds no secret."""
        return {
            "kind": "board", "profile": "openeuler", "vendor": "QEMU", "model": "virt", "soc": VIRT_SOC,
            "tags": ["arm64", "qemu"], "primary": "ssh",
            "declared": {"os_name": "openEuler", "os_version": "22.03", "arch": "aarch64",
                         "cpu_count": self.cpus, "memory_mb": self.memory_mb},
            "ssh": {"host": self.ssh_host, "port": self.ssh_port, "user": self.user,
                    "key_file": str(self.identity.client_key), "host_key": self.host_key_fingerprint},
            "serial": {"port": self.serial_url, "baud": 115200, "user": self.user,
                       "password_env": password_env, "prompt": SHELL_PROMPT},
        }

    # -- life cycle --------------------------------------------------------------------------------
    def command(self, initrd: Path) -> list[str]:
        console = (f"socket,id=console,host={LOOPBACK},port={self.serial_port},server=on,wait=off,"
                   f"nodelay=on,logfile={self.console_log},logappend=off")
        return [
            QEMU, "-machine", "virt", "-accel", "tcg", "-cpu", self.cpu,
            "-m", str(self.memory_mb), "-smp", str(self.cpus),
            "-nographic", "-monitor", "none", "-nodefaults",
            "-kernel", str(self.board_dir / "vmlinuz"), "-initrd", str(initrd),
            "-append", "console=ttyAMA0 rdinit=/init",
            "-chardev", console, "-serial", "chardev:console",
            "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:{LOOPBACK}:{self.ssh_port}-:22",
            "-device", "virtio-net-device,netdev=n0",
            "-device", "virtio-rng-device",
        ] + ([
            "-drive", f"if=none,id=disk0,format=raw,file={self.disk}",
            "-device", "virtio-blk-device,drive=disk0",
        ] if self.disk_mb else []) + (
            ["-device", "i6300esb", "-action", "watchdog=reset"] if self.watchdog else [])

    def _make_disk(self) -> None:
        if not self.disk_mb or self.disk.exists():
            return
        mkfs = shutil.which("mkfs.ext4") or "/usr/sbin/mkfs.ext4"
        partial = self.disk.with_suffix(".partial")
        with partial.open("wb") as f:
            f.truncate(self.disk_mb << 20)
        try:
            subprocess.run([mkfs, "-q", "-F", "-L", "data", str(partial)], check=True, capture_output=True,
                           timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            partial.unlink(missing_ok=True)
            raise ConfigError(f"cannot make the board's ext4 disk with {mkfs}: {exc}") from None
        partial.rename(self.disk)

    def _kdump_args(self, command: list[str]) -> list[str]:
        if not self.kdump:
            return command
        at = command.index("-append") + 1
        command[at] += f" crashkernel={KDUMP_CRASH_MEMORY}"
        return [*command, "-drive", f"if=none,id=crash,format=raw,file={self.kdump_disk}",
                "-device", "virtio-blk-device,drive=crash"]

    @property
    def kdump_disk(self) -> Path:
        return self.board_dir / "kdump-disk.img"

    def start(self) -> None:
        if self.alive:
            return
        if shutil.which(QEMU) is None:
            raise ConfigError(f"{QEMU} is not installed (scripts/system-deps.sh installs it)")
        image = self.image
        self._identity, overlay = provision(self.board_dir, self.name, self._password)
        initrd = self.board_dir / "initrd.cpio.gz"
        # Gzip'd cpio archives back to back: the kernel unpacks the board's files over the base.
        kdump_parts = image.kdump_overlay.read_bytes() if self.kdump else b""
        own = CpioArchive()
        for path, data in self.files.items():
            own.add_file(path, data)
        initrd.write_bytes(image.initramfs.read_bytes() + kdump_parts + overlay
                           + (own.to_gzip() if self.files else b""))
        if self.kdump:
            with self.kdump_disk.open("wb") as disk:  # empty: tar finds no archive, /var/crash starts empty
                disk.truncate(KDUMP_DISK_BYTES)
        # The board's own kernel beside its initrd: a power-on boots again from these two, whatever has
        # become of the shared image cache since (another checkout's newer image replaces it).
        kernel = self.board_dir / "vmlinuz"
        kernel.unlink(missing_ok=True)
        try:
            os.link(image.kernel, kernel)
        except OSError:
            shutil.copyfile(image.kernel, kernel)
        self._make_disk()
        for attempt in range(1, PORT_ATTEMPTS + 1):
            started = time.monotonic()
            self._launch(initrd)
            try:
                self.wait_booted(self.boot_timeout)
                break
            except NotReady:
                lost_port = not self.alive and _PORT_TAKEN.search(self._qemu_log_tail())
                self.stop()
                if not lost_port or attempt == PORT_ATTEMPTS:
                    raise
                log.info("board %s: a port was taken before QEMU bound it; new ports", self.name)
            except BaseException:
                self.stop()
                raise
        self.boot_seconds = time.monotonic() - started
        log.info("board %s booted in %.1fs (ssh %s:%d, console %s)", self.name, self.boot_seconds,
                 self.ssh_host, self.ssh_port, self.serial_url)

    def _launch(self, initrd: Path, *, same_ports: bool = False) -> None:
        # free_port() only finds ports free now; QEMU binds them a moment later (see PORT_ATTEMPTS).
        if not same_ports:
            self.serial_port, self.ssh_port = free_port(), free_port()
            while self.ssh_port == self.serial_port:
                self.ssh_port = free_port()
        with (self.board_dir / "qemu.log").open("wb") as qemu_log:
            self._proc = subprocess.Popen(self._kdump_args(self.command(initrd)), stdin=subprocess.DEVNULL,
                                          stdout=qemu_log, stderr=subprocess.STDOUT)

    def wait_stopped(self, timeout: float) -> int:
        """Until QEMU ends by itself (the board powered off); its exit status."""
        if self._proc is None:
            return 0
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise NotReady(f"board {self.name} was still running after {timeout:g}s") from None

    def wait_booted(self, timeout: float = BOOT_TIMEOUT) -> None:
        """Until sshd sends its banner through the forwarded port and the console shows a login
        prompt; NotReady past the deadline or when QEMU ends."""
        deadline = Deadline(timeout)

        def booted() -> bool:
            if not self.alive:
                raise NotReady(f"QEMU of board {self.name} ended: {self._qemu_log_tail()}")
            return self._ssh_banner(min(2.0, max(deadline.remaining(), 0.1))) and self._login_prompt_shown()

        try:
            poll_until(booted, timeout, interval=0.2, what=f"board {self.name} to boot")
        except TimeoutError:
            raise NotReady(f"board {self.name} did not boot within {timeout:g}s; console: "
                           f"{self.console_tail(300)!r}") from None

    def _ssh_banner(self, timeout: float) -> bool:
        # QEMU's user network accepts on the host port even before the guest listens, then closes:
        # only the banner itself says sshd is there.
        try:
            with socket.create_connection((self.ssh_host, self.ssh_port), timeout=timeout) as sock:
                return sock.recv(64).startswith(b"SSH-2.0-")
        except OSError:
            return False

    def _login_prompt_shown(self) -> bool:
        tail = self.console_tail(CONSOLE_TAIL).encode()
        boot = tail.rfind(b"Booting Linux")
        return tail.find(LOGIN_PROMPT, max(boot, 0)) >= 0

    def console_tail(self, limit: int = 4096) -> str:
        try:
            with self.console_log.open("rb") as f:
                f.seek(max(0, f.seek(0, 2) - limit))
                return mask_transcript(f.read().decode("utf-8", errors="replace"))
        except OSError:
            return ""

    def _qemu_log_tail(self) -> str:
        try:
            return (self.board_dir / "qemu.log").read_text(errors="replace")[-500:].strip()
        except OSError:
            return ""

    # -- the power, as a lab's relay has it ---------------------------------------------------------
    def power_off(self) -> None:
        """Cut the power: SIGKILL QEMU, so the guest gets no shutdown and its disk keeps only what had
        reached it (what QEMU had written to the image file), as a board that loses its supply."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def power_on(self) -> None:
        """Restore the power: QEMU again on the same ports (the inventory names them), booting; returns
        at once (the harness waits for the board as after any boot)."""
        if self.alive:
            return
        self._launch(self.board_dir / "initrd.cpio.gz", same_ports=True)

    def restart(self) -> None:
        """Start again after QEMU ended (a power-off on the board) or to get a cold boot."""
        self.stop()
        self.start()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()  # QEMU exits on SIGTERM
            try:
                proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> QemuBoard:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"ssh {self.ssh_host}:{self.ssh_port}, console {self.serial_url}" if self.alive else "stopped"
        return f"QemuBoard({self.name!r}, {state})"
