"""Unit tests of harness.checks: the pure parsers and rules, on hand-written input and on the real
data of this Debian machine (its /proc) and of the lab personas' files."""

from __future__ import annotations

import datetime as dt
import gzip
import socket
from pathlib import Path

import pytest

from harness.checks import (
    kabi,
    kconfig,
    kfeatures,
    kversion,
    logscan,
    netports,
    osinfo,
    patchlevel,
    perf,
    procinfo,
    reads,
    security,
    suite_data,
    taint,
)
from harness.checks.applicability import not_applicable_reason
from harness.suites import Requirement, Suite

PERSONAS = Path(__file__).resolve().parent.parent / "harness" / "lab" / "personas"

CONFIG = """\
#
# Linux/arm64 5.10.0-182.oe2203.aarch64 Kernel Configuration
#
CONFIG_LOCALVERSION=""
CONFIG_MODULES=y
CONFIG_EXT4_FS=m
CONFIG_HZ=250
CONFIG_CMDLINE="console=ttyS0"
# CONFIG_DEVMEM is not set
# CONFIG_OF is not set
CONFIG_ACPI=y
"""


# -- kernel config and fragments -------------------------------------------------------------------


def test_parse_kconfig_values_and_not_set():
    config = kconfig.parse_kconfig(CONFIG)
    assert config["CONFIG_EXT4_FS"] == "m"
    assert config["CONFIG_HZ"] == "250"
    assert config["CONFIG_CMDLINE"] == '"console=ttyS0"'
    assert config["CONFIG_DEVMEM"] == "n"
    assert "CONFIG_KPROBES" not in config


@pytest.mark.parametrize(
    ("rule", "holds"),
    [
        ("CONFIG_OF=y | CONFIG_ACPI=y", True),  # the OR rule: ACPI alone satisfies it
        ("CONFIG_OF=y", False),
        ("CONFIG_EXT4_FS", True),  # set at all: =m counts
        ("CONFIG_EXT4_FS=y", False),  # =y exactly: =m does not
        ("CONFIG_EXT4_FS=m", True),
        ("# CONFIG_DEVMEM is not set", True),
        ("!CONFIG_KPROBES", True),  # absent counts as not set
        ("!CONFIG_MODULES", False),
        ("CONFIG_HZ=250", True),
        ("CONFIG_HZ=1000", False),
        ('CONFIG_CMDLINE="console=ttyS0"', True),
        ("CONFIG_CMDLINE=console=ttyS0", False),  # quotes are part of the value
        ("CONFIG_MODULE_SIG=y | # CONFIG_MODULES is not set", False),
    ],
)
def test_fragment_rules(rule: str, holds: bool):
    (parsed,) = kconfig.parse_fragment(rule)
    assert parsed.holds(kconfig.parse_kconfig(CONFIG)) is holds


def test_rule_kinds_and_comments():
    rules = kconfig.parse_fragment(
        "# a comment\nCONFIG_A=y | CONFIG_B=m\n# CONFIG_C is not set\n!CONFIG_D | # CONFIG_E is not set\n"
        "CONFIG_HZ=250 | # CONFIG_F is not set\n\n",
        "frag",
    )
    assert [r.kind for r in rules] == [
        kconfig.RuleKind.REQUIRED,
        kconfig.RuleKind.FORBIDDEN,
        kconfig.RuleKind.FORBIDDEN,
        kconfig.RuleKind.VALUE,
    ]
    assert rules[0].source == "frag:2"


def test_bad_fragment_line_names_file_and_line():
    with pytest.raises(kconfig.FragmentError, match="frag:2"):
        kconfig.parse_fragment("CONFIG_A=y\nCONFIG_B=\n", "frag")
    with pytest.raises(kconfig.FragmentError):
        kconfig.parse_fragment("OF=y")


def test_failing_rules_describe_what_the_kernel_has():
    rules = kconfig.parse_fragment("CONFIG_OF=y | CONFIG_DT=y\n")
    config = kconfig.parse_kconfig(CONFIG)
    (bad,) = kconfig.failing_rules(rules, config, kconfig.RuleKind.REQUIRED)
    assert "CONFIG_OF=n" in bad.describe(config) and "CONFIG_DT=absent" in bad.describe(config)


