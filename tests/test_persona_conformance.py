"""The simulated lab's personas against the real compatibility suites, end to end over SSH.

Each persona runs in its own sandbox behind a SimulatedSshServer (real paramiko server, real SSH client
in the harness, pinned host key); the suites run in a real pytest subprocess with the harness plugin,
exactly as `harness run` would start them. The conforming personas must show no FAIL; the
non-conforming board must FAIL on exactly the requirements its [[defects]] name, and nowhere else.

Every suite on disk runs (found as `harness run` finds them), but those LEFT_OUT names with the reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.checks.coverage import requirement_markers
from harness.checks.smcrypto import SHARED_KERNEL_TAG
from harness.lab.persona import Persona, load_persona
from harness.lab.sandbox.namespaces import Sandbox
from harness.lab.ssh.server import SimulatedSshServer
from harness.lab.ssh.session import ExecRunner
from harness.suites import discover_suites

REPO = Path(__file__).resolve().parent.parent
# Suites the personas are not run against, each with the reason (a new suite runs unless it is named here).
LEFT_OUT = {
    "stability": "it reboots the device, which needs the full lab's reboot handling (tests/test_lab.py)",
}
SUITE_PATHS = {id_: suite.path for id_, suite in sorted(discover_suites(REPO / "suites").items())
               if id_ not in LEFT_OUT}
SUITES = tuple(SUITE_PATHS)
# The stability suite's modules that never reboot a persona: the memory check, and kdump, which is
# undeclared (SKIP) on the conforming personas and never crashes the non-conforming board (no crash
# kernel loaded: a FAIL before any crash).
EXTRA_PATHS = {"stability/memleak": REPO / "suites/stability/test_memleak.py",
               "stability/kdump": REPO / "suites/stability/test_kdump.py"}
SUITE_PATHS.update(EXTRA_PATHS)
# What the bench declares the personas have beyond their OS (devices.toml says the same).
DECLARED_CAPABILITIES = {"nonconforming-board": ["kdump-capture"]}
CONFORMING = ("ohos-rk3568", "handset-hmos", "euler-ft2000", "kylin-v10")
# Requirements whose outcome depends on the machine the lab runs on, left out of the outcome checks: none
# (each device has its own network namespace, so SEC-NET-002's port inventory sees only its own sockets,
# and the kernel crypto API, the host's, is SKIPped on every persona: they are tagged SHARED_KERNEL_TAG).
HOST_DEPENDENT: frozenset[str] = frozenset()
PASSWORD_ENV = "HARNESS_CONFORMANCE_PW"
PASSWORD = "conformance-board-pw"
# What the bench declares about each persona's OS (a lab engineer writes this into devices.toml).
DECLARED_OS = {
    "ohos-rk3568": ("OpenHarmony", "4.1.7.5"),
    "handset-hmos": ("HarmonyOS", "4.2.0"),
    "euler-ft2000": ("openEuler", "22.03"),
    "kylin-v10": ("Kylin Linux Advanced Server", "V10"),
    "nonconforming-board": ("openEuler", "20.03"),
}


@dataclass(frozen=True)
class SuiteRun:
    """Outcomes of one device's suite run, by requirement id."""

    outcomes: dict[str, set[str]]
    messages: dict[str, list[str]]
    output: str

    def with_outcome(self, outcome: str) -> set[str]:
        """Requirements with at least one test of this outcome, host-dependent ones left out."""
        return {req for req, seen in self.outcomes.items() if outcome in seen and req not in HOST_DEPENDENT}


def declared_cpus(persona: Persona) -> int:
    text = (persona.files_dir / "proc/cpuinfo").read_text()
    return sum(1 for line in text.splitlines() if line.split(":")[0].strip() == "processor")


