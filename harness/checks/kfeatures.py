"""Kernel features the userland relies on: filesystems, cgroup controllers, namespaces."""

from __future__ import annotations


def parse_filesystems(text: str) -> set[str]:
    """/proc/filesystems: '[nodev]<TAB>name' per line."""
    names: set[str] = set()
    for line in text.splitlines():
        fields = line.split()
        if fields:
            names.add(fields[-1])
    return names


def parse_cgroup_v1(text: str) -> set[str]:
    """/proc/cgroups: enabled controllers (the `enabled` column is 1)."""
    enabled: set[str] = set()
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) >= 4 and fields[3] == "1":
            enabled.add(fields[0])
    return enabled


def parse_cgroup_v2(text: str) -> set[str]:
    """cgroup.controllers of a cgroup2 mount: space-separated names."""
    return set(text.split())


def parse_namespaces(text: str) -> set[str]:
    """`ls /proc/self/ns` output (or `ls -l`, where the name is before ' -> ')."""
    names: set[str] = set()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("total"):
            continue
        if " -> " in line:
            line = line.split(" -> ", 1)[0]
        names.add(line.split()[-1])
    return names


def missing(required: list[str], present: set[str]) -> list[str]:
    return [name for name in required if name not in present]


def missing_any_of(groups: list[str | list[str]], present: set[str]) -> list[str]:
    """Each entry is one name or a list of alternatives (e.g. ["cpu", "cpuacct"]); returns the unmet ones."""
    unmet: list[str] = []
    for group in groups:
        options = [group] if isinstance(group, str) else group
        if not any(o in present for o in options):
            unmet.append(" | ".join(options))
    return unmet
