"""Identity: one OS build, named the same way by every source, and the one the inventory declares."""

from __future__ import annotations

import re

import pytest

from harness.checks import osinfo, reads
from harness.checks.kabi import normalize_arch


@pytest.fixture(scope="module")
def os_release(dut):
    text = reads.read_file(dut, "/etc/os-release") or reads.read_file(dut, "/usr/lib/os-release")
    if text is None:
        pytest.fail("neither /etc/os-release nor /usr/lib/os-release is readable")
    return osinfo.parse_os_release(text)


@pytest.mark.requirement("ID-OS-001")
def test_os_name_and_version_reported(ident, suite_data):
    assert ident.os_name, "the OS name is empty"
    assert ident.os_version, "the OS version is empty"
    if suite_data["os_names"]:
        assert ident.os_name in suite_data["os_names"], (
            f"OS name {ident.os_name!r} is not one of {suite_data['os_names']}"
        )


@pytest.mark.requirement("ID-OS-002")
def test_release_file_matches_os_release(dut, os_release):
    release_file = dut.profile.extra.get("release_file")
    if not release_file:
        pytest.fail(f"profile {dut.profile.name} names no release_file in its [extra] table")
    text = reads.read_file(dut, str(release_file))
    assert text is not None, f"{release_file} is missing or unreadable"
    version_id = os_release.get("VERSION_ID")
    assert version_id, "os-release has no VERSION_ID"
    words = text.split()
    # Kylin says "release V10 (Lance)", openEuler "release 22.03 (LTS-SP3)", UOS "MinorVersion=1070".
    found = any(osinfo.same_version(version_id, w) or w == version_id for w in words) or any(
        osinfo.same_version(version_id, v) for v in osinfo.parse_properties(text).values()
    )
    assert found, f"{release_file} ({text.strip()[:120]!r}) does not name VERSION_ID {version_id!r}"


@pytest.mark.requirement("ID-OS-003")
def test_identity_commands_agree_with_os_release(ident, os_release):
    assert os_release.get("NAME"), "os-release has no NAME"
    assert ident.os_name == os_release["NAME"], (
        f"identity says {ident.os_name!r}, os-release NAME {os_release['NAME']!r}"
    )
    version = os_release.get("VERSION_ID") or os_release.get("VERSION", "")
    assert ident.os_version == version, f"identity says {ident.os_version!r}, os-release {version!r}"


def _shipped_properties(dut, files):
    props: dict[str, str] = {}
    for path in files:
        text = reads.read_file(dut, path)
        if text is not None:
            props.update(osinfo.parse_properties(text))
    return props


def _compare_properties(dut, suite_data):
    shipped = _shipped_properties(dut, suite_data["property_files"])
    assert shipped, f"none of {suite_data['property_files']} is readable"
    mismatches, missing = [], []
    for key in suite_data["properties"]:
        live = reads.get_property(dut, key, dut.profile.family)
        if key not in shipped or live is None:
            missing.append(key)
        elif live != shipped[key]:
            mismatches.append(f"{key}: live {live!r}, shipped {shipped[key]!r}")
    assert not missing, f"missing in the live properties or the shipped files: {missing}"
    assert not mismatches, "; ".join(mismatches)


@pytest.mark.requirement("ID-PROP-001")
def test_getprop_matches_build_prop(dut, suite_data):
    _compare_properties(dut, suite_data)


@pytest.mark.requirement("ID-PROP-002")
def test_param_matches_para_files(dut, suite_data):
    _compare_properties(dut, suite_data)


@pytest.mark.requirement("ID-DECL-001")
def test_os_matches_declaration(dut, ident):
    declared = dut.spec.declared
    if not declared.os_name and not declared.os_version:
        pytest.skip("the inventory declares no os_name or os_version for this device")
    if declared.os_name:
        assert ident.os_name == declared.os_name, (
            f"device runs {ident.os_name!r}, declared {declared.os_name!r}"
        )
    if declared.os_version:
        assert (
            osinfo.same_version(ident.os_version, declared.os_version)
            or ident.os_version == declared.os_version
        ), f"device runs version {ident.os_version!r}, declared {declared.os_version!r}"


