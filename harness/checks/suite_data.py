"""Per-profile data from a suite's data/ folder: thresholds, allowlists, budgets.

A data file is TOML with layered tables, most general first:

    [default]                          every device
    [family.linux]                     the profile's family (linux | ohos | android)
    [profile.openeuler]                one OS profile
    [profile.openeuler.version."22.03*"]   that profile on OS versions matching the glob

`resolve` merges them in that order (later layers replace keys of earlier ones), so a profile only
writes what differs. Keys whose value is a table are merged one level deep."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path
from typing import Any


def load_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def resolve(data: dict[str, Any], profile: str, family: str, os_version: str = "") -> dict[str, Any]:
    layers: list[dict[str, Any]] = [data.get("default", {}), data.get("family", {}).get(family, {})]
    profile_table = dict(data.get("profile", {}).get(profile, {}))
    versions = profile_table.pop("version", {})
    layers.append(profile_table)
    for pattern, table in versions.items():
        if os_version and fnmatch.fnmatchcase(os_version, pattern):
            layers.append(table)
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return merged


def resolve_file(path: Path, profile: str, family: str, os_version: str = "") -> dict[str, Any]:
    return resolve(load_toml(path), profile, family, os_version)
