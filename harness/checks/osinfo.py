"""OS identity sources: os-release, property files and dumps, release files, build fingerprints."""

from __future__ import annotations

import re
import shlex

_GETPROP_LINE = re.compile(r"^\[([^\]]+)\]: \[(.*)\]$")


def parse_os_release(text: str) -> dict[str, str]:
    """os-release(5): KEY=value lines, values optionally shell-quoted; comments and junk ignored."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if not re.fullmatch(r"[A-Z0-9_]+", key):
            continue
        try:
            parts = shlex.split(value)
        except ValueError:
            continue  # unbalanced quotes: not a value we can trust
        values[key] = parts[0] if len(parts) == 1 else " ".join(parts)
    return values


def parse_properties(text: str) -> dict[str, str]:
    """build.prop / OpenHarmony *.para syntax: key=value, `#` comments; later keys win."""
    props: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        props[key.strip()] = value.strip()
    return props


def parse_getprop_dump(text: str) -> dict[str, str]:
    """`getprop` with no argument: `[key]: [value]` per line."""
    props: dict[str, str] = {}
    for raw in text.splitlines():
        if match := _GETPROP_LINE.match(raw.strip()):
            props[match.group(1)] = match.group(2)
    return props


def version_from_release_line(text: str) -> str | None:
    """First dotted version in a release file line: 'openEuler release 22.03 (LTS-SP1)' -> '22.03'."""
    match = re.search(r"\b(\d+(?:\.\d+)+|\d+)\b", text)
    return match.group(1) if match else None


def same_version(a: str, b: str) -> bool:
    """'22.03' and '22.03.0' name the same version; '22.03' and '22.3' do too; '22.03' and '22.09' not."""
    def parts(v: str) -> list[int]:
        nums = [int(p) for p in re.findall(r"\d+", v)]
        while len(nums) > 1 and nums[-1] == 0:
            nums.pop()
        return nums

    return bool(parts(a)) and parts(a) == parts(b)


def fingerprint_matches(fingerprint: str, pattern: str) -> bool:
    """The whole fingerprint must match the profile's regex (not just a prefix of it)."""
    return bool(fingerprint) and re.fullmatch(pattern, fingerprint) is not None


def split_abilist(value: str) -> list[str]:
    return [a.strip() for a in value.split(",") if a.strip()]
