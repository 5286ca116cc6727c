"""Inheritance rules as data (rules/inheritance.toml), evaluated by code: may a product be certified
from another product's certificate? Pure: facts in, one outcome per rule out."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from ...errors import ConfigError

TESTS = ("same", "same_major")


@dataclass(frozen=True)
class Facts:
    vendor: str = ""
    soc: str = ""
    board: str = ""
    kind: str = ""
    os_name: str = ""
    os_version: str = ""


FACT_NAMES = tuple(f.name for f in fields(Facts))


@dataclass(frozen=True)
class Rule:
    id: str
    fact: str
    test: str
    why_en: str = ""


@dataclass(frozen=True)
class RuleResult:
    rule: str
    holds: bool
    why: str


def parse_rules(data: dict[str, Any], where: str) -> list[Rule]:
    items = data.get("rule")
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where}: no [[rule]] tables")
    rules = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: rule[{i}]: not a table")
        fact, test = item.get("fact"), item.get("test")
        if fact not in FACT_NAMES:
            raise ConfigError(f"{where}: rule[{i}].fact = {fact!r}: one of {', '.join(FACT_NAMES)}")
        if test not in TESTS:
            raise ConfigError(f"{where}: rule[{i}].test = {test!r}: one of {', '.join(TESTS)}")
        rules.append(
            Rule(str(item.get("id") or f"rule-{i}"), str(fact), str(test), str(item.get("why_en", "")))
        )
    return rules


def load_rules(path: Path | None = None) -> list[Rule]:
    if path is None:
        text = resources.files("harness.platform").joinpath("rules/inheritance.toml").read_text("utf-8")
        where = "inheritance.toml"
    else:
        text, where = path.read_text("utf-8"), str(path)
    try:
        return parse_rules(tomllib.loads(text), where)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _major(version: str) -> str:
    return re.split(r"[. ]", version.strip(), maxsplit=1)[0]


def _one(rule: Rule, source: Facts, target: Facts) -> RuleResult:
    a, b = getattr(source, rule.fact).strip(), getattr(target, rule.fact).strip()
    if not a or not b:
        return RuleResult(
            rule.id, False, f"{rule.fact} is not known for {'the source' if not a else 'the product'}"
        )
    if rule.test == "same_major":
        ok = _major(a).lower() == _major(b).lower()
        return RuleResult(rule.id, ok, f"{rule.fact} major {_major(a)!r} vs {_major(b)!r}")
    ok = a.lower() == b.lower()
    return RuleResult(rule.id, ok, f"{rule.fact} {a!r} vs {b!r}")


def evaluate(rules: Iterable[Rule], source: Facts, target: Facts) -> list[RuleResult]:
    return [_one(r, source, target) for r in rules]


def facts_from_certificate(body: dict[str, Any]) -> Facts:
    product, os_ = body.get("product") or {}, body.get("os") or {}
    return Facts(
        vendor=str(product.get("vendor", "")),
        soc=str(product.get("soc", "")),
        board=str(product.get("board", "")),
        kind=str(product.get("kind", "")),
        os_name=str(os_.get("name", "")),
        os_version=str(os_.get("version", "")),
    )
