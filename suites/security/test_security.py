"""Security posture: MAC enforcing, user builds, patch level, permissions, listening ports."""

from __future__ import annotations

import datetime as dt
import shlex

import pytest

from harness.checks import netports, patchlevel, reads, security


@pytest.mark.requirement("SEC-LSM-001")
def test_mac_enforcing(dut, suite_data):
    accepted = list(suite_data["lsm_accepted"])
    lsm_file = reads.read_file(dut, "/sys/kernel/security/lsm")
    enforce = reads.read_file(dut, "/sys/fs/selinux/enforce")
    active = [name for name in accepted if security.lsm_listed(lsm_file, name)]
    if not active and enforce is not None and "selinux" in accepted:
        active = ["selinux"]  # older kernels have no lsm list but selinuxfs shows SELinux
    assert active, f"none of the accepted LSMs {accepted} is active (lsm list: {lsm_file!r})"
    if active[0] != "selinux":
        pytest.fail(f"{active[0]} is active but its enforcing state cannot be verified by this suite")
    getenforce = reads.first_line(dut, "getenforce")
    state = security.selinux_state(enforce, getenforce)
    assert state.enforcing, f"SELinux is not enforcing: {state.detail}"


@pytest.mark.requirement("SEC-LSM-002")
def test_selinux_configured_enforcing(dut):
    text = reads.read_file(dut, "/etc/selinux/config")
    assert text is not None, "/etc/selinux/config is missing"
    values = {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in text.splitlines()) if _}
    assert values.get("SELINUX") == "enforcing", f"/etc/selinux/config sets SELINUX={values.get('SELINUX')!r}"


def _props(dut, keys):
    return {key: reads.get_property(dut, key, dut.profile.family) or "" for key in keys}


@pytest.mark.requirement("SEC-BUILD-001")
def test_user_build_not_debuggable(dut, suite_data):
    names = suite_data["build_props"]
    live = _props(dut, [names["type"], names["debuggable"], names["secure"]])
    # Evaluate under the Android names so one rule set covers both families.
    problems = security.user_build_problems(
        {
            "ro.build.type": live[names["type"]],
            "ro.debuggable": live[names["debuggable"]],
            "ro.secure": live[names["secure"]] or "missing",
        }
    )
    problems = [
        p.replace("ro.build.type", names["type"])
        .replace("ro.debuggable", names["debuggable"])
        .replace("ro.secure", names["secure"])
        for p in problems
    ]
    assert not problems, "; ".join(problems)


@pytest.mark.requirement("SEC-SU-001")
def test_no_su(dut, suite_data):
    found = []
    for folder in suite_data["su_dirs"]:
        path = f"{folder}/su"
        if dut.run(f"test -e {shlex.quote(path)} || test -L {shlex.quote(path)}").ok:
            found.append(path)
    on_path = reads.which(dut, "su")
    if on_path and any(on_path.startswith(f"{d}/") for d in suite_data["su_dirs"]) and on_path not in found:
        found.append(on_path)
    assert not found, f"su found: {found}"


@pytest.mark.requirement("SEC-ADB-001")
def test_adb_needs_authorisation(dut, suite_data):
    key = suite_data["build_props"]["adb_secure"]
    value = reads.get_property(dut, key, dut.profile.family)
    assert value == "1", f"{key} is {value or 'missing'!r}, expected '1'"


@pytest.mark.requirement("SEC-VB-001")
def test_verified_boot(dut):
    state = reads.get_property(dut, "ro.boot.verifiedbootstate", dut.profile.family)
    locked = reads.get_property(dut, "ro.boot.flash.locked", dut.profile.family)
    assert state == "green", f"ro.boot.verifiedbootstate is {state or 'missing'!r}"
    assert locked == "1", f"ro.boot.flash.locked is {locked or 'missing'!r}"


@pytest.mark.requirement("SEC-ENC-001")
def test_user_data_encrypted(dut):
    state = reads.get_property(dut, "ro.crypto.state", dut.profile.family)
    assert state == "encrypted", f"ro.crypto.state is {state or 'missing'!r}"


