"""The identity, kernel, crypto and os-services suites against a real peer: a loopback OpenSSH sshd on this Debian machine.
Pins what the real system gives: Debian 12 identity, a config.gz built for the running kernel that
meets the fragments, and kABI SKIPped (with the reason) on x86_64, which has no whitelist."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.lab.peers.sshd import OpenSshServer

pytestmark = pytest.mark.peer("sshd")
ROOT = Path(__file__).resolve().parent.parent
DECLARED = ("ethernet", "uart", "gpio", "suspend")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("debian")
    with OpenSshServer() as sshd:
        inventory = tmp / "devices.toml"
        inventory.write_text(
            '[devices.debian-loop]\nkind = "board"\nprofile = "generic-linux"\n'
            f'ssh = {{ host = "127.0.0.1", port = {sshd.port}, user = "{sshd.user}", '
            f'key_file = "{sshd.client_key}", known_hosts = "{sshd.known_hosts}" }}\n'
            'declared = { os_name = "Debian GNU/Linux", os_version = "12", arch = "x86_64", '
            # What this VM has (a virtio NIC, a 16550A UART) and a bus it lacks, to judge both ways.
            f'capabilities = {json.dumps(list(DECLARED))} }}\n'
            # Debian is no domestic OS: the tag opts it into the national cryptography checks.
            'tags = ["sm-crypto"]\n'
        )
        junit = tmp / "junit.xml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "suites/identity",
                "suites/kernel",
                "suites/peripherals",
                "suites/network",
                "suites/power",
                "suites/media",
                "suites/crypto",
                "suites/os-services",
                # Never the whole stability suite: its reboot cycles would reboot this machine. The
                # kdump module SKIPs (kdump-capture undeclared) before it could crash anything, and the
                # recovery module (watchdog-reboot undeclared, no power table) before it could reset it.
                "suites/stability/test_memleak.py",
                "suites/stability/test_kdump.py",
                "suites/stability/test_recovery.py",
                "--device",
                "debian-loop",
                "--inventory",
                str(inventory),
                f"--junitxml={junit}",
            ],
            cwd=ROOT,
            capture_output=True,
            timeout=240,
            check=False,
        )
    results: dict[str, tuple[str, str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        child = next(iter(case), None)
        kind = "passed" if child is None or child.tag in ("system-out", "system-err") else child.tag
        results[case.get("name", "")] = (kind, (child.get("message", "") if child is not None else ""))
    return results


def test_debian_identity_is_consistent(outcomes):
    for name in (
        "test_os_name_and_version_reported",
        "test_identity_commands_agree_with_os_release",
        "test_os_matches_declaration",
        "test_arch_matches_declaration",
        "test_fingerprint_format",
        "test_kernel_release_consistent",
    ):
        assert outcomes[name][0] == "passed", (name, outcomes[name])
    assert outcomes["test_primary_abi_matches_arch"][0] == "skipped"  # ABI lists are for handset OSes


def test_debian_kernel_config_meets_the_fragments(outcomes):
    for name in (
        "test_kernel_config_readable",
        "test_required_options",
        "test_forbidden_options",
        "test_exact_values",
        "test_filesystems",
        "test_namespaces",
        "test_no_fault_taint",
    ):
        assert outcomes[name][0] == "passed", (name, outcomes[name])


def test_kabi_without_whitelist_is_skipped_not_passed(outcomes):
    kind, message = outcomes["test_needed_symbols_exported"]
    # generic-linux is outside KERN-KABI's profiles and x86_64 has no whitelist: either reason, never a pass.
    assert kind == "skipped", (kind, message)
    assert "no kABI whitelist for architecture 'x86_64'" in message or "not applicable" in message, message
    assert outcomes["test_needed_symbols_whitelisted"][0] == "skipped"


def test_debian_peripherals_judge_what_is_declared_and_skip_the_rest(outcomes):
    assert outcomes["test_uart_present"][0] == "passed"  # ttyS0, a 16550A
    assert outcomes["test_console_on_uart"][0] == "passed"  # console=ttyS0
    # Declared but absent: the VM has no GPIO controller.
    kind, message = outcomes["test_gpio_controller"]
    assert kind == "failure" and "no GPIO controller: /sys/bus/gpio/devices has no gpiochipN" in message, message
    for name in ("test_i2c_adapter", "test_spi_controller", "test_pwm_chip", "test_iio_device", "test_can_interface"):
        kind, message = outcomes[name]
        assert kind == "skipped" and "does not declare the capability" in message, (name, kind, message)


def test_debian_network_on_a_virtio_nic(outcomes):
    for name in ("test_loopback_up", "test_ipv6_enabled", "test_ipv6_link_local", "test_ipv6_routable",
                 "test_resolver_configured", "test_hosts_lookup_uses_dns", "test_probe_name_resolves",
                 "test_ethernet_interface", "test_ethernet_link_up", "test_ethernet_mac_stable"):
        assert outcomes[name][0] == "passed", (name, outcomes[name])
    # virtio-net negotiates nothing: speed -1, duplex unknown.
    kind, message = outcomes["test_ethernet_speed_and_duplex"]
    assert kind == "failure" and "reports speed -1 Mb/s, duplex 'unknown'" in message, message
    for name in ("test_wifi_interface", "test_wifi_not_blocked", "test_bluetooth_controller",
                 "test_bluetooth_not_blocked"):
        assert outcomes[name][0] == "skipped", (name, outcomes[name])


def test_debian_vm_has_no_sleep_state_and_media_is_undeclared(outcomes):
    kind, message = outcomes["test_sleep_state_offered"]
    assert kind == "failure" and "/sys/power/state offers no system sleep (freeze or mem): []" in message, message
    kind, message = outcomes["test_suspend_resume_cycle"]  # never tries to suspend without a sleep state
    assert kind == "failure" and "offers no system sleep" in message, message
    for name in ("test_cpuidle_driver", "test_dynamic_governor", "test_critical_trips", "test_usb_host",
                 "test_drm_card", "test_sound_card", "test_camera"):
        kind, message = outcomes[name]
        assert kind == "skipped" and "does not declare the capability" in message, (name, kind, message)


def test_debian_national_cryptography(outcomes):
    # The userland is OpenSSL 3.0 with SM2/SM3/SM4: every list and known answer passes on the real library.
    for name in (
        "test_openssl_version",
        "test_openssl_lists_sm3",
        "test_openssl_sm3_known_answer",
        "test_openssl_lists_sm4_modes",
        "test_openssl_sm4_known_answer",
        "test_openssl_sm2_sign_verify",
    ):
        assert outcomes[name][0] == "passed", (name, outcomes[name])
    # This machine's kernel registers no SM algorithm: a FAIL saying what /proc/crypto and the config show.
    for name, alg in (("test_kernel_sm3", "sm3"), ("test_kernel_sm4", "sm4"), ("test_kernel_sm2", "sm2")):
        kind, message = outcomes[name]
        assert kind == "failure" and f"/proc/crypto does not list {alg}" in message, (name, kind, message)
    assert outcomes["test_kernel_selftests"][0] == "skipped"  # none registered to have run one
    assert outcomes["test_kernel_uses_cpu_sm_instructions"][0] == "skipped"  # x86_64: no sm3/sm4 flags
    kind, message = outcomes["test_kernel_user_api"]
    # This machine's kernel (its own /proc/config.gz) is built without AF_ALG.
    assert kind == "failure" and "CONFIG_CRYPTO_USER_API_HASH" in message, (kind, message)
    kind, message = outcomes["test_ohos_crypto_library"]
    assert kind == "skipped" and "not applicable" in message, message


def test_debian_os_services_judge_a_machine_without_systemd(outcomes):
    # dpkg's database, the deb822 sources (signed), the default target's link, the zone, journald's
    # default storage with /var/log/journal, sshd's safe defaults, the host name and os-release hold.
    for name in ("test_package_database", "test_repository_configured", "test_repositories_signed",
                 "test_default_target", "test_timezone_configured", "test_journal_persistent",
                 "test_sshd_no_root_password_login", "test_sshd_no_empty_passwords_protocol_2",
                 "test_hostname_set", "test_os_release_fields"):
        assert outcomes[name][0] == "passed", (name, outcomes[name])
    # PID 1 is no systemd here: each question put to it is a FAIL saying so, never a pass.
    expected = {
        "test_system_running": "systemctl is-system-running says 'offline'",
        "test_no_failed_units": "systemd is not managing the system: System has not been booted with systemd",
        "test_time_sync_active": "no time synchronisation service is active: chronyd.service System has not",
        "test_clock_synchronised": "the clock is not synchronised (timedatectl: System has not been booted",
        "test_job_scheduler": "no systemd timer and no active cron daemon",
        # And what this VM's kernel and userland lack (is-enabled reads unit files: there is none).
        "test_kdump_service_enabled": "no kdump service is enabled: kdump.service Failed to get un",
        "test_crash_memory_reserved": "no crashkernel= on the kernel command line",
        "test_crash_kernel_loaded": "/sys/kernel/kexec_crash_loaded is missing",
        "test_system_locale": "no system locale: LANG is set in neither /etc/locale.conf nor /etc/default/locale",
        "test_log_rotation": "/etc/logrotate.conf does not exist",
    }
    for name, text in expected.items():
        kind, message = outcomes[name]
        assert kind == "failure" and text in message, (name, kind, message)
    kind, message = outcomes["test_chinese_locale"]  # zh_CN.UTF-8 is asked of the domestic profiles only
    assert kind == "skipped" and "not applicable to profile generic-linux" in message, message


def test_debian_memory_check_judges_the_loopback_sshd(outcomes):
    # PID 1 is no systemd and no journald runs: a FAIL naming them, with sshd's own figures steady.
    kind, message = outcomes["test_key_services_memory_steady"]
    assert kind == "failure", (kind, message)
    assert "systemd: not running (no process named 'systemd' in /proc)" in message, message
    assert "systemd-journald: not running (no process named 'systemd-journal' in /proc)" in message, message
    assert "(steady: sshd (pid " in message and "RssAnon" in message, message


def test_debian_is_never_crashed_for_kdump(outcomes):
    for name in ("test_crash_is_captured", "test_dump_is_a_memory_image", "test_crash_log_saved"):
        kind, message = outcomes[name]
        assert kind == "skipped" and "does not declare the capability" in message, (name, kind, message)


def test_debian_is_never_reset_nor_cut_off(outcomes):
    for name in ("test_unfed_watchdog_resets_the_device", "test_device_recovers_from_the_watchdog_reset"):
        kind, message = outcomes[name]
        assert kind == "skipped" and "does not declare the capability" in message, (name, kind, message)
    for name in ("test_synced_file_survives_the_power_cut", "test_journal_recovers_cleanly_after_the_power_cut",
                 "test_fsck_finds_no_error_after_the_power_cut", "test_device_recovers_from_the_power_cut"):
        kind, message = outcomes[name]
        assert kind == "skipped" and "the lab has no power control of this device" in message, (name, kind, message)
