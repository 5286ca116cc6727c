"""Hardware: what the board has matches its declaration and the OS drives it."""

from __future__ import annotations

import re
import secrets
import shlex

import pytest

from harness.checks import procinfo, reads

# uname -m -> what /proc/cpuinfo shows for that architecture.
CPUINFO_MARKERS = {
    "aarch64": ("features", {"fp", "asimd"}),
    "x86_64": ("features", {"lm"}),
    "armv7l": ("features", {"vfp"}),
    "riscv64": ("isa", set()),
}


@pytest.fixture(scope="module")
def cpuinfo(dut):
    text = reads.read_file(dut, "/proc/cpuinfo", limit=reads.LARGE)
    assert text, "/proc/cpuinfo is unreadable"
    return text


@pytest.fixture(scope="module")
def meminfo(dut):
    text = reads.read_file(dut, "/proc/meminfo")
    assert text, "/proc/meminfo is unreadable"
    return procinfo.parse_meminfo(text)


@pytest.mark.requirement("HW-CPU-001")
def test_cpu_count(dut, cpuinfo):
    declared = dut.spec.declared.cpu_count
    if declared is None:
        pytest.skip("the inventory declares no cpu_count for this device")
    count = procinfo.parse_cpuinfo(cpuinfo).processors
    dut.metric("cpu_count", count, "cpus", low=declared, high=declared)
    assert count == declared, f"/proc/cpuinfo lists {count} processors, declared {declared}"


@pytest.mark.requirement("HW-CPU-002")
def test_cpuinfo_matches_arch(ident, cpuinfo):
    info = procinfo.parse_cpuinfo(cpuinfo)
    assert info.processors >= 1, "/proc/cpuinfo lists no processor"
    marker = CPUINFO_MARKERS.get(ident.arch)
    if marker is None:
        pytest.skip(f"no cpuinfo signature known for architecture {ident.arch!r}")
    key, features = marker
    if key == "isa":
        assert re.search(r"^isa\s*:\s*rv64", cpuinfo, re.M), "no rv64 isa line in /proc/cpuinfo"
        return
    missing = features - info.features
    assert not missing, f"{ident.arch} CPUs should list {sorted(features)}; missing {sorted(missing)}"


@pytest.mark.requirement("HW-CPU-003")
def test_cpufreq_scaling(dut):
    base = "/sys/devices/system/cpu/cpufreq"
    policies = [p for p in reads.list_dir(dut, base) or [] if p.startswith("policy")]
    assert policies, f"no cpufreq policy under {base}"
    problems = []
    for policy in policies:
        folder = f"{base}/{policy}"
        governor = (reads.read_file(dut, f"{folder}/scaling_governor") or "").strip()
        offered = procinfo.parse_governors(
            reads.read_file(dut, f"{folder}/scaling_available_governors") or ""
        )
        low = (reads.read_file(dut, f"{folder}/cpuinfo_min_freq") or "").strip()
        high = (reads.read_file(dut, f"{folder}/cpuinfo_max_freq") or "").strip()
        if not governor or governor not in offered:
            problems.append(f"{policy}: governor {governor!r} not among {offered}")
        if not (low.isdigit() and high.isdigit() and 0 < int(low) <= int(high)):
            problems.append(f"{policy}: frequency range {low!r}..{high!r} kHz is not sane")
    assert not problems, "; ".join(problems)


@pytest.mark.requirement("HW-MEM-001")
def test_memory_size(dut, meminfo, suite_data):
    declared = dut.spec.declared.memory_mb
    if declared is None:
        pytest.skip("the inventory declares no memory_mb for this device")
    total = procinfo.mem_total_mb(meminfo)
    tolerance = float(suite_data["memory_tolerance"])
    dut.metric("mem_total", total, "MB", low=declared * (1 - tolerance), high=declared * 1.02)
    assert procinfo.within_tolerance(total, declared, tolerance), (
        f"MemTotal {total} MB is not within {tolerance:.0%} below the declared {declared} MB"
    )


@pytest.mark.requirement("HW-MEM-002")
def test_memory_available(dut, meminfo, suite_data):
    assert "MemAvailable" in meminfo, "/proc/meminfo has no MemAvailable"
    fraction = meminfo["MemAvailable"] / max(1, meminfo.get("MemTotal", 0))
    dut.metric(
        "mem_available_fraction", round(fraction, 3), "", low=float(suite_data["min_available_fraction"])
    )
    assert fraction >= float(suite_data["min_available_fraction"]), (
        f"only {fraction:.1%} of memory is available"
    )


@pytest.mark.requirement("HW-STO-001")
def test_block_storage_present(dut):
    text = reads.read_file(dut, "/proc/partitions")
    assert text is not None, "/proc/partitions is unreadable"
    names = [line.split()[3] for line in text.splitlines()[1:] if len(line.split()) == 4]
    disks = [n for n in names if not n.startswith(("ram", "loop", "zram"))]
    assert disks, f"no block device besides ram/loop/zram in /proc/partitions ({names})"