def test_config_belongs_to_running_kernel():
    assert kconfig.config_header(CONFIG) == ("arm64", "5.10.0-182.oe2203.aarch64")
    assert kconfig.config_is_for(CONFIG, "5.10.0-182.oe2203.aarch64")
    assert not kconfig.config_is_for(CONFIG, "5.10.0-182.oe2203.aarch6")
    local = CONFIG.replace('CONFIG_LOCALVERSION=""', 'CONFIG_LOCALVERSION="-fc"').replace(
        "5.10.0-182.oe2203.aarch64", "6.1.2"
    )
    assert kconfig.config_is_for(local, "6.1.2-fc")
    assert kconfig.config_is_for(local, "6.1.2-fc+")
    assert not kconfig.config_is_for(local, "6.1.20-fc")
    assert not kconfig.config_is_for("CONFIG_A=y\n", "6.1.2")  # no header: cannot be trusted


def test_debian_abi_named_config_counts_only_when_installed_under_the_release():
    """Debian's /boot/config-6.1.0-56-arm64 says 6.1.192 in its header (the QEMU board's real case)."""
    debian = CONFIG.replace("5.10.0-182.oe2203.aarch64", "6.1.192")
    assert not kconfig.config_is_for(debian, "6.1.0-56-arm64")  # /proc/config.gz or a copy: no proof
    assert kconfig.config_is_for(debian, "6.1.0-56-arm64", named_for_release=True)
    # Named after the release, but another kernel series inside: a stale or foreign file.
    assert not kconfig.config_is_for(debian, "6.12.0-1-arm64", named_for_release=True)
    assert not kconfig.config_is_for(debian, "5.1.0-56-arm64", named_for_release=True)
    assert not kconfig.config_is_for("CONFIG_A=y\n", "6.1.0-56-arm64", named_for_release=True)


def test_real_host_config_gz():
    """This machine's own /proc/config.gz: a real config, for the real running kernel."""
    text = gzip.decompress(Path("/proc/config.gz").read_bytes()).decode()
    config = kconfig.parse_kconfig(text)
    assert config["CONFIG_IKCONFIG_PROC"] == "y"
    assert kconfig.config_is_for(text, Path("/proc/sys/kernel/osrelease").read_text().strip())
    assert len(config) > 1000


def test_persona_config_fails_exactly_on_planted_defects():
    suites = Path(__file__).resolve().parent.parent / "suites" / "kernel" / "data" / "kconfig"
    rules = kconfig.parse_fragment((suites / "base.config").read_text(), "base.config")
    (bad_path,) = (PERSONAS / "nonconforming-board" / "files" / "boot").glob("config-*")
    (good_path,) = (PERSONAS / "euler-ft2000" / "files" / "boot").glob("config-*")
    bad = kconfig.parse_kconfig(bad_path.read_text())
    good = kconfig.parse_kconfig(good_path.read_text())
    assert kconfig.failing_rules(rules, good, kconfig.RuleKind.REQUIRED) == []
    failing = {str(r) for r in kconfig.failing_rules(rules, bad, kconfig.RuleKind.REQUIRED)}
    assert failing == {"CONFIG_STACKPROTECTOR_STRONG=y", "CONFIG_MODULE_SIG=y | # CONFIG_MODULES is not set"}


def test_fragment_spec_selection():
    spec = kconfig.FragmentSpec("x", profiles=("openeuler",), os_versions=("22.03*",), min_kernel="5.10")
    assert spec.applies("openeuler", "linux", "22.03", "5.10.0-182")
    assert not spec.applies("openeuler", "linux", "20.03", "5.10.0")
    assert not spec.applies("openeuler", "linux", "22.03", "4.19.90")
    assert not spec.applies("kylin", "linux", "22.03", "5.10.0")
    assert kconfig.FragmentSpec("y", max_kernel="5.0").applies("a", "b", "c", "4.19.90")


# -- kernel version, taint, kABI -------------------------------------------------------------------


def test_kernel_versions_compare_numerically():
    assert kversion.parse_kernel_version("5.10.110-rockchip") == kversion.KernelVersion(5, 10, 110)
    assert kversion.parse_kernel_version("6.6") == kversion.KernelVersion(6, 6, 0)
    assert kversion.at_least("5.10.0-182", "5.10")
    assert not kversion.at_least("4.19.90", "5.4")
    assert kversion.at_least("5.10.0", "5.9.99")  # not string order
    with pytest.raises(ValueError):
        kversion.parse_kernel_version("Linux")


