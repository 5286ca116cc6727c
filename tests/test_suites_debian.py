"""The identity, kernel and crypto suites against a real peer: a loopback OpenSSH sshd on this Debian machine.
Pins what the real system gives: Debian 12 identity, a config.gz built for the running kernel that
meets the fragments, and kABI SKIPped (with the reason) on x86_64, which has no whitelist."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.lab.sshd import OpenSshServer

pytestmark = pytest.mark.peer("sshd")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("debian")
    with OpenSshServer() as sshd:
        inventory = tmp / "devices.toml"
        inventory.write_text(
            '[devices.debian-loop]\nkind = "board"\nprofile = "generic-linux"\n'
            f'ssh = {{ host = "127.0.0.1", port = {sshd.port}, user = "{sshd.user}", '
            f'key_file = "{sshd.client_key}", known_hosts = "{sshd.known_hosts}" }}\n'
            'declared = { os_name = "Debian GNU/Linux", os_version = "12", arch = "x86_64" }\n'
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
                "suites/crypto",
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