def declared_memory_mb(persona: Persona) -> int:
    """The installed size a bench declares: MemTotal rounded up to a whole GiB."""
    for line in (persona.files_dir / "proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mb = int(line.split()[1]) // 1024
            return -(-mb // 1024) * 1024
    raise AssertionError(f"{persona.id}: no MemTotal in its /proc/meminfo")


def inventory_text(persona: Persona, server: SimulatedSshServer) -> str:
    os_name, os_version = DECLARED_OS[persona.id]
    return f"""
[devices.{persona.id}]
kind = "{persona.device_kind}"
profile = "{persona.os_profile}"
vendor = "{persona.vendor}"
model = "{persona.model}"
soc = "{persona.soc}"
tags = {json.dumps([SHARED_KERNEL_TAG])}

[devices.{persona.id}.declared]
os_name = "{os_name}"
os_version = "{os_version}"
arch = "{persona.uname.machine}"
cpu_count = {declared_cpus(persona)}
memory_mb = {declared_memory_mb(persona)}
capabilities = {json.dumps(DECLARED_CAPABILITIES.get(persona.id, []))}

[devices.{persona.id}.ssh]
host = "{server.host}"
port = {server.port}
user = "root"
password_env = "{PASSWORD_ENV}"
host_key = "{server.fingerprint}"
"""


def run_suites(persona_name: str, work: Path, suites: tuple[str, ...] = tuple(SUITE_PATHS)) -> SuiteRun:
    """Boot the persona behind an SSH server and run the suites on it in a pytest subprocess."""
    persona = load_persona(persona_name)
    sandbox = Sandbox(persona, work / "device")
    try:
        sandbox.start()
        runner = ExecRunner(argv_for=sandbox.command_argv)
        (work / "scratch").mkdir()
        with SimulatedSshServer(password=PASSWORD, runner=runner, root=work / "scratch") as server:
            inventory = work / "devices.toml"
            inventory.write_text(inventory_text(persona, server))
            run_dir = work / "run"
            argv = [sys.executable, "-m", "pytest", *(str(SUITE_PATHS[s]) for s in suites),
                    "--device", persona.id, "--inventory", str(inventory), "--harness-run-dir", str(run_dir),
                    "-q", "-p", "no:cacheprovider", "-o", "addopts="]
            env = {**os.environ, PASSWORD_ENV: PASSWORD}
            env.pop("HARNESS_REQUIRE_PEERS", None)  # the suites' SKIPs are verdicts, not missing peers
            proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    finally:
        sandbox.cleanup()
    outcomes: dict[str, set[str]] = defaultdict(set)
    messages: dict[str, list[str]] = defaultdict(list)
    for journal in sorted((run_dir / "journal").glob("*.jsonl")):
        for line in journal.read_text().splitlines():
            record = json.loads(line)
            if record.get("type") != "result":
                continue
            for req in record["requirements"] or [record["test_id"]]:
                outcomes[req].add(record["outcome"])
                if record["outcome"] != "PASS":
                    messages[req].append(f"{record['outcome']} {record['test_id']}: {record.get('message')}")
    return SuiteRun(dict(outcomes), dict(messages), proc.stdout[-4000:] + proc.stderr[-4000:])


def persona_is_board(name: str) -> bool:
    return load_persona(name).device_kind == "board"


RUN_REQUIREMENTS = {req for id_, suite in discover_suites(REPO / "suites").items() if id_ in SUITES
                    for req in suite.requirements} | {
    req for module in EXTRA_PATHS.values() for reqs in requirement_markers(module).values() for req in reqs}


def expected_failures(persona: Persona) -> set[str]:
    """The defects' requirements in what runs here (the watchdog and power-cut ones are
    tests/test_lab_recovery.py's: they reset the device)."""
    return {req for defect in persona.defects for req in defect.requirements if req in RUN_REQUIREMENTS}


def _explain(run: SuiteRun, reqs: set[str]) -> str:
    return "\n".join(m for r in sorted(reqs) for m in run.messages.get(r, [r]))


@pytest.mark.parametrize("name", CONFORMING)
def test_conforming_persona_passes_every_suite(name: str, tmp_path: Path) -> None:
    run = run_suites(name, tmp_path)
    assert run.outcomes, f"no results recorded:\n{run.output}"
    bad = run.with_outcome("FAIL") | run.with_outcome("ERROR") | run.with_outcome("NOT_RUN")
    assert not bad, f"{name} fails or errors on {sorted(bad)}:\n{_explain(run, bad)}"
    # The hardware checks the personas' /sys, /boot and device tree were made for ran and passed.
    passed = run.with_outcome("PASS")
    assert {"KERN-CFG-001", "KERN-CFG-002", "KERN-CFG-003", "KERN-CFG-004", "HW-CPU-003", "HW-THERM-001",
            "SEC-PATCH-001"} <= passed, sorted(passed)
    if persona_is_board(name):
        assert {"HW-WDT-001", "HW-RTC-001", "HW-DT-001", "HW-DT-002"} <= passed, sorted(passed)
    if load_persona(name).os_profile in ("openeuler", "kylin"):
        assert {"KERN-KABI-001", "KERN-KABI-002", "ID-OS-002", "ID-FP-001", "ID-FP-002"} <= passed
    # The device's own network namespace: its port inventory holds only its own sockets.
    assert "SEC-NET-002" in passed
    # Its key services run from boot and keep their memory; kdump capture is not declared: a SKIP.
    assert "STAB-MEM-001" in passed
    assert run.outcomes["STAB-KDUMP-001"] == {"SKIP"}
    # Its own network namespace has a unique-local IPv6 address (NET-IP6-003).
    assert "NET-IP6-003" in passed
    persona = load_persona(name)
    if persona.os_profile in ("openeuler", "kylin"):
        assert {"NET-DNS-001", "CRYPTO-U-SM3-002", "CRYPTO-U-SM4-002"} <= passed, sorted(passed)
    if persona.os_profile == "openharmony":
        assert "CRYPTO-OHOS-001" in passed
    _kernel_crypto_skipped_for_the_shared_kernel(run, persona)


KERNEL_CRYPTO = ("CRYPTO-K-SM3-001", "CRYPTO-K-SM4-001", "CRYPTO-K-SM2-001", "CRYPTO-K-SELF-001",
                 "CRYPTO-K-ACCEL-001", "CRYPTO-K-AFALG-001")


def _kernel_crypto_skipped_for_the_shared_kernel(run: SuiteRun, persona: Persona) -> None:
    """The kernel crypto API a sandbox shows is the lab host's: a SKIP naming that, never a PASS or FAIL
    (a profile without national cryptography SKIPs them for that reason first)."""
    for req in KERNEL_CRYPTO:
        assert run.outcomes[req] == {"SKIP"}, (req, run.outcomes[req])
        if persona.os_profile != "harmonyos":
            assert all("shares the lab host's kernel" in m for m in run.messages[req]), run.messages[req]


def test_nonconforming_board_fails_exactly_on_its_planted_defects(tmp_path: Path) -> None:
    persona = load_persona("nonconforming-board")
    expected = expected_failures(persona)
    assert all(defect.requirements for defect in persona.defects), "a defect names no requirement it breaks"
    run = run_suites(persona.id, tmp_path)
    errors = run.with_outcome("ERROR") | run.with_outcome("NOT_RUN")
    assert not errors, _explain(run, errors)
    failed = run.with_outcome("FAIL")
    [leak] = run.messages["STAB-MEM-001"]
    # Its leak, or (the leaker restarts at 64 MiB, as a service killed for its size would) the restart.
    assert "systemd-journald" in leak and ("a steady rise beyond the bound of " in leak
                                           or "restarted during the sampling" in leak), leak
    _kernel_crypto_skipped_for_the_shared_kernel(run, persona)
    [kdump] = run.messages["STAB-KDUMP-001"]
    assert "no crash was forced, it could not be captured: /sys/kernel/kexec_crash_loaded is '0'" in kdump, kdump
    assert failed == expected, (
        f"unexpected FAILs {sorted(failed - expected)}, missing FAILs {sorted(expected - failed)}:\n"
        + _explain(run, failed ^ expected)
    )


def test_the_suites_are_found_on_disk_and_only_real_ones_are_left_out() -> None:
    found = set(discover_suites(REPO / "suites"))
    assert set(LEFT_OUT) <= found, f"LEFT_OUT names suites that do not exist: {sorted(set(LEFT_OUT) - found)}"
    assert set(SUITES) == found - set(LEFT_OUT) and {"identity", "kernel", "security"} <= set(SUITES)
    assert all(path.is_file() for path in EXTRA_PATHS.values())