def test_taint_decoding():
    assert taint.decode_taint(0) == []
    assert [f.letter for f in taint.decode_taint(1 | (1 << 7) | (1 << 12))] == ["P", "D", "O"]
    assert [f.letter for f in taint.forbidden_taints((1 << 9) | (1 << 5), ["D", "B"])] == ["B"]
    assert taint.decode_taint(1 << 40)[0].letter == "?"  # an unknown bit is not lost
    assert taint.parse_taint("4097\n") == 4097
    with pytest.raises(ValueError):
        taint.parse_taint("tainted")
    with pytest.raises(ValueError):
        taint.forbidden_taints(0, ["Z"])
    assert taint.parse_taint(Path("/proc/sys/kernel/tainted").read_text()) >= 0


def test_kabi_exact_tokens_never_substrings():
    whitelist = kabi.parse_symbol_list("# stable\n__kmalloc\nkfree  # freed\n")
    exported = kabi.exported_from_kallsyms(
        "0000000000000000 r __ksymtab___kmalloc\n0000000000000000 r __ksymtab_kmalloc_node\n"
        "0000000000000000 T kmalloc\n"
    )
    assert exported == {"__kmalloc", "kmalloc_node"}  # plain T symbols are not exports
    verdict = kabi.check_kabi({"kmalloc", "__kmalloc", "kfree"}, whitelist, exported)
    assert verdict.not_whitelisted == ("kmalloc",)  # not matched by __kmalloc
    assert verdict.not_exported == ("kfree",)
    assert not verdict.ok
    assert kabi.check_kabi({"__kmalloc"}, whitelist, exported).ok


def test_module_symvers_and_arch_whitelists(tmp_path: Path):
    text = (
        "0x12345678\tkfree\tvmlinux\tEXPORT_SYMBOL\t\n0x9abcdef0\tsnd_x\tsound/core\tEXPORT_SYMBOL_GPL\tSND\n"
    )
    assert kabi.parse_module_symvers(text) == {"kfree", "snd_x"}
    (tmp_path / "whitelist-arm64.txt").write_text("kfree\n")
    assert kabi.load_whitelist(tmp_path, "aarch64") == {"kfree"}
    assert kabi.load_whitelist(tmp_path, "x86_64") is None  # no whitelist: no verdict, never a pass
    with pytest.raises(ValueError, match="not a symbol"):
        kabi.parse_symbol_list("kfree()\n")


# -- identity sources --------------------------------------------------------------------------------


def test_os_release_parsing_real_and_quoted():
    parsed = osinfo.parse_os_release(Path("/etc/os-release").read_text())
    assert parsed["ID"] == "debian" and parsed["VERSION_ID"] == "12"
    tricky = osinfo.parse_os_release('NAME=\'Kylin Linux\'\nVERSION="V10 (Lance)"\nBAD="unbalanced\n#X=1\n')
    assert tricky == {"NAME": "Kylin Linux", "VERSION": "V10 (Lance)"}


def test_property_sources():
    props = osinfo.parse_properties("# c\nro.a=1\nro.b = two words \nro.a=3\n")
    assert props == {"ro.a": "3", "ro.b": "two words"}
    assert osinfo.parse_getprop_dump("[ro.a]: [1]\n[ro.b]: []\njunk\n") == {"ro.a": "1", "ro.b": ""}


def test_versions_and_fingerprints():
    assert osinfo.same_version("22.03", "22.03.0") and not osinfo.same_version("22.03", "22.09")
    assert not osinfo.same_version("", "")
    assert osinfo.version_from_release_line("openEuler release 22.03 (LTS-SP3)") == "22.03"
    android = r"[^/\s]+/[^/\s]+/[^/:\s]+:[^/\s]+/[^/\s]+/[^/:\s]+:(user|userdebug|eng)/[^/\s]+"
    good = "Exemplar/EXN-AL00/EXN:12/EXAMPLEEXN-AL00/104.2.0.150C00:user/release-keys"
    assert osinfo.fingerprint_matches(good, android)
    assert not osinfo.fingerprint_matches(good + " extra", android)  # whole string, not a prefix
    assert not osinfo.fingerprint_matches("", ".*")
    assert osinfo.split_abilist("arm64-v8a, armeabi-v7a,,") == ["arm64-v8a", "armeabi-v7a"]