def _patch_dates(dut, ident, sources) -> list[tuple[str, dt.date]]:
    dates, problems = [], []
    for source in sources:
        if source == "identity":
            text = ident.security_patch
            parse = patchlevel.parse_patch_level
        elif source == "kernel_build":
            text = reads.first_line(dut, "uname -v") or ""
            parse = patchlevel.kernel_build_date
        else:
            text = reads.first_line(dut, source) or ""
            parse = patchlevel.date_prefix
        try:
            dates.append((source, parse(text)))
        except ValueError as exc:
            problems.append(f"{source}: {exc}")
    if not dates:
        pytest.fail("no security patch level found: " + "; ".join(problems))
    return dates


def _device_today(dut) -> dt.date:
    text = reads.first_line(dut, "date -u +%Y-%m-%d")
    try:
        return patchlevel.date_prefix(text or "")
    except ValueError:
        return dt.datetime.now(dt.UTC).date()


@pytest.mark.requirement("SEC-PATCH-001")
def test_patch_level_recent(dut, ident, suite_data):
    # The sources in the data's order, most authoritative first (the OS's own release metadata before
    # the kernel's build date, which a rebuilt kernel makes look recent): the first that has a date counts.
    source, level = _patch_dates(dut, ident, suite_data["patch_sources"])[0]
    today = dt.datetime.now(dt.UTC).date()
    age = patchlevel.age_in_months(level, today)
    limit = int(suite_data["patch_max_months"])
    print(f"security patch level {level} from {source}: {age} months old")
    dut.metric("security_patch_age", age, "months", high=limit)
    assert age <= limit, (
        f"security patch level {level} ({source}) is {age} months old; at most {limit} allowed"
    )


@pytest.mark.requirement("SEC-PATCH-002")
def test_patch_level_valid(dut, ident, suite_data):
    dates = _patch_dates(dut, ident, suite_data["patch_sources"])
    device_today = _device_today(dut)
    ahead = dt.timedelta(days=int(suite_data["patch_future_days"]))
    future = [f"{s}: {d}" for s, d in dates if d > device_today + ahead]
    assert not future, f"patch level in the future of the device clock ({device_today}): {future}"


@pytest.mark.requirement("SEC-FS-001")
def test_no_world_writable_system_files(dut, suite_data):
    dirs = " ".join(shlex.quote(d) for d in suite_data["system_dirs"])
    script = (
        f'for d in {dirs}; do [ -d "$d" ] || continue; '
        'find "$d" -xdev \\( -type f -perm -0002 \\) -print '
        "-o \\( -type d -perm -0002 ! -perm -1000 \\) -print "
        "2>/dev/null; done; command -v find >/dev/null"
    )
    result = dut.run(script, timeout=120)
    assert result.exit_code == 0, f"find is not available on the device {reads.failure_detail(result)}"
    found = result.stdout_text.split("\n")
    bad = security.world_writable_violations(found, suite_data["world_writable_allowed"])
    assert not bad, f"world-writable in {suite_data['system_dirs']}: {bad[:50]}"


@pytest.fixture(scope="module")
def listening(dut):
    ports: list[netports.ListeningPort] = []
    readable = False
    for proto in ("tcp", "tcp6"):
        text = reads.read_file(dut, f"/proc/net/{proto}", limit=reads.LARGE)
        if text is not None:
            readable = True
            ports += netports.parse_proc_net(text, proto)
    assert readable, "neither /proc/net/tcp nor /proc/net/tcp6 is readable"
    return ports


@pytest.mark.requirement("SEC-NET-001")
def test_listening_ports_inventoried(dut, listening):
    dut.metric("listening_tcp_sockets", len(listening), "sockets")
    exposed = [p for p in listening if not p.loopback_only]
    dut.metric("listening_tcp_sockets_exposed", len(exposed), "sockets")
    # The inventory itself is the evidence (the /proc/net reads); this names it in the report.
    print("listening:", ", ".join(str(p) for p in listening) or "none")


@pytest.mark.requirement("SEC-NET-002")
def test_listening_ports_allowed(listening, suite_data):
    unexpected = netports.unexpected_ports(
        listening, suite_data["ports_allowed"], suite_data["ports_ignore_loopback"]
    )
    assert not unexpected, (
        f"ports outside the allowlist {suite_data['ports_allowed']}: {[str(p) for p in unexpected]}"
    )
