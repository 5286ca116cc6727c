"""One simulated device: a persona's sandbox and the links it serves (SSH, ADB, serial console), with one
power state. Reboot from any link (the reboot shim's request file, adb `reboot:`, `reboot` typed on the
console or run over ssh) power-cycles the whole device: every link drops, the sandbox is cut and
started fresh, and after the boot time the links come back, boot-completed set a moment later."""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass

from harness.lab.device.inotify import FolderWatcher
from harness.lab.device.links import DeviceProperties, LabAdbd, apply_adbd_faults, ssh_server
from harness.lab.faults import Faults
from harness.lab.hdc.daemon import LabHdcd, install_hdcd
from harness.lab.lab_config import LabConfig, LabDevice
from harness.lab.lab_keys import host_key_path
from harness.lab.persona import load_persona
from harness.lab.sandbox.namespaces import Sandbox
from harness.lab.serial.console import DEFAULT_CONSOLE_LEVEL, SerialConsole
from harness.lab.ssh.server import SimulatedSshServer
from harness.specs import DeviceSpec

REBOOT_REQUEST = "reboot-request"
CONSOLE_LEVEL = "console-level"
# /dev/watchdog of a persona that has one links here: what was written to it when it was last closed.
WATCHDOG = "watchdog"
WATCHDOG_TIMEOUT = "sys/class/watchdog/watchdog0/timeout"
# Links answer before boot-completed is set, as adbd and sshd do on a real device.
MAX_BOOT_COMPLETE_DELAY = 0.2


@dataclass
class _Cycle:
    """One power cycle; `abort` ends its waits when the device goes down again."""

    number: int
    abort: threading.Event


