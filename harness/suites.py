"""Suites on disk: suites/<id>/suite.toml (identity, requirements) plus pytest modules."""

from __future__ import annotations

import hashlib
import site
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .capabilities import CAPABILITIES
from .capabilities import unknown as unknown_capabilities
from .errors import ConfigError

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
    try:
        reqs: dict[str, Requirement] = {}
        for raw in data.get("requirements", []):
            if raw["level"] not in LEVELS:
                raise ConfigError(
                    f"{toml_path}: requirement {raw['id']!r}: level {raw['level']!r} is not MUST or SHOULD"
                )
            if raw["id"] in reqs:
                raise ConfigError(f"{toml_path}: requirement {raw['id']!r} is defined twice")
            applies = raw.get("applies_to", {})
            needs = tuple(applies.get("capabilities", ()))
            bad = unknown_capabilities(needs)
            if bad:
                raise ConfigError(
                    f"{toml_path}: requirement {raw['id']!r}: applies_to.capabilities {bad[0]!r} is not a "
                    f"known capability (known: {', '.join(sorted(CAPABILITIES))})"
                )
            source = raw.get("source", "")
            if not isinstance(source, str):
                raise ConfigError(
                    f"{toml_path}: requirement {raw['id']!r}: source {source!r} is not a string"
                )
            reqs[raw["id"]] = Requirement(
                id=raw["id"],
                level=raw["level"],
                title_en=raw["title_en"],
                title_zh=raw["title_zh"],
                rationale=raw.get("rationale", ""),
                profiles=tuple(applies.get("profiles", ())),
                kinds=tuple(applies.get("kinds", ())),
                capabilities=needs,
                source=source,
                suite=str(data["id"]),
            )
        return Suite(
            id=data["id"],
            version=str(data["version"]),
            title_en=data["title_en"],
            title_zh=data["title_zh"],
            path=path,
            requirements=reqs,
        )
    except KeyError as exc:
        raise ConfigError(f"{toml_path}: missing key {exc.args[0]!r}") from None


def discover_suites(root: Path | None = None) -> dict[str, Suite]:
    root = root or default_suites_root()
    suites = [load_suite(p.parent) for p in sorted(root.glob("*/suite.toml"))]
    return {s.id: s for s in suites}
