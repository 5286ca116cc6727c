"""Suites on disk: suites/<id>/suite.toml (identity, requirements) plus pytest modules.

suite.toml is checked like every config file (harness.config_check): an unknown key is refused (a
misspelt `applies-to` would make a requirement apply to every device), and so is a profile or device
kind in `applies_to` that the harness does not know (it could never match)."""

from __future__ import annotations

import hashlib
import site
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .capabilities import check_names as check_capabilities
from .config_check import Checker, Where, list_of, one_of, scalar_text, string, table, table_of, text
from .errors import ConfigError
from .profiles import profile_names
from .specs import DEVICE_KINDS

LEVELS = ("MUST", "SHOULD")


INSTALLED_SUITES = Path("share") / "harness" / "suites"


def default_suites_root() -> Path:
    """The suites folder: beside the package in a checkout, else the one installed with it
    (<prefix>/share/harness/suites, from the wheel's data), else ./suites."""
    here = Path(__file__).resolve().parent.parent / "suites"
    if here.is_dir():
        return here
    for prefix in (sys.prefix, site.getuserbase()):
        installed = Path(prefix) / INSTALLED_SUITES
        if installed.is_dir():
            return installed
    return Path("suites")


@dataclass(frozen=True)
class Requirement:
    id: str
    level: str  # MUST | SHOULD
    title_en: str
    title_zh: str
    rationale: str = ""
    profiles: tuple[str, ...] = ()  # empty: every profile
    kinds: tuple[str, ...] = ()  # empty: every device kind
    capabilities: tuple[str, ...] = ()  # harness.capabilities names the device must declare
    source: str = ""  # the published rule it comes from (a vendor's rule, an oec-hardware case, a standard)
    suite: str = ""  # the suite that defines it
    # What its test does to the device beyond reading it ("reboots the device", "cuts the device's
    # power"): shown by `harness suites`, so a bench knows before a run; empty for read-only checks.
    destructive: str = ""

    def applies_to(self, profile: str, kind: str) -> bool:
        return (not self.profiles or profile in self.profiles) and (not self.kinds or kind in self.kinds)

    def missing_capabilities(self, declared: tuple[str, ...] | frozenset[str]) -> list[str]:
        return [c for c in self.capabilities if c not in declared]


@dataclass(frozen=True)
class Suite:
    id: str
    version: str
    title_en: str
    title_zh: str
    path: Path
    requirements: dict[str, Requirement] = field(default_factory=dict)

    def content_hash(self) -> str:
        """SHA-256 over every file of the suite (names and bytes), so a report pins what ran."""
        digest = hashlib.sha256()
        for file in sorted(p for p in self.path.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(file.relative_to(self.path).as_posix().encode() + b"\0")
            digest.update(file.read_bytes())
        return "sha256:" + digest.hexdigest()


def load_suite(path: Path) -> Suite:
    toml_path = path / "suite.toml"
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{toml_path}: suite.toml not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{toml_path}: not valid TOML: {exc}") from None
    top = table(data, Where(toml_path), SUITE_KEYS, required=("id", "version", "title_en", "title_zh"))
    reqs: dict[str, Requirement] = {}
    keys = _requirement_keys()
    for number, raw in enumerate(top.get("requirements", ()), 1):
        req = _requirement(raw, toml_path, number, top["id"], keys)
        if req.id in reqs:
            raise Where(toml_path, f"requirement {req.id!r}", "id").fail(req.id, "defined twice")
        reqs[req.id] = req
    return Suite(id=top["id"], version=top["version"], title_en=top["title_en"], title_zh=top["title_zh"],
                 path=path, requirements=reqs)


def _requirements(value: Any, where: Where) -> list[Any]:
    if not isinstance(value, list):
        raise where.fail(value, "expected [[requirements]] tables")
    return value


SUITE_KEYS: dict[str, Checker] = {
    "id": string,
    "version": scalar_text,
    "title_en": text,
    "title_zh": text,
    "requirements": _requirements,
}


def _requirement_keys() -> dict[str, Checker]:
    applies_to = {
        "profiles": list_of(one_of(*profile_names()), "profile names"),
        "kinds": list_of(one_of(*DEVICE_KINDS), "device kinds"),
        "capabilities": check_capabilities,
    }
    return {
        "id": string,
        "level": one_of(*LEVELS),
        "title_en": text,
        "title_zh": text,
        "rationale": text,
        "source": text,
        "destructive": string,
        "applies_to": table_of(applies_to),
    }


def _requirement(raw: Any, toml_path: Path, number: int, suite: str, keys: dict[str, Checker]) -> Requirement:
    # Named by its id when it has one, else by its place in the file.
    rid = raw.get("id") if isinstance(raw, dict) else None
    where = Where(toml_path, f"requirement {rid!r}" if isinstance(rid, str) else f"requirement #{number}")
    f = table(raw, where, keys, required=("id", "level", "title_en", "title_zh"))
    applies = f.pop("applies_to", {})
    return Requirement(**f, profiles=applies.get("profiles", ()), kinds=applies.get("kinds", ()),
                       capabilities=applies.get("capabilities", ()), suite=suite)


def discover_suites(root: Path | None = None) -> dict[str, Suite]:
    root = root or default_suites_root()
    suites = [load_suite(p.parent) for p in sorted(root.glob("*/suite.toml"))]
    return {s.id: s for s in suites}