class SimulatedDevice:
    def __init__(self, spec: DeviceSpec, lab: LabDevice, config: LabConfig) -> None:
        self.spec, self.lab, self.config = spec, lab, config
        self.persona = load_persona(lab.persona)
        self.boot_time = self.persona.boot_seconds if lab.boot_time is None else lab.boot_time
        self.dir = config.device_dir(spec.name)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sandbox = Sandbox(self.persona, self.dir)
        self.props = DeviceProperties(self.sandbox)
        self.state = "off"
        self.boots = 0
        self._faults = lab.faults
        self._lock = threading.Lock()  # state, faults, links
        self._power = threading.Lock()  # one power cycle at a time
        self._cycle = _Cycle(0, threading.Event())
        self._closed = False
        self._watchdog: threading.Timer | None = None
        self._unclean = False  # the last stop was a reset or a power cut, not a shutdown
        self.ssh: SimulatedSshServer | None = None
        self.adbd: LabAdbd | None = None
        self.hdcd: LabHdcd | None = None
        if lab.hdc_port is not None:
            install_hdcd(self.sandbox, config.hdcd_binary())
        self.console: SerialConsole | None = None
        if spec.serial is not None:
            self.console = SerialConsole(
                tty_link=config.tty_path(spec.name), tcp_port=lab.console_port,
                banner=self.persona.console.banner, kernel_messages=self.persona.console.kernel_messages,
                login_prompt=self.persona.console.login_prompt, user=spec.serial.user,
                password=spec.serial.password.reveal(), spawn_shell=self._spawn_console_shell,
                faults=lambda: self.faults, console_level=self._console_level,
            )
        self._watcher = FolderWatcher(self.sandbox.control_dir, self._control_file)

    # -- faults -----------------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def set_faults(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults
            ssh, adbd = self.ssh, self.adbd
        if ssh is not None:
            ssh.faults = faults
        if adbd is not None:
            apply_adbd_faults(adbd, faults)

    # -- power ------------------------------------------------------------------------------------

    def power_on(self) -> None:
        """The first boot, waited for (the lab's readiness follows it). Raises SandboxUnavailable."""
        if self.console is not None:
            self.console.start()
        self.sandbox.control_dir.mkdir(parents=True, exist_ok=True)
        self._watcher.start()
        self._cycle = _Cycle(1, threading.Event())
        with self._power:
            self._boot(self._cycle)

    def reboot(self) -> None:
        """Power-cycle the whole device. Returns once it is down (every link dropped, the sandbox cut):
        a client that asked never sees the old boot answer again. The boot runs on its own thread."""
        cycle = self._power_off()
        if cycle is not None:
            threading.Thread(target=self._power_cycle, args=(cycle,), name="device-boot", daemon=True).start()

    def cut_power(self) -> None:
        """The lab cuts the power: every link drops and the sandbox dies at once, and nothing boots
        until restore_power(). The next boot is an unclean one (its kernel log says so)."""
        with self._lock:
            self._unclean = True
        self._power_off()

    def restore_power(self) -> None:
        """The lab restores the power: the device boots (on its own thread, as after a reboot)."""
        with self._lock:
            if self._closed or self.state != "off":
                return
            cycle = self._cycle
        threading.Thread(target=self._power_cycle, args=(cycle,), name="device-boot", daemon=True).start()

    def _power_off(self) -> _Cycle | None:
        with self._lock:
            if self._closed:
                return None
            self._cycle.abort.set()  # a boot in progress stops waiting and lets go of the power lock
            cycle = self._cycle = _Cycle(self._cycle.number + 1, threading.Event())
            watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            watchdog.cancel()  # the reset stops the watchdog with everything else
        with self._power:
            if cycle.abort.is_set():
                return None  # a newer reboot (or the shutdown) took over
            self._links_down()
        return cycle

    def _power_cycle(self, cycle: _Cycle) -> None:
        with self._power:
            if cycle.abort.is_set():
                return
            self._boot(cycle)

    def _boot(self, cycle: _Cycle) -> None:
        faults = self.faults
        with self._lock:
            self.state = "booting"
        self.sandbox.reboot()  # a power cycle: fresh namespaces, /tmp and /.sim forgotten
        with self._lock:
            unclean, self._unclean = self._unclean, False
        if (self.sandbox.root / "dev" / WATCHDOG).is_symlink():
            (self.sandbox.control_dir / WATCHDOG).touch()  # the node exists from boot, as a driver's does
        if unclean and self.persona.recovery.unclean_boot_messages:
            with (self.sandbox.control_dir / "log.kmsg").open("a") as kmsg:
                kmsg.writelines(f"{line}\n" for line in self.persona.recovery.unclean_boot_messages)
        self.props.booting()
        boot = self.boot_time + faults.slow_boot_s
        if self.console is not None:
            self.console.power_on(boot)
        if cycle.abort.wait(boot):
            return
        if faults.fail_boot:
            with self._lock:
                self.state = "failed"
            if self.console is not None:
                self.console.boot_failed()
            return  # links stay down: the device never comes back until the next power cycle
        self._links_up()
        if self.console is not None:
            self.console.boot_done()
        if cycle.abort.wait(min(MAX_BOOT_COMPLETE_DELAY, self.boot_time / 2)):
            return
        self.props.booted()
        with self._lock:
            self.state = "up"
            self.boots += 1

    def _links_up(self) -> None:
        spec, lab = self.spec, self.lab
        ssh = adbd = None
        if spec.ssh is not None and lab.ssh_port is not None:
            ssh = ssh_server(sandbox=self.sandbox, spec=spec.ssh, port=lab.ssh_port,
                             host_key=host_key_path(self.config, spec.name), faults=self.faults,
                             scratch=self.dir / "ssh", on_reboot=self.reboot).start()
        if lab.adb_port is not None:
            adbd = LabAdbd(sandbox=self.sandbox, table=self.props, on_reboot=self.reboot,
                           faults=lambda: self.faults, wait=lambda s: self._cycle.abort.wait(s),
                           scratch=self.dir / "adbd", port=lab.adb_port)
            (self.dir / "adbd").mkdir(exist_ok=True)
            apply_adbd_faults(adbd, self.faults)
            adbd.start()
        hdcd = None
        if lab.hdc_port is not None:
            hdcd = LabHdcd(sandbox=self.sandbox, port=lab.hdc_port, log=self.dir / "hdcd.log").start()
        with self._lock:
            self.ssh, self.adbd, self.hdcd = ssh, adbd, hdcd

    def _links_down(self) -> None:
        with self._lock:
            self.state = "off"
            ssh, adbd, self.ssh, self.adbd = self.ssh, self.adbd, None, None
            hdcd, self.hdcd = self.hdcd, None
        if self.console is not None:
            self.console.power_off()
        self.sandbox.stop()  # the power cut: every process of the device dies at once
        if hdcd is not None:
            hdcd.stop()
        if adbd is not None:
            adbd.stop()
        if ssh is not None:
            ssh.stop()

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            self._cycle.abort.set()
            watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            watchdog.cancel()
        self._watcher.stop()
        with self._power:
            self._links_down()
        if self.console is not None:
            self.console.close()

    # -- the device's control folder --------------------------------------------------------------

    def _control_file(self, name: str) -> None:
        if name == REBOOT_REQUEST and self.sandbox.reboot_requested() is not None:
            self.reboot()
        elif name == WATCHDOG:
            self._watchdog_closed()

    def _watchdog_closed(self) -> None:
        """/dev/watchdog was written and closed: the magic 'V' last stops it, anything else leaves it
        counting (Documentation/watchdog/watchdog-api.rst). A persona whose watchdog resets it is
        reset once the timeout passes unfed; one whose BSP never wired the reset keeps running."""
        try:
            written = (self.sandbox.control_dir / WATCHDOG).read_bytes()
        except OSError:
            return
        if not written:
            return  # made at boot, or opened and closed with nothing written
        with self._lock:
            running = self._watchdog
            if written.endswith(b"V"):
                self._watchdog = None
            elif running is None and self.persona.recovery.watchdog_resets and self.state == "up":
                self._watchdog = threading.Timer(self._watchdog_timeout(), self._watchdog_expired)
                self._watchdog.daemon = True
                self._watchdog.start()
                return
        if written.endswith(b"V") and running is not None:
            running.cancel()

    def _watchdog_timeout(self) -> float:
        try:
            return float((self.sandbox.root / WATCHDOG_TIMEOUT).read_text().strip())
        except (OSError, ValueError):
            return 60.0  # the kernel's common default

    def _watchdog_expired(self) -> None:
        with self._lock:
            self._watchdog = None
            self._unclean = True
        self.reboot()

    def _console_level(self) -> int:
        try:
            return int((self.sandbox.control_dir / CONSOLE_LEVEL).read_text().strip())
        except (OSError, ValueError):
            return DEFAULT_CONSOLE_LEVEL

    def _spawn_console_shell(self) -> tuple[subprocess.Popen[bytes], int]:
        return self.sandbox.spawn_pty_shell(term="vt100")

    # -- status -----------------------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        with self._lock:
            state, boots = self.state, self.boots
        ports = {k: v for k, v in (("ssh", self.lab.ssh_port), ("adb", self.lab.adb_port),
                                   ("hdc", self.lab.hdc_port),
                                   ("console", self.lab.console_port)) if v is not None}
        if self.console is not None:
            ports["tty"] = str(self.config.tty_path(self.spec.name))  # type: ignore[assignment]
        return {
            "name": self.spec.name, "persona": self.persona.id, "state": state, "boots": boots,
            "pid": os.getpid(), "anchor_pid": self.sandbox.anchor_pid, "ports": ports,
            "boot_completed": self.props.boot_completed, "faults": self.faults.to_dict(),
        }