def test_patch_level_age():
    today = dt.date(2026, 11, 27)
    assert patchlevel.age_in_months(patchlevel.parse_patch_level("2026-10-01"), today) == 1
    assert patchlevel.age_in_months(patchlevel.parse_patch_level("2026-05-28"), today) == 5  # day not reached
    assert patchlevel.too_old("2020-03", today, 48) == (True, 80)
    for bad in ("2024-13-01", "20240301", "", "2024-02-30"):
        with pytest.raises(ValueError):
            patchlevel.parse_patch_level(bad)
    assert patchlevel.kernel_build_date("#1 SMP PREEMPT Tue Mar 26 10:12:41 CST 2024") == dt.date(2024, 3, 26)
    assert patchlevel.date_prefix("2023-12-27-18-46-31") == dt.date(2023, 12, 27)
    with pytest.raises(ValueError):
        patchlevel.kernel_build_date("#1 SMP PREEMPT_DYNAMIC @0")  # this machine's kernel: no date
    # Debian's kernels (the QEMU board's) give the package date, ISO, in parentheses at the end.
    debian = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)"
    assert patchlevel.kernel_build_date(debian) == dt.date(2026, 11, 16)
    with pytest.raises(ValueError):
        patchlevel.kernel_build_date("#1 SMP Debian 6.1.192-2 (2026-13-16)")
    with pytest.raises(ValueError):
        patchlevel.kernel_build_date("#1 SMP Debian 6.1.192-2 (2026-11-16) extra")


# -- /proc parsing -------------------------------------------------------------------------------------


def test_cpuinfo_real_and_arm():
    import os

    real = procinfo.parse_cpuinfo(Path("/proc/cpuinfo").read_text())
    assert real.processors == os.cpu_count()
    (arm,) = [PERSONAS / "handset-hmos" / "files" / "proc" / "cpuinfo"]
    info = procinfo.parse_cpuinfo(arm.read_text())
    assert info.processors == 8 and {"fp", "asimd"} <= info.features and info.model == "Exemplar EX9000"
    assert procinfo.parse_cpu_list("0-3,6,8-9\n") == 7


def test_meminfo_and_tolerance():
    mem = procinfo.parse_meminfo(Path("/proc/meminfo").read_text())
    assert mem["MemTotal"] > 0 and "HugePages_Total" in mem
    assert procinfo.mem_total_mb({"MemTotal": 3969052}) == 3876
    assert procinfo.within_tolerance(3876, 4096, 0.12)
    assert not procinfo.within_tolerance(3000, 4096, 0.12)
    assert not procinfo.within_tolerance(8192, 4096, 0.12)  # more than installed is wrong too
    with pytest.raises(ValueError):
        procinfo.mem_total_mb({})


def test_sysfs_values_and_df():
    assert procinfo.parse_millidegrees("45500\n") == 45.5
    with pytest.raises(ValueError):
        procinfo.parse_millidegrees("hot")
    assert procinfo.split_nul_list("rockchip,rk3568-evb\x00rockchip,rk3568\x00") == [
        "rockchip,rk3568-evb",
        "rockchip,rk3568",
    ]
    df = "Filesystem 1K-blocks Used Available Use% Mounted on\n/dev/vda 263112772 5123 250000000 3% /\n"
    assert procinfo.parse_df_available_kb(df) == 250000000
    wrapped = (
        "Filesystem 1K-blocks Used Available Use% Mounted on\n/dev/mapper/very-long\n  100 40 60 40% /\n"
    )
    assert procinfo.parse_df_available_kb(wrapped) == 60


def test_kernel_features_real():
    filesystems = kfeatures.parse_filesystems(Path("/proc/filesystems").read_text())
    assert {"proc", "sysfs", "ext4"} <= filesystems
    assert "nodev" not in filesystems
    cgroups = kfeatures.parse_cgroup_v1(
        "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t1\t1\t1\nrdma\t0\t1\t0\n"
    )
    assert cgroups == {"cpu"}
    assert kfeatures.missing_any_of(["cpu", ["freezer", "cgroup2"]], {"cpu", "cgroup2"}) == []
    assert kfeatures.missing_any_of([["a", "b"]], set()) == ["a | b"]
    assert kfeatures.parse_namespaces("lrwxrwxrwx 1 root root 0 ipc -> 'ipc:[1]'\nnet\n") == {"ipc", "net"}


