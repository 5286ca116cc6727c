"""The suites (kernel, identity, hardware, security, os-services and the rest of SUITES) on the emulated
arm64 board: Debian's real arm64 kernel (its own /boot/config-<release> in the image) under QEMU,
wearing an openEuler 22.03 persona over a busybox userland. Pins what that real data gives, requirement
by requirement: the Debian config meets every fragment rule except openEuler's SM3/SM4 crypto and the
/dev/mem ban, the hardware matches the declaration (2 CPUs, 512 MB, an i6300esb watchdog, a virtio disk
holding ext4), and what the minimal board genuinely lacks (no SELinux, thermal zones, cpufreq, kernel
export list; no systemd, package database or locales; no SM2/SM3/SM4 in Debian's kernel, no openssl
command in busybox) fails for exactly that reason. Last, on the same board, the destructive recovery
tests: its watchdog left unfed really resets it, and a power cut (QEMU SIGKILLed) leaves its ext4
recovered by the journal and clean under e2fsck -n."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.checks import kconfig, perf, smcrypto
from harness.lab.qemu import QemuBoard, build_image, default_state_dir
from harness.lab.qemu.board import QEMU
from harness.lab.qemu.power import PowerController
from harness.transports.ssh import SshTransport

# The board boots, runs eleven suites, then the destructive recovery tests (a watchdog reset and a power cut):
# minutes under TCG on a shared machine, all in the first test's setup.
pytestmark = [pytest.mark.qemu, pytest.mark.peer("qemu"), pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parent.parent
SUITES = ("kernel", "identity", "hardware", "security", "performance", "peripherals", "network", "power", "media",
          "os-services", "crypto")
# What the virt machine has (PL061 GPIO, PL011 UART, virtio-mmio NIC) and one bus it lacks (I2C), so the
# new suites judge the real kernel both ways; the rest stay undeclared and SKIP.
# Power: s2idle woken by the PL031 alarm is real; cpuidle, cpufreq and thermal zones the virt machine lacks.
CAPABILITIES = ["gpio", "uart", "ethernet", "i2c", "suspend", "cpuidle", "dvfs", "thermal", "usb-host",
                "watchdog-reboot"]
# The destructive recovery tests run after the other suites, on the same board: its i6300esb watchdog
# left unfed resets it (10 s heartbeat), then the lab's power switch SIGKILLs QEMU with the ext4 disk
# mounted and boots it again.
RECOVERY = "suites/stability/test_recovery.py"
RECOVERY_REQUIREMENTS = ("STAB-WDT-001", "STAB-WDT-002", "STAB-PWR-001", "STAB-PWR-002", "STAB-PWR-003",
                         "STAB-PWR-004")
DEVICE = "qemu-arm64"
PASSWORD_ENV = "HARNESS_QEMU_SUITES_PW"
# The OS release's own metadata says 35 months; Debian's `uname -v` says the kernel was built this year.
RELEASE_AGE_MONTHS = 35


def release_metadata(today: dt.date) -> str:
    months = today.year * 12 + today.month - 1 - RELEASE_AGE_MONTHS
    built = dt.date(months // 12, months % 12 + 1, min(today.day, 28))
    return (
        "openeulerversion=openEuler-22.03-LTS-SP3\n"
        f"compiletime={built.isoformat()}-18-46-31\n"
        "kernelversion=5.10.0-136.12.0.86.oe2203sp1\n"
    )


@dataclass(frozen=True)
class BoardRun:
    """One suite run on the board: outcome, message and metrics by requirement id, plus the board's
    own kernel config (read over SSH) to tie the verdicts to the data they came from."""

    outcomes: dict[str, str]
    messages: dict[str, str]
    metrics: dict[str, dict[str, float]]
    kernel_release: str
    config: dict[str, str]
    config_text: str
    run_dir: Path
    password: str
    output: str
    stdout: dict[str, str]  # every command's stdout excerpt, by requirement id
    proc_crypto: str  # the board's /proc/crypto, read over SSH before the run
    recovery_seconds: float = 0.0  # the destructive recovery run's own time
    power_cuts: int = 0  # what the board's power switch served

    def assert_outcome(self, outcome: str, *requirements: str) -> None:
        for req in requirements:
            assert self.outcomes.get(req) == outcome, (req, self.outcomes.get(req), self.messages.get(req))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def inventory_text(board: QemuBoard, power_socket: Path | None = None) -> str:
    entry = board.inventory_entry(password_env=PASSWORD_ENV)
    entry["declared"]["capabilities"] = CAPABILITIES
    if power_socket is not None:
        entry["power"] = {"socket": str(power_socket), "off_seconds": 1}
    return f"[devices.{DEVICE}]\n" + "".join(f"{key} = {_toml_value(v)}\n" for key, v in entry.items())


def read_journal(
    *run_dirs: Path,
) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, float]], dict[str, str]]:
    outcomes: dict[str, str] = {}
    messages: dict[str, str] = {}
    metrics: dict[str, dict[str, float]] = {}
    stdout: dict[str, str] = {}
    for journal in sorted(j for run_dir in run_dirs for j in (run_dir / "journal").glob("*.jsonl")):
        for line in journal.read_text().splitlines():
            record = json.loads(line)
            if record.get("type") != "result":
                continue
            for req in record["requirements"] or [record["test_id"]]:
                assert req not in outcomes, f"{req} has two results"
                outcomes[req] = record["outcome"]
                messages[req] = record.get("message") or ""
                metrics[req] = {m["name"]: m["value"] for m in record.get("metrics") or []}
                stdout[req] = "".join(e.get("stdout") or "" for e in record.get("evidence") or [])
    return outcomes, messages, metrics, stdout


@pytest.fixture(scope="module")
def board_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoardRun]:
    if shutil.which(QEMU) is None:
        pytest.skip(f"{QEMU} is not installed (scripts/system-deps.sh installs it)")
    work = tmp_path_factory.mktemp("qemu-suites")
    state = default_state_dir()
    # The release metadata is the board's own file, there after every boot (the watchdog resets it).
    metadata = release_metadata(dt.datetime.now(dt.UTC).date())
    with (QemuBoard(state, name="suites-board", image=build_image(state), boot_timeout=90, disk_mb=64,
                    watchdog=True, files={"etc/openEuler-latest": metadata.encode()}, board_dir=work / "board") as board,
          PowerController(board, work / "power.sock") as power):
        with SshTransport(board.ssh_spec()) as ssh:
            config_text = ssh.run(f"cat /boot/config-{board.kernel_release}").stdout_text
            proc_crypto = ssh.run("cat /proc/crypto").stdout_text
        inventory = work / "devices.toml"
        inventory.write_text(inventory_text(board, power.path))
        run_dir, recovery_dir = work / "run", work / "recovery"

        def argv(tests: list[str], into: Path) -> list[str]:
            return [sys.executable, "-m", "pytest", *tests, "--device", DEVICE, "--inventory", str(inventory),
                    "--harness-run-dir", str(into), "-q", "-p", "no:cacheprovider", "-o", "addopts="]

        env = {**os.environ, PASSWORD_ENV: board.password}
        env.pop("HARNESS_REQUIRE_PEERS", None)  # the suites' SKIPs are verdicts, not missing peers
        proc = subprocess.run(argv([f"suites/{s}" for s in SUITES], run_dir), cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300)
        started = time.monotonic()
        destructive = subprocess.run(argv([RECOVERY], recovery_dir), cwd=REPO, env=env, capture_output=True,
                                     text=True, timeout=300)
        recovery_seconds = time.monotonic() - started
        outcomes, messages, metrics, stdout = read_journal(run_dir, recovery_dir)
        yield BoardRun(
            outcomes,
            messages,
            metrics,
            board.kernel_release,
            kconfig.parse_kconfig(config_text),
            config_text,
            run_dir,
            board.password,
            proc.stdout[-4000:] + proc.stderr[-4000:] + destructive.stdout[-3000:] + destructive.stderr[-3000:],
            stdout,
            proc_crypto,
            recovery_seconds,
            power.cuts,
        )


def test_every_requirement_of_the_suites_ran(board_run: BoardRun) -> None:
    wanted = set(RECOVERY_REQUIREMENTS)
    for suite in SUITES:
        data = tomllib.loads((REPO / "suites" / suite / "suite.toml").read_text())
        wanted |= {req["id"] for req in data["requirements"]}
    assert set(board_run.outcomes) == wanted, board_run.output
    assert "ERROR" not in board_run.outcomes.values(), {
        r: board_run.messages[r] for r, o in board_run.outcomes.items() if o == "ERROR"
    }


def test_board_carries_the_kernel_packages_own_config(board_run: BoardRun) -> None:
    header = kconfig.config_header(board_run.config_text)
    assert header is not None and header[0] == "arm64", board_run.config_text[:200]
    # Debian names the kernel by ABI (6.1.0-NN-arm64) while the header says the upstream 6.1.x.
    assert not kconfig.config_is_for(board_run.config_text, board_run.kernel_release)
    assert kconfig.config_is_for(board_run.config_text, board_run.kernel_release, named_for_release=True)
    assert len(board_run.config) > 3000, "not a full distribution config"


def test_kernel_version_and_config_readable(board_run: BoardRun) -> None:
    board_run.assert_outcome("PASS", "KERN-VER-001", "KERN-CFG-001", "KERN-CFG-004")
    # KERN-CFG-004 judged the real value, not an absent option.
    assert board_run.config["CONFIG_MODULE_SIG_HASH"] == '"sha256"'


def test_debian_config_meets_every_required_rule_but_openeulers_crypto(board_run: BoardRun) -> None:
    # What base, linux-server and kernel-5.10 fragments need, as Debian's arm64 config has it.
    for name, value in {
        "CONFIG_SECCOMP_FILTER": "y",
        "CONFIG_STACKPROTECTOR_STRONG": "y",
        "CONFIG_STRICT_KERNEL_RWX": "y",
        "CONFIG_MODULE_SIG": "y",
        "CONFIG_USER_NS": "y",
        "CONFIG_MEMCG": "y",
        "CONFIG_BPF_SYSCALL": "y",
        "CONFIG_SECURITY_SELINUX": "y",
        "CONFIG_OF": "y",
        "CONFIG_VMAP_STACK": "y",
        "CONFIG_HARDENED_USERCOPY": "y",
        "CONFIG_FORTIFY_SOURCE": "y",
        "CONFIG_IMA": "y",
        "CONFIG_MODVERSIONS": "y",
        "CONFIG_EXT4_FS": "m",
        "CONFIG_OVERLAY_FS": "m",
    }.items():
        assert board_run.config.get(name) == value, (name, board_run.config.get(name))
    board_run.assert_outcome("FAIL", "KERN-CFG-002")
    message = board_run.messages["KERN-CFG-002"]
    assert message.startswith("2 required rule(s) fail against /boot/config-$(uname -r)"), message
    failing = [line.strip() for line in message.splitlines()[1:] if line.strip().startswith("CONFIG_")]
    # Only the SM3/SM4 rules of the openEuler 22.03 fragment: Debian builds neither.
    assert [line.split(" ", 1)[0] for line in failing] == ["CONFIG_CRYPTO_SM3=y", "CONFIG_CRYPTO_SM4=y"], (
        message
    )
    assert all("[openeuler-22.03.config" in line and "=absent" in line for line in failing), message


def test_debian_keeps_dev_mem_which_the_suite_forbids(board_run: BoardRun) -> None:
    assert board_run.config["CONFIG_DEVMEM"] == "y"
    board_run.assert_outcome("FAIL", "KERN-CFG-003")
    message = board_run.messages["KERN-CFG-003"]
    assert message.startswith("1 forbidden rule(s) fail"), message
    assert "# CONFIG_DEVMEM is not set (have CONFIG_DEVMEM=y) [base.config" in message, message


def test_kernel_features_taint_and_sysctl(board_run: BoardRun) -> None:
    board_run.assert_outcome(
        "PASS", "KERN-CG-001", "KERN-NS-001", "KERN-TAINT-001", "KERN-TAINT-002", "KERN-SYSCTL-001"
    )
    # ext4 is a module (=m), loaded at boot for the board's virtio disk: every required filesystem is there.
    board_run.assert_outcome("PASS", "KERN-FS-001")


def test_kabi_reads_the_real_kernel_and_never_passes_without_an_export_list(board_run: BoardRun) -> None:
    # Debian's kernel lists 50k symbols in /proc/kallsyms but, without KALLSYMS_ALL, no export table,
    # and ships no symvers: the needed exports cannot be shown, which is a failure, not a pass or skip.
    assert board_run.config["CONFIG_KALLSYMS_ALL"] == kconfig.NOT_SET
    board_run.assert_outcome("FAIL", "KERN-KABI-001")
    message = board_run.messages["KERN-KABI-001"]
    assert "/proc/kallsyms has no __ksymtab_ entries" in message, message
    assert "/boot/symvers-$(uname -r).gz" in message, message
    board_run.assert_outcome("PASS", "KERN-KABI-002")  # the arm64 whitelist covers openEuler's needs


def test_identity_is_the_declared_openeuler_on_aarch64(board_run: BoardRun) -> None:
    board_run.assert_outcome(
        "PASS",
        "ID-OS-001",
        "ID-OS-002",
        "ID-OS-003",
        "ID-DECL-001",
        "ID-DECL-002",
        "ID-ARCH-001",
        "ID-KERN-001",
    )
    # The fingerprint comes from /etc/openEuler-latest, the release metadata the board's image carries.
    board_run.assert_outcome("PASS", "ID-FP-001", "ID-FP-002")
    for req in ("ID-PROP-001", "ID-PROP-002", "ID-ABI-001", "ID-SN-001"):
        board_run.assert_outcome("SKIP", req)
        assert board_run.messages[req].startswith("not applicable to profile openeuler"), board_run.messages[
            req
        ]


def test_hardware_matches_the_declaration(board_run: BoardRun) -> None:
    board_run.assert_outcome(
        "PASS",
        "HW-CPU-001",
        "HW-CPU-002",
        "HW-MEM-001",
        "HW-MEM-002",
        "HW-NET-001",
        "HW-RTC-001",
        "HW-DT-001",
        "HW-DT-002",
        "HW-WDT-001",  # the i6300esb on the PCI bus
        "HW-STO-001",  # the virtio disk, /dev/vda
    )
    assert board_run.metrics["HW-CPU-001"]["cpu_count"] == 2
    assert 0.88 * 512 <= board_run.metrics["HW-MEM-001"]["mem_total"] <= 512


def test_hardware_the_virt_machine_lacks_fails_for_that_reason(board_run: BoardRun) -> None:
    expected = {
        "HW-CPU-003": "no cpufreq policy under /sys/devices/system/cpu/cpufreq",
        "HW-THERM-001": "no thermal zone under /sys/class/thermal",
        # The initramfs has no /var/tmp: dd's own error is the reason given.
        "HW-STO-002": "writing 1024 KiB under /var/tmp failed (exit 1): dd: can't open '/var/tmp/",
        "HW-STO-003": "df -k /var/tmp failed (exit 1): df: /var/tmp: can't find mount point",
    }
    for req, reason in expected.items():
        board_run.assert_outcome("FAIL", req)
        assert board_run.messages[req].startswith(reason), (req, board_run.messages[req])


def test_security_on_a_kernel_without_selinux_active(board_run: BoardRun) -> None:
    # The real kernel's LSM list: AppArmor is Debian's default, SELinux is built in but not active.
    board_run.assert_outcome("FAIL", "SEC-LSM-001", "SEC-LSM-002")
    message = board_run.messages["SEC-LSM-001"]
    assert message.startswith("none of the accepted LSMs ['selinux'] is active (lsm list: '"), message
    assert "apparmor" in message.split("lsm list:")[1] and "selinux" not in message.split("lsm list:")[1]
    assert board_run.messages["SEC-LSM-002"].startswith("/etc/selinux/config is missing")


def test_security_patch_level_from_the_releases_own_metadata(board_run: BoardRun) -> None:
    # /etc/openEuler-latest says the release was built 35 months ago; Debian's `uname -v` "(YYYY-MM-DD)"
    # says this year. The release metadata is the patch level; the kernel date only a fallback.
    board_run.assert_outcome(
        "PASS", "SEC-PATCH-001", "SEC-PATCH-002", "SEC-FS-001", "SEC-NET-001", "SEC-NET-002"
    )
    assert board_run.metrics["SEC-PATCH-001"]["security_patch_age"] == RELEASE_AGE_MONTHS
    for req in ("SEC-BUILD-001", "SEC-SU-001", "SEC-ADB-001", "SEC-VB-001", "SEC-ENC-001"):
        board_run.assert_outcome("SKIP", req)


def test_performance_on_busybox_is_timed_by_the_device_in_a_scratch_folder(board_run: BoardRun) -> None:
    perf_reqs = ("PERF-STO-001", "PERF-STO-002", "PERF-CPU-001", "PERF-CPU-002", "PERF-MEM-001")
    for req in perf_reqs:
        assert board_run.outcomes[req] in ("PASS", "FAIL"), (req, board_run.outcomes[req], board_run.messages[req])
        # busybox date prints %N literally: the board's adjtimex applet timed it, in microseconds.
        assert "@@T us " in board_run.stdout[req], (req, board_run.stdout[req][-300:])
    # The initramfs has no /var/tmp: the scratch folder is made under /tmp.
    assert "\n/tmp/harness-perf." in "\n" + board_run.stdout["PERF-STO-001"], board_run.stdout["PERF-STO-001"][:300]
    # The figure is the device's own timing of the copy (busybox dd prints no statistics of its own).
    timing = perf.parse_timed(board_run.stdout["PERF-MEM-001"])
    assert timing is not None and timing.clock == "adjtimex" and timing.precise
    assert board_run.metrics["PERF-MEM-001"]["memory_copy"] == round(256 / timing.seconds, 2)


def test_run_records_hold_no_board_password(board_run: BoardRun) -> None:
    files = [p for p in board_run.run_dir.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert board_run.password not in path.read_text(errors="replace"), path


def test_peripherals_on_the_virt_machine(board_run: BoardRun) -> None:
    board_run.assert_outcome("PASS", "PER-GPIO-001", "PER-GPIO-002", "PER-UART-001", "PER-UART-002")
    # Declared, and the virt machine has no I2C controller: a failure with the reason.
    board_run.assert_outcome("FAIL", "PER-I2C-001", "PER-I2C-002", "PER-I2C-003")
    assert board_run.messages["PER-I2C-001"].startswith("no I2C adapter: /sys/bus/i2c/devices has no i2c-N")
    for req in ("PER-SPI-001", "PER-SPI-002", "PER-PWM-001", "PER-IIO-001", "PER-IIO-002", "PER-CAN-001"):
        board_run.assert_outcome("SKIP", req)
        assert "does not declare the capability" in board_run.messages[req], board_run.messages[req]


def test_network_on_slirp_and_a_busybox_resolver(board_run: BoardRun) -> None:
    board_run.assert_outcome("PASS", "NET-LO-001", "NET-IP6-001", "NET-IP6-002", "NET-ETH-001", "NET-ETH-002",
                             "NET-ETH-004")
    expected = {
        # slirp advertises the deprecated site-local fec0::/64 only.
        "NET-IP6-003": "no global or unique-local IPv6 address on any interface; only deprecated site-local",
        "NET-ETH-003": "eth0 reports speed -1 Mb/s, duplex 'unknown'",
        "NET-DNS-001": "/etc/resolv.conf is missing",
        "NET-DNS-002": "nsswitch.conf hosts: 'files' asks no DNS resolver",
        "NET-DNS-003": "getent hosts localhost found nothing (exit 127)",  # busybox has no getent
    }
    for req, reason in expected.items():
        board_run.assert_outcome("FAIL", req)
        assert board_run.messages[req].startswith(reason), (req, board_run.messages[req])
    for req in ("NET-WIFI-001", "NET-WIFI-002", "NET-BT-001", "NET-BT-002"):
        board_run.assert_outcome("SKIP", req)


def test_power_suspends_to_idle_and_resumes_on_the_rtc_alarm(board_run: BoardRun) -> None:
    # A real s2idle cycle on the Debian kernel: the PL031 alarm wakes it and suspend_stats counts it.
    board_run.assert_outcome("PASS", "PWR-SUS-001", "PWR-SUS-002", "PWR-SUS-003", "PWR-SUS-004")
    assert "@@S 0 0 1 0 0" in board_run.stdout["PWR-SUS-003"], board_run.stdout["PWR-SUS-003"][-300:]
    expected = {
        "PWR-IDLE-001": "no cpuidle driver is registered (current_driver 'none')",
        "PWR-IDLE-002": "no cpuidle driver is registered",
        "PWR-DVFS-001": "no cpufreq policy under /sys/devices/system/cpu/cpufreq",
        "PWR-DVFS-004": "no cpufreq policy under /sys/devices/system/cpu/cpufreq",
        "PWR-THERM-001": "no thermal zone under /sys/class/thermal",
        "PWR-THERM-003": "no thermal zone under /sys/class/thermal",
        "MED-USB-001": "no USB host controller: /sys/bus/usb/devices has no root hub usbN",
    }
    for req, reason in expected.items():
        board_run.assert_outcome("FAIL", req)
        assert board_run.messages[req].startswith(reason), (req, board_run.messages[req])
    for req in ("MED-USB-003", "MED-DRM-001", "MED-SND-001", "MED-CAM-001"):
        board_run.assert_outcome("SKIP", req)



def test_os_services_on_a_busybox_userland(board_run: BoardRun) -> None:
    # What the board has: a host name, an os-release with every field, sshd without empty passwords or
    # protocol 1.
    board_run.assert_outcome("PASS", "OSS-HOST-001", "OSS-REL-001", "OSS-SSH-002")
    expected = {
        # The real arm64 kernel has kexec (its sysfs files exist) but nothing reserved or loaded.
        "OSS-KDUMP-001": "no crashkernel= on the kernel command line",
        "OSS-KDUMP-002": "/sys/kernel/kexec_crash_loaded is '0': no crash kernel is loaded",
        # busybox init, no systemd: every question put to systemctl is a FAIL naming the missing command.
        "OSS-SYSD-001": "systemd is not managing the system: sh: systemctl: not found",
        "OSS-SYSD-002": "cannot list the failed units, systemd is not managing the system: sh: systemctl: not found",
        "OSS-SYSD-003": "systemctl get-default failed: sh: systemctl: not found",
        "OSS-KDUMP-003": "no kdump service is enabled: kdump.service sh: systemctl: not found",
        "OSS-TIME-001": "no time synchronisation service is active: chronyd.service sh: systemctl: not found",
        "OSS-TIME-002": "the clock is not synchronised (timedatectl: sh: timedatectl: not found; chronyc tracking: "
                        "sh: chronyc: not found)",
        "OSS-SCHED-001": "no systemd timer and no active cron daemon",
        # busybox's rpm applet installs packages but keeps no database.
        "OSS-PKG-001": "rpm -qa failed (exit 1)",
        "OSS-PKG-002": "no enabled repository with a URL",
        "OSS-PKG-003": "no enabled repository to check the signatures of",
        "OSS-LOC-001": "locale -a failed (exit 127): sh: locale: not found",
        "OSS-LOC-002": "locale -a failed (exit 127): sh: locale: not found",
        "OSS-TIME-003": "/etc/localtime is not a link into the zoneinfo database",
        "OSS-LOG-001": "journald Storage=auto and /var/log/journal does not exist",
        "OSS-LOG-002": "/etc/logrotate.conf does not exist",
        # The lab board logs root in with its password.
        "OSS-SSH-001": "sshd permits root to log in with a password (PermitRootLogin yes)",
    }
    for req, reason in expected.items():
        board_run.assert_outcome("FAIL", req)
        assert board_run.messages[req].startswith(reason), (req, board_run.messages[req])
    for req in (r for r in board_run.outcomes if r.startswith("OSS-OH-")):
        board_run.assert_outcome("SKIP", req)  # the OpenHarmony requirements, on an openEuler persona


def test_national_cryptography_on_debians_arm64_kernel_and_a_busybox_userland(board_run: BoardRun) -> None:
    # What the real kernel registers: its generic hashes and ciphers, no SM algorithm. Debian's arm64
    # config builds none of them, not even as a module (so there is nothing to load), nor the arm64
    # SM3/SM4 instruction drivers.
    algs = smcrypto.parse_proc_crypto(board_run.proc_crypto)
    assert {"sha1", "sha256", "aes", "hmac(sha256)"} <= {a.name for a in algs}, board_run.proc_crypto[:500]
    assert smcrypto.national_algs(algs) == []
    for option in ("CONFIG_CRYPTO_SM2", "CONFIG_CRYPTO_SM3_GENERIC", "CONFIG_CRYPTO_SM4_GENERIC",
                   "CONFIG_CRYPTO_SM3_ARM64_CE", "CONFIG_CRYPTO_SM4_ARM64_CE"):
        assert board_run.config[option] == kconfig.NOT_SET, option
    expected = {
        "CRYPTO-K-SM3-001": "/proc/crypto does not list sm3; CONFIG_CRYPTO_SM3 absent, CONFIG_CRYPTO_SM3_GENERIC is not set",
        "CRYPTO-K-SM4-001": "/proc/crypto does not list sm4; CONFIG_CRYPTO_SM4 absent, CONFIG_CRYPTO_SM4_GENERIC is not set",
        "CRYPTO-K-SM2-001": "/proc/crypto does not list sm2; CONFIG_CRYPTO_SM2 is not set",
        # AF_ALG is built (=m), but the board's image carries only the virtio modules: nothing can load it.
        "CRYPTO-K-AFALG-001": "user space cannot reach the kernel's crypto API (AF_ALG): CONFIG_CRYPTO_USER_API=m "
                              "but the af_alg module is neither loaded nor installed; CONFIG_CRYPTO_USER_API_HASH=m",
    }
    # busybox has no openssl applet. The board does carry OpenSSL 3's libcrypto.so.3 (sshd links it), but
    # without the command nothing can list its algorithms or run the known answers: a FAIL, not an ERROR.
    for req in ("CRYPTO-U-LIB-001", "CRYPTO-U-SM3-001", "CRYPTO-U-SM3-002", "CRYPTO-U-SM4-001", "CRYPTO-U-SM4-002",
                "CRYPTO-U-SM2-001"):
        expected[req] = "no openssl command on the device: the userland crypto library cannot be examined"
    for req, reason in expected.items():
        board_run.assert_outcome("FAIL", req)
        assert board_run.messages[req].startswith(reason), (req, board_run.messages[req])
    expected_skips = {
        "CRYPTO-K-SELF-001": "no national algorithm is registered in /proc/crypto to have run a self-test",
        # cortex-a57 (ARMv8.0) has no SM3/SM4 instructions.
        "CRYPTO-K-ACCEL-001": "the CPU lists no sm3/sm4 feature in /proc/cpuinfo: nothing to accelerate",
        "CRYPTO-OHOS-001": "not applicable to profile openeuler",
    }
    for req, reason in expected_skips.items():
        board_run.assert_outcome("SKIP", req)
        assert board_run.messages[req].startswith(reason), (req, board_run.messages[req])


def test_watchdog_resets_the_board_and_the_power_cut_leaves_ext4_clean(board_run: BoardRun) -> None:
    # The i6300esb's 10 s heartbeat, unfed: QEMU resets the machine (a new boot id, uptime from zero),
    # and after the power switch SIGKILLed QEMU the kernel replays the ext4 journal of /dev/vda.
    board_run.assert_outcome("PASS", *RECOVERY_REQUIREMENTS)
    reset = board_run.metrics["STAB-WDT-001"]["watchdog_reset_after"]
    assert 9 <= reset <= 10 + 15, reset  # the timeout, plus the slack the suite allows
    # The power cut (and what was read after it) happened in the setup of the first STAB-PWR test.
    assert "EXT4-fs (vda): recovery complete" in board_run.stdout["STAB-PWR-001"], board_run.stdout["STAB-PWR-001"][-800:]
    assert "/dev/vda /data ext4 rw" in board_run.stdout["STAB-PWR-001"], board_run.stdout["STAB-PWR-001"][:800]
    assert "Pass 5: Checking group summary information" in board_run.stdout["STAB-PWR-003"]
    assert board_run.power_cuts == 1
    print(f"recovery tests on the board: {board_run.recovery_seconds:.1f}s")
