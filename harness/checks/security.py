"""Security posture checks on values read from a device: LSM mode, build type, su, permissions."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


@dataclass(frozen=True)
class LsmState:
    name: str
    enforcing: bool | None  # None: the LSM is not there at all
    detail: str


def selinux_state(enforce_file: str | None, getenforce: str | None) -> LsmState:
    """From /sys/fs/selinux/enforce ('1'/'0') or `getenforce` (Enforcing/Permissive/Disabled)."""
    flag = (enforce_file or "").strip()
    if flag in ("0", "1"):
        return LsmState("selinux", flag == "1", f"/sys/fs/selinux/enforce={flag}")
    mode = (getenforce or "").strip()
    if mode in ("Enforcing", "Permissive"):
        return LsmState("selinux", mode == "Enforcing", f"getenforce: {mode}")
    return LsmState("selinux", None, f"SELinux not found (getenforce: {mode or 'no answer'})")


def lsm_listed(lsm_file: str | None, name: str) -> bool:
    """/sys/kernel/security/lsm: comma-separated active LSMs; exact names only."""
    return lsm_file is not None and name in [x.strip() for x in lsm_file.split(",")]


def user_build_problems(props: dict[str, str]) -> list[str]:
    """A user build must say so and must not be debuggable or allow adb root. Missing values are problems."""
    problems = []
    build_type = props.get("ro.build.type", "")
    if build_type != "user":
        problems.append(f"ro.build.type is {build_type or 'missing'!r}, expected 'user'")
    if props.get("ro.debuggable", "") != "0":
        problems.append(f"ro.debuggable is {props.get('ro.debuggable') or 'missing'!r}, expected '0'")
    if props.get("ro.secure", "1") != "1":
        problems.append(f"ro.secure is {props['ro.secure']!r}, expected '1'")
    return problems


def world_writable_violations(paths: list[str], allowed_globs: list[str]) -> list[str]:
    return [p for p in paths if p and not any(fnmatch.fnmatchcase(p, g) for g in allowed_globs)]