@pytest.mark.requirement("ID-DECL-002")
def test_arch_matches_declaration(dut, ident):
    if not dut.spec.declared.arch:
        pytest.skip("the inventory declares no arch for this device")
    assert ident.arch, "uname -m gave no architecture"
    assert normalize_arch(ident.arch) == normalize_arch(dut.spec.declared.arch), (
        f"device is {ident.arch!r}, declared {dut.spec.declared.arch!r}"
    )


def _fingerprint(dut, ident, suite_data) -> str:
    source = suite_data["fingerprint_source"]
    if source == "identity":
        return ident.fingerprint
    return reads.first_line(dut, source) or ""


@pytest.mark.requirement("ID-FP-001")
def test_fingerprint_format(dut, ident, suite_data):
    fingerprint = _fingerprint(dut, ident, suite_data)
    assert fingerprint, "the build fingerprint is empty"
    assert osinfo.fingerprint_matches(fingerprint, suite_data["fingerprint_pattern"]), (
        f"fingerprint {fingerprint!r} does not match {suite_data['fingerprint_pattern']!r}"
    )


@pytest.mark.requirement("ID-FP-002")
def test_fingerprint_agrees_with_identity(dut, ident, suite_data):
    fingerprint = _fingerprint(dut, ident, suite_data)
    assert fingerprint, "the build fingerprint is empty"
    for field in suite_data["fingerprint_contains"]:
        value = getattr(ident, field)
        assert value, f"identity field {field} is empty"
        assert re.search(rf"(?<![\w.]){re.escape(value)}(?![\w]|\.\d)", fingerprint), (
            f"fingerprint {fingerprint!r} does not name {field} {value!r}"
        )
    if dut.profile.family == "android":
        vendor = reads.get_property(dut, "ro.vendor.build.fingerprint", "android")
        assert vendor is None or vendor == fingerprint, (
            f"vendor fingerprint {vendor!r} differs from {fingerprint!r}"
        )
        release = reads.get_property(dut, "ro.build.version.release", "android")
        build_type = reads.get_property(dut, "ro.build.type", "android")
        fields = re.split(r"[/:]", fingerprint)
        assert release and release in fields, f"fingerprint does not name release {release!r}"
        assert build_type and fields[-2] == build_type, (
            f"fingerprint type {fields[-2]!r} is not ro.build.type {build_type!r}"
        )
    elif not suite_data["fingerprint_contains"]:
        assert ident.kernel in fingerprint or ident.os_version in fingerprint, (
            f"fingerprint {fingerprint!r} names neither the OS version nor the kernel"
        )


@pytest.mark.requirement("ID-ARCH-001")
def test_arch_supported(ident, suite_data):
    assert ident.arch, "uname -m gave no architecture"
    assert ident.arch in suite_data["arches"], (
        f"architecture {ident.arch!r} is not one of {suite_data['arches']}"
    )


@pytest.mark.requirement("ID-ABI-001")
def test_primary_abi_matches_arch(ident, suite_data):
    abilist = osinfo.split_abilist(ident.extra.get("abilist", ""))
    assert abilist, "the ABI list (abilist) is empty"
    wanted = suite_data["abi_by_arch"].get(ident.arch)
    assert wanted, f"no ABI known for architecture {ident.arch!r}"
    assert abilist[0] == wanted, (
        f"first ABI is {abilist[0]!r}, {ident.arch} needs {wanted!r} (list {abilist})"
    )


@pytest.mark.requirement("ID-KERN-001")
def test_kernel_release_consistent(dut, ident):
    version = reads.read_file(dut, "/proc/version")
    assert version, "/proc/version is unreadable"
    match = re.match(r"Linux version (\S+)", version)
    assert match, f"/proc/version is not a Linux version line: {version[:120]!r}"
    assert ident.kernel == match.group(1), f"uname -r {ident.kernel!r}, /proc/version {match.group(1)!r}"


@pytest.mark.requirement("ID-SN-001")
def test_serial_number(ident):
    serial = ident.serial
    assert serial, "the serial number is empty"
    assert re.fullmatch(r"[A-Za-z0-9._-]{4,64}", serial), f"serial {serial!r} is not a plain identifier"
    assert serial.strip("0") and serial.lower() not in ("unknown", "0123456789abcdef"), (
        f"placeholder serial {serial!r}"
    )