def test_listening_ports_from_a_real_socket():
    """A socket this test opens must show up in the real /proc/net/tcp with its address and port."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        ports = netports.parse_proc_net(Path("/proc/net/tcp").read_text(), "tcp")
    mine = [p for p in ports if p.port == port]
    assert mine == [netports.ListeningPort("tcp", "127.0.0.1", port)] and mine[0].loopback_only
    assert netports.unexpected_ports(mine, [], ignore_loopback=True) == []
    assert netports.unexpected_ports(mine, [], ignore_loopback=False) == mine


def test_tcp6_address_decoding():
    table = (
        "  sl  local_address                         remote_address                        st\n"
        "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A\n"
        "   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A\n"
        "   2: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 01\n"
    )
    ports = netports.parse_proc_net(table, "tcp6")
    assert [str(p) for p in ports] == ["tcp6 [::]:22", "tcp6 [::1]:8080"]


# -- logs, perf, security ------------------------------------------------------------------------------


def test_log_faults_match_kernel_output_not_prose():
    log = "\n".join(
        [
            "[  1.0] Internal error: Oops: 96000005 [#1] PREEMPT SMP",
            "[  2.0] BUG: kernel NULL pointer dereference, address: 0000000000000008",
            "[  3.0] Kernel panic - not syncing: Fatal exception",
            "[  4.0] Oops: 0002 [#1] SMP",
            "[  5.0] usb 1-1: debug info, see BUG_ON docs",
            "[  6.0] Oops, the widget service restarted",
            "[  7.0] kernel BUG at mm/slub.c:123!",
        ]
    )
    faults = logscan.find_faults(log, "kernel")
    assert [f.kind for f in faults] == ["oops", "bug", "panic", "oops", "kernel_bug"]
    assert logscan.find_faults(log, "kernel", ["panic"])[0].line.endswith("Fatal exception")
    for persona in ("euler-ft2000", "nonconforming-board", "ohos-rk3568"):
        text = (PERSONAS / persona / "persona.toml").read_text()
        assert logscan.find_faults(text, persona) == []  # the personas' logs are clean


def test_dd_and_timing_parsing():
    gnu = "16777216 bytes (17 MB, 16 MiB) copied, 0.0412 s, 407 MB/s"
    busybox = "16+0 records in\n16+0 records out\n16777216 bytes (16.0MB) copied, 0.050000 seconds, 320.0MB/s"
    assert perf.parse_dd_stats(gnu) == perf.Transfer(16777216, 0.0412)
    assert perf.parse_dd_stats(busybox).mb_per_s == pytest.approx(335.5, rel=0.01)
    assert perf.parse_dd_stats("nothing") is None
    threshold = perf.threshold_from({"x_min": 5}, "x")
    assert threshold.holds(5) and not threshold.holds(4.9)
    with pytest.raises(KeyError):
        perf.threshold_from({}, "x")


def test_security_evaluations():
    assert security.selinux_state("1\n", None).enforcing is True
    assert security.selinux_state(None, "Permissive").enforcing is False
    assert security.selinux_state(None, None).enforcing is None
    assert security.lsm_listed("capability,yama,selinux", "selinux")
    assert not security.lsm_listed("capability,selinuxish", "selinux")
    assert security.user_build_problems({"ro.build.type": "user", "ro.debuggable": "0"}) == []
    problems = security.user_build_problems({"ro.build.type": "userdebug"})
    assert len(problems) == 2 and "missing" in problems[1]  # a missing ro.debuggable is a problem
    assert security.world_writable_violations(["/etc/a", "/etc/tmp/x", ""], ["/etc/tmp/*"]) == ["/etc/a"]


# -- data layering and applicability -----------------------------------------------------------------


def test_data_layers_merge_in_order():
    data = {
        "default": {"a": 1, "t": {"x": 1, "y": 1}},
        "family": {"linux": {"a": 2}},
        "profile": {"openeuler": {"t": {"y": 2}, "version": {"22.03*": {"a": 3}}}},
    }
    assert suite_data.resolve(data, "openeuler", "linux", "22.03") == {"a": 3, "t": {"x": 1, "y": 2}}
    assert suite_data.resolve(data, "openeuler", "linux", "20.03")["a"] == 2
    assert suite_data.resolve(data, "android", "android")["a"] == 1


def test_not_applicable_reason():
    suite = Suite(
        "s", "1", "t", "t", Path("."), {"R-1": Requirement("R-1", "MUST", "t", "t", profiles=("android",))}
    )
    assert not_applicable_reason(suite, ["R-1"], "android", "handset") is None
    reason = not_applicable_reason(suite, ["R-1"], "openeuler", "board")
    assert reason and "R-1 applies to profiles android" in reason
    assert not_applicable_reason(suite, ["R-404"], "openeuler", "board") is None  # never hides a test


def test_device_timings_parse_every_clock_and_never_invent_one():
    ns = perf.parse_timed("out\n@@T ns 1000000000 @ ns 1500000000\n")
    assert ns == perf.Timing(0.5, "date +%s%N", 1e-9) and ns.precise
    us = perf.parse_timed("@@T us 17 999900 @ us 18 100\n")
    assert us is not None and us.clock == "adjtimex" and us.seconds == pytest.approx(0.0002)
    coarse = perf.parse_timed("@@T cs 100.00 @ cs 100.05\n")
    assert coarse is not None and coarse.clock == "/proc/uptime" and not coarse.precise  # 10 ms of 50 ms
    assert perf.parse_timed("@@T cs 100.00 @ cs 101.00\n").precise
    # busybox date prints %N literally: that is no reading at all, never the link's time instead.
    assert perf.parse_timed("@@T0 1700000000%N\n@@T1 1700000001%N\n") is None
    assert perf.parse_timed("@@T ns 1 @ us 1 2\n") is None  # two different clocks
    assert perf.parse_timed("nothing") is None
    assert perf.sha256_digest("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  -\n@@T ns 1 @ ns 2")
    assert perf.sha256_digest("sha256sum: x: No such file") is None


class _LocalShell:
    """A device that is a real shell on this machine (dash, or busybox's ash)."""

    def __init__(self, *shell: str) -> None:
        self.shell = shell

    def run(self, cmd: str, timeout: float = 60):
        import subprocess
        import time

        from harness.transports.base import CommandResult

        t0 = time.monotonic()
        done = subprocess.run([*self.shell, "-c", cmd], capture_output=True, timeout=timeout)
        return CommandResult(cmd, done.returncode, done.stdout, done.stderr, time.monotonic() - t0)


def _shells():
    import shutil

    shells = [("dash",), ("sh",)]
    if shutil.which("busybox"):
        shells.append(("busybox", "sh"))
    return [s for s in shells if shutil.which(s[0])]


@pytest.mark.parametrize("shell", _shells(), ids=lambda s: " ".join(s))
def test_the_device_times_itself_with_the_best_clock_its_shell_has(shell):
    import shutil

    device = _LocalShell(*shell)
    result = device.run(perf.timed_script("sleep 0.3; echo done; false"))
    assert result.exit_code == 1 and result.stdout_text.startswith("done\n")  # the body's own exit code
    timing = perf.parse_timed(result.stdout_text)
    assert timing is not None and timing.precise, result.stdout_text
    assert 0.29 <= timing.seconds < result.duration + 0.01
    if shell[0] == "busybox":  # busybox date has no %N: its adjtimex applet gives microseconds
        assert device.run("date +%s%N").stdout_text.strip().endswith("%N")
        assert timing.clock == "adjtimex"
    else:
        assert timing.clock == "date +%s%N" or not shutil.which("date")


@pytest.mark.parametrize("shell", _shells(), ids=lambda s: " ".join(s))
def test_scratch_folder_falls_back_and_says_why_there_is_none(shell, tmp_path):
    device = _LocalShell(*shell)
    missing = str(tmp_path / "var-tmp")  # an initramfs without /var/tmp
    place = reads.make_scratch(device, (missing, str(tmp_path)), tag="perf")
    assert place.path is not None and place.path.startswith(f"{tmp_path}/perf.")
    assert Path(place.path).is_dir() and not place.problem
    (tmp_path / "file").write_text("not a folder")
    none = reads.make_scratch(device, (missing, str(tmp_path / "file")), tag="perf")
    assert none.path is None
    assert none.problem.startswith(f"no writable scratch folder among ['{missing}', ") and "no such folder" in none.problem


def test_failure_detail_is_never_empty():
    from harness.transports.base import CommandResult

    def detail(out: bytes, err: bytes, separate: bool = True) -> str:
        return reads.failure_detail(CommandResult("x", 1, out, err, 0.1, stderr_separate=separate))

    assert detail(b"", b"dd: can't open '/var/tmp/x': No such file or directory\n") == (
        "(exit 1): dd: can't open '/var/tmp/x': No such file or directory"
    )
    assert detail(b"partial\n", b"boom\n") == "(exit 1): boom (stdout: partial)"
    assert detail(b"merged: boom\n", b"", separate=False) == (
        "(exit 1): merged: boom (stdout and stderr merged by the link)"
    )
    assert detail(b"", b"") == "(exit 1): no output"
