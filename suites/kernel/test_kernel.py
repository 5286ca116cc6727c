"""Kernel: version, configuration (versioned fragments with OR rules), features, taint and kABI."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks import kabi, kconfig, kfeatures, kversion, reads, taint
from harness.checks.suite_data import load_toml, resolve_file

DATA = Path(__file__).parent / "data"
# A config path holding this is the file the distribution installed for the running release itself.
RELEASE = "$(uname -r)"


@pytest.fixture(scope="module")
def running_config(dut, ident):
    """The config the running kernel was built from: the first of the profile's sources whose header
    names the running release. A config for another kernel (a stale /boot file, a host's config.gz)
    is never used in its place."""
    assert ident.kernel, "uname -r gave no kernel release"
    found = reads.read_kernel_configs(dut, dut.profile.kernel_config_paths)
    for path, text in found:
        if kconfig.config_is_for(text, ident.kernel, named_for_release=RELEASE in path):
            return path, kconfig.parse_kconfig(text)
    others = [f"{p} ({' '.join(kconfig.config_header(t) or ('no header', ''))})" for p, t in found]
    pytest.fail(
        f"no kernel config for the running kernel {ident.kernel} "
        f"among {list(dut.profile.kernel_config_paths)}"
        + (f"; found configs of other kernels: {others}" if others else "")
    )


@pytest.fixture(scope="module")
def rules(dut, ident):
    index = load_toml(DATA / "kconfig" / "index.toml")
    selected: list[kconfig.Rule] = []
    for spec in kconfig.fragment_specs(index):
        if spec.applies(dut.profile.name, dut.profile.family, ident.os_version, ident.kernel):
            path = DATA / "kconfig" / spec.file
            selected += kconfig.parse_fragment(path.read_text(encoding="utf-8"), spec.file)
    assert selected, "no kernel config fragment applies to this device"
    return selected


@pytest.mark.requirement("KERN-VER-001")
def test_minimum_kernel_version(ident, suite_data):
    minimum = suite_data["min_kernel"]
    try:
        running = kversion.parse_kernel_version(ident.kernel)
    except ValueError as exc:
        pytest.fail(str(exc))
    assert running >= kversion.parse_kernel_version(minimum), f"kernel {ident.kernel} is older than {minimum}"


@pytest.mark.requirement("KERN-CFG-001")
def test_kernel_config_readable(running_config):
    path, config = running_config
    assert len(config) >= 20, f"{path} holds only {len(config)} options"


def _check_rules(rules, running_config, kind):
    path, config = running_config
    failing = kconfig.failing_rules(rules, config, kind)
    assert not failing, f"{len(failing)} {kind.value} rule(s) fail against {path}:\n" + "\n".join(
        r.describe(config) for r in failing
    )


@pytest.mark.requirement("KERN-CFG-002")
def test_required_options(rules, running_config):
    _check_rules(rules, running_config, kconfig.RuleKind.REQUIRED)


@pytest.mark.requirement("KERN-CFG-003")
def test_forbidden_options(rules, running_config):
    _check_rules(rules, running_config, kconfig.RuleKind.FORBIDDEN)


@pytest.mark.requirement("KERN-CFG-004")
def test_exact_values(rules, running_config):
    _check_rules(rules, running_config, kconfig.RuleKind.VALUE)


@pytest.mark.requirement("KERN-FS-001")
def test_filesystems(dut, suite_data):
    text = reads.read_file(dut, "/proc/filesystems")
    assert text, "/proc/filesystems is unreadable"
    unmet = kfeatures.missing_any_of(suite_data["filesystems"], kfeatures.parse_filesystems(text))
    assert not unmet, f"filesystems missing from /proc/filesystems: {unmet}"


@pytest.mark.requirement("KERN-CG-001")
def test_cgroup_controllers(dut, suite_data):
    present: set[str] = set()
    v1 = reads.read_file(dut, "/proc/cgroups")
    if v1:
        present |= kfeatures.parse_cgroup_v1(v1)
    v2 = reads.read_file(dut, "/sys/fs/cgroup/cgroup.controllers") or reads.read_file(
        dut, "/sys/fs/cgroup/unified/cgroup.controllers"
    )
    filesystems = kfeatures.parse_filesystems(reads.read_file(dut, "/proc/filesystems") or "")
    if v2 is not None:
        present |= kfeatures.parse_cgroup_v2(v2)
    if "cgroup2" in filesystems:
        present.add("cgroup2")
    assert present, "neither /proc/cgroups nor a cgroup2 cgroup.controllers file is readable"
    unmet = kfeatures.missing_any_of(suite_data["cgroup_controllers"], present)
    assert not unmet, f"cgroup controllers missing: {unmet} (present: {sorted(present)})"


@pytest.mark.requirement("KERN-NS-001")
def test_namespaces(dut, suite_data):
    listing = reads.list_dir(dut, "/proc/self/ns")
    assert listing is not None, "/proc/self/ns is not listable"
    unmet = kfeatures.missing(suite_data["namespaces"], set(listing))
    assert not unmet, f"namespaces missing from /proc/self/ns: {unmet}"


@pytest.fixture(scope="module")
def taint_mask(dut):
    text = reads.read_file(dut, "/proc/sys/kernel/tainted")
    assert text is not None, "/proc/sys/kernel/tainted is unreadable"
    try:
        return taint.parse_taint(text)
    except ValueError as exc:
        pytest.fail(str(exc))


@pytest.mark.requirement("KERN-TAINT-001")
def test_no_fault_taint(taint_mask, suite_data):
    bad = taint.forbidden_taints(taint_mask, suite_data["taint_forbidden"])
    assert not bad, f"kernel tainted ({taint_mask}): {taint.describe(bad)}"


@pytest.mark.requirement("KERN-TAINT-002")
def test_no_untolerated_taint(taint_mask, suite_data):
    flags = [f for f in taint.decode_taint(taint_mask) if f.letter not in suite_data["taint_tolerated"]]
    assert not flags, f"kernel tainted ({taint_mask}): {taint.describe(flags)}"


@pytest.fixture(scope="module")
def kabi_inputs(dut, ident):
    arch = kabi.normalize_arch(ident.arch)
    whitelist = kabi.load_whitelist(DATA / "kabi", arch)
    if whitelist is None:
        pytest.skip(
            f"no kABI whitelist for architecture {arch!r} ({kabi.whitelist_path(DATA / 'kabi', arch).name})"
        )
    needed_data = resolve_file(
        DATA / "kabi" / "needed.toml", dut.profile.name, dut.profile.family, ident.os_version
    )
    return whitelist, set(needed_data["symbols"]), needed_data["symvers"]


@pytest.mark.requirement("KERN-KABI-001")
def test_needed_symbols_exported(dut, kabi_inputs):
    _whitelist, needed, symvers_paths = kabi_inputs
    exported: set[str] = set()
    source = ""
    for path in symvers_paths:
        text = reads.read_any(dut, path)
        if text:
            exported, source = kabi.parse_module_symvers(text), path
            if exported:
                break
    if not exported:
        # Only the export table entries: kallsyms itself runs to megabytes.
        text = dut.run(f"grep ' {kabi.KSYMTAB_PREFIX}' /proc/kallsyms | head -c {reads.LARGE}").stdout_text
        exported, source = kabi.exported_from_kallsyms(text), "/proc/kallsyms"
    if not exported:
        listed = dut.run("head -n 1 /proc/kallsyms").stdout_text.strip()
        pytest.fail(
            f"no list of the kernel's exports on the device: none of {symvers_paths} is readable and "
            + (
                f"/proc/kallsyms has no {kabi.KSYMTAB_PREFIX} entries (a kernel built without "
                "CONFIG_KALLSYMS_ALL lists none there)"
                if listed
                else "/proc/kallsyms is unreadable"
            )
        )
    missing = sorted(needed - exported)
    assert not missing, f"not exported by the running kernel ({source}): {missing}"


@pytest.mark.requirement("KERN-KABI-002")
def test_needed_symbols_whitelisted(dut, kabi_inputs):
    _whitelist, needed, _paths = kabi_inputs
    # Which whitelist binds the vendor depends on the architecture the device runs: read it from the
    # device, so the PASS says for which kernel it holds.
    machine = reads.first_line(dut, "uname -m")
    assert machine, "uname -m printed no architecture"
    arch = kabi.normalize_arch(machine)
    whitelist = kabi.load_whitelist(DATA / "kabi", arch)
    if whitelist is None:
        pytest.skip(f"no kABI whitelist for architecture {arch!r} (uname -m: {machine})")
    verdict = kabi.check_kabi(needed, whitelist, exported=needed)
    assert not verdict.not_whitelisted, (
        f"needed but not on the {arch} kABI whitelist: {list(verdict.not_whitelisted)}"
    )


@pytest.mark.requirement("KERN-SYSCTL-001")
def test_aslr_full(dut):
    value = reads.read_file(dut, "/proc/sys/kernel/randomize_va_space")
    assert value is not None, "/proc/sys/kernel/randomize_va_space is unreadable"
    assert value.strip() == "2", f"kernel.randomize_va_space is {value.strip()!r}, expected 2"
