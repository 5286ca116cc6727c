"""Capture what the peripheral and network checks read, from this machine and from the QEMU board, into
tests/data/devices/<source>/<area>.txt: the unit tests of harness.checks.buses/network judge these real
outputs. Run again when the checks read more:
`.venv/bin/python scripts/capture_device_reads.py [debian|qemu]`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.checks import buses, media, memleak, network, osservices, power, sysfs

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "devices"
AREAS = {
    "buses": sysfs.dump_script(
        buses.GPIO + buses.I2C + buses.SPI + buses.UART + buses.PWM + buses.IIO + buses.CAN
    ),
    "net": sysfs.dump_script(network.NET + network.RADIOS + network.RESOLVER),
    "links": network.LINKS_COMMAND,
    "power": sysfs.dump_script(power.SLEEP + power.IDLE + power.DVFS + power.THERMAL),
    "media": sysfs.dump_script(media.USB + media.DISPLAY + media.SOUND + media.CAMERA),
    "getent": "getent hosts localhost",
    # STAB-MEM-001's sampling (the kdump listings before and after a crash come from the board of
    # tests/test_kdump_qemu.py: `kdump.listing_script(["/var/crash"])` around the crash).
    "memleak": memleak.sample_script(["systemd", "systemd-journald", "sshd"], 4, 1.0),
    # What the os-services suite reads: its config files in one dump, and the commands' answers.
    "os-files": osservices.files_script(
        ["/etc/os-release", "/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/*.conf", "/etc/apt/sources.list",
         "/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources", "/etc/yum.repos.d/*.repo",
         "/etc/systemd/journald.conf", "/etc/locale.conf", "/etc/default/locale", "/proc/cmdline"]
    ),
    "os-commands": "for c in 'systemctl is-system-running' 'systemctl get-default' "
                   "'systemctl list-units --state=failed --no-legend --plain --no-pager' 'timedatectl show' "
                   "'chronyc tracking' 'locale -a' 'readlink /etc/localtime' "
                   "'systemctl list-timers --all --no-legend --no-pager'; "
                   "do printf '@@harness-command@@ %s\\n' \"$c\"; sh -c \"$c\" 2>&1; done",
}


def capture(source: str, run) -> None:  # type: ignore[no-untyped-def]
    folder = OUT / source
    folder.mkdir(parents=True, exist_ok=True)
    for area, script in AREAS.items():
        (folder / f"{area}.txt").write_text(run(script))


def main() -> None:
    which = sys.argv[1:] or ["debian", "qemu"]
    if "debian" in which:
        capture("debian", lambda s: subprocess.run(["sh", "-c", s], capture_output=True, text=True).stdout)
    if "qemu" in which:
        from harness.lab.qemu import QemuBoard, build_image, default_state_dir
        from harness.transports.ssh import SshTransport

        state = default_state_dir()
        board = QemuBoard(state, name="capture-board", image=build_image(state))
        with board, SshTransport(board.ssh_spec()) as ssh:
            capture("qemu", lambda s: ssh.run(s).stdout_text)


if __name__ == "__main__":
    main()