@pytest.mark.requirement("HW-STO-002")
def test_data_folder_round_trip(dut, suite_data):
    folder = suite_data["data_dir"]
    path = shlex.quote(f"{folder}/.harness-hw-{secrets.token_hex(4)}")
    kb = int(suite_data["write_check_kb"])
    # dd's error (no such folder, no space left) is the reason a failure gives; its statistics are
    # dropped, since a serial console merges stderr into the output that is parsed below.
    script = (
        f"err=$(dd if=/dev/urandom of={path} bs=1024 count={kb} 2>&1) || "
        '{ echo "$err" >&2; exit 1; }; sync && '
        f"a=$(cksum < {path}) && cat {path} > {path}.copy && b=$(cksum < {path}.copy) && "
        f'echo "$a" && echo "$b"; rc=$?; rm -f {path} {path}.copy; exit $rc'
    )
    result = dut.run(script, timeout=60)
    assert result.ok, f"writing {kb} KiB under {folder} failed {reads.failure_detail(result)}"
    lines = result.stdout_text.strip().split("\n")
    first, second = lines[-2].split(), lines[-1].split()
    assert first == second and first[1] == str(kb * 1024), f"read back differs: {first} vs {second}"


@pytest.mark.requirement("HW-STO-003")
def test_data_folder_free_space(dut, suite_data):
    folder = suite_data["data_dir"]
    result = dut.run(f"df -k {shlex.quote(folder)}")
    assert result.ok, f"df -k {folder} failed {reads.failure_detail(result)}"
    free_kb = procinfo.parse_df_available_kb(result.stdout_text)
    assert free_kb is not None, f"cannot read df output: {result.stdout_text[:200]!r}"
    free_mb = free_kb // 1024
    dut.metric("data_free", free_mb, "MB", low=float(suite_data["min_free_mb"]))
    assert free_mb >= int(suite_data["min_free_mb"]), (
        f"{folder} has {free_mb} MB free, needs {suite_data['min_free_mb']}"
    )


@pytest.mark.requirement("HW-NET-001")
def test_network_interface(dut):
    text = reads.read_file(dut, "/proc/net/dev")
    assert text is not None, "/proc/net/dev is unreadable"
    names = [line.split(":", 1)[0].strip() for line in text.splitlines()[2:] if ":" in line]
    assert [n for n in names if n != "lo"], f"only loopback among the interfaces {names}"


@pytest.mark.requirement("HW-THERM-001")
def test_thermal_zones(dut, suite_data):
    base = "/sys/class/thermal"
    zones = [z for z in reads.list_dir(dut, base) or [] if z.startswith("thermal_zone")]
    assert zones, f"no thermal zone under {base}"
    problems = []
    for zone in zones:
        text = reads.read_file(dut, f"{base}/{zone}/temp")
        try:
            celsius = procinfo.parse_millidegrees(text or "")
        except ValueError as exc:
            problems.append(f"{zone}: {exc}")
            continue
        dut.metric(
            f"{zone}_temp",
            celsius,
            "C",
            low=float(suite_data["temp_min"]),
            high=float(suite_data["temp_max"]),
        )
        if not float(suite_data["temp_min"]) <= celsius <= float(suite_data["temp_max"]):
            problems.append(f"{zone}: implausible {celsius} C")
    assert not problems, "; ".join(problems)


@pytest.mark.requirement("HW-WDT-001")
def test_watchdog_present(dut):
    found = dut.run("ls -d /dev/watchdog* /sys/class/watchdog/watchdog* 2>/dev/null")
    assert found.stdout_text.split(), "no /dev/watchdog* device and no /sys/class/watchdog/watchdog* entry"


@pytest.mark.requirement("HW-RTC-001")
def test_rtc_readable(dut):
    rtcs = [r for r in reads.list_dir(dut, "/sys/class/rtc") or [] if r.startswith("rtc")]
    assert rtcs, "no RTC under /sys/class/rtc"
    date = (reads.read_file(dut, f"/sys/class/rtc/{rtcs[0]}/date") or "").strip()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", date), f"{rtcs[0]} date is unreadable or malformed: {date!r}"


def _device_tree(dut, name):
    for base in ("/proc/device-tree", "/sys/firmware/devicetree/base"):
        result = dut.run(f"test -r {base}/{name} && tr '\\000' '\\n' < {base}/{name}")
        if result.ok and result.stdout_text.strip():
            return procinfo.split_nul_list(result.stdout_text)
    return None


def _needs_device_tree(ident):
    if ident.arch in ("x86_64",):
        pytest.skip(f"{ident.arch} boards describe hardware with ACPI, not a device tree")


@pytest.mark.requirement("HW-DT-001")
def test_device_tree_model(dut, ident):
    _needs_device_tree(ident)
    model = _device_tree(dut, "model")
    assert model, "no device tree model (/proc/device-tree/model, /sys/firmware/devicetree/base/model)"
    if not dut.spec.model:
        pytest.fail(f"the inventory declares no model to compare with the device tree's {model[0]!r}")
    assert dut.spec.model in model[0], f"device tree model {model[0]!r} does not name {dut.spec.model!r}"


@pytest.mark.requirement("HW-DT-002")
def test_device_tree_compatible(dut, ident):
    _needs_device_tree(ident)
    compatible = _device_tree(dut, "compatible")
    assert compatible, "no device tree compatible list"
    if not dut.spec.soc:
        pytest.fail(f"the inventory declares no soc to compare with {compatible}")
    soc = dut.spec.soc.lower()
    # Exact token after the vendor prefix: "rockchip,rk3568" names rk3568, not rk3568s.
    assert any(entry.split(",", 1)[-1].lower() == soc for entry in compatible), (
        f"compatible {compatible} names no {dut.spec.soc!r}"
    )
