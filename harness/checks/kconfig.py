"""Kernel configuration (.config, /proc/config.gz) and fragment rules checked against it.

A fragment is kernel-fragment syntax plus `|` for alternatives, one rule per line:

    CONFIG_NAMESPACES=y                 must be built in
    CONFIG_OF=y | CONFIG_ACPI=y         either one
    CONFIG_EXT4_FS                      set at all (=y or =m)
    # CONFIG_DEVMEM is not set          forbidden (absent counts as not set, as Kconfig treats it)
    !CONFIG_KPROBES                     the same, written shorter
    CONFIG_HZ=250                       an exact value
    CONFIG_CMDLINE="console=ttyS0"      an exact string value (quotes are part of the value)

Other lines starting with `#` are comments. A rule holds when any of its alternatives holds."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from enum import Enum

from .kversion import parse_kernel_version

_SET_LINE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_UNSET_LINE = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set\s*$")
_NAME = re.compile(r"^CONFIG_[A-Za-z0-9_]+$")
NOT_SET = "n"


def parse_kconfig(text: str) -> dict[str, str]:
    """CONFIG name -> value ('y', 'm', '250', '"quoted"'), 'n' for `# ... is not set` lines."""
    config: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if match := _SET_LINE.match(line):
            config[match.group(1)] = match.group(2).strip()
        elif match := _UNSET_LINE.match(line):
            config[match.group(1)] = NOT_SET
    return config


_HEADER = re.compile(r"^# Linux/(\S+) (\S+) Kernel Configuration\s*$", re.M)


def config_header(text: str) -> tuple[str, str] | None:
    """(arch, version) from the header `# Linux/arm64 5.10.0-182.oe2203.aarch64 Kernel Configuration`."""
    match = _HEADER.search(text[:2048])
    return (match.group(1), match.group(2)) if match else None


def config_is_for(text: str, running_release: str, *, named_for_release: bool = False) -> bool:
    """Whether a config was built for the running kernel: the header's version, with the config's
    own CONFIG_LOCALVERSION, is the `uname -r` release (or its start, before a -/+ suffix that
    LOCALVERSION_AUTO or the build system adds).

    Debian names a kernel by its ABI, not its upstream version: release 6.1.0-56-arm64 has a config
    header saying 6.1.192. A config the distribution installed under the running release's own name
    (`named_for_release`: /boot/config-$(uname -r)) is taken when the header's major.minor agrees."""
    header = config_header(text)
    if header is None:
        return False
    version = header[1]
    local = parse_kconfig(text).get("CONFIG_LOCALVERSION", "").strip('"')
    if running_release in (version, version + local):
        return True
    stem = version + local
    if running_release.startswith(stem) and running_release[len(stem)] in "-+":
        return True
    return named_for_release and _same_series(version, running_release)


def _same_series(version: str, release: str) -> bool:
    try:
        header, running = parse_kernel_version(version), parse_kernel_version(release)
    except ValueError:
        return False
    return (header.major, header.minor) == (running.major, running.minor)


class Expect(Enum):
    SET = "set"  # =y or =m
    VALUE = "value"  # exactly this value (y, m or anything else)
    UNSET = "unset"  # not set or absent


@dataclass(frozen=True)
class Term:
    name: str
    expect: Expect
    value: str = ""

    def holds(self, config: dict[str, str]) -> bool:
        actual = config.get(self.name, NOT_SET)
        if self.expect is Expect.SET:
            return actual in ("y", "m")
        if self.expect is Expect.UNSET:
            return actual == NOT_SET
        return actual == self.value

    def __str__(self) -> str:
        if self.expect is Expect.SET:
            return self.name
        if self.expect is Expect.UNSET:
            return f"# {self.name} is not set"
        return f"{self.name}={self.value}"


class RuleKind(Enum):
    REQUIRED = "required"  # something must be on (=y, =m, or set)
    FORBIDDEN = "forbidden"  # every alternative is "not set"
    VALUE = "value"  # an exact non-boolean value, e.g. CONFIG_HZ=250


@dataclass(frozen=True)
class Rule:
    terms: tuple[Term, ...]
    source: str = ""  # fragment file and line, for the failure message

    @property
    def kind(self) -> RuleKind:
        if all(t.expect is Expect.UNSET for t in self.terms):
            return RuleKind.FORBIDDEN
        if any(t.expect is Expect.VALUE and t.value not in ("y", "m") for t in self.terms):
            return RuleKind.VALUE
        return RuleKind.REQUIRED

    def holds(self, config: dict[str, str]) -> bool:
        return any(t.holds(config) for t in self.terms)

    def describe(self, config: dict[str, str]) -> str:
        """The rule and what the kernel has, e.g. 'CONFIG_OF=y | CONFIG_ACPI=y (have: OF=n, ACPI=n)'."""
        have = ", ".join(f"{t.name}={config.get(t.name, 'absent')}" for t in self.terms)
        return f"{self} (have {have}) [{self.source}]"

    def __str__(self) -> str:
        return " | ".join(str(t) for t in self.terms)


class FragmentError(ValueError):
    pass


def parse_term(text: str) -> Term:
    text = text.strip()
    if match := _UNSET_LINE.match(text):
        return Term(match.group(1), Expect.UNSET)
    if text.startswith("!") and _NAME.match(text[1:].strip()):
        return Term(text[1:].strip(), Expect.UNSET)
    if match := _SET_LINE.match(text):
        value = match.group(2).strip()
        if not value:
            raise FragmentError(f"empty value in {text!r}")
        if value == NOT_SET:
            return Term(match.group(1), Expect.UNSET)
        return Term(match.group(1), Expect.VALUE, value)
    if _NAME.match(text):
        return Term(text, Expect.SET)
    raise FragmentError(f"not a config rule: {text!r}")


def parse_fragment(text: str, source: str = "fragment") -> list[Rule]:
    rules: list[Rule] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or (line.startswith("#") and not _UNSET_LINE.match(line)):
            continue
        try:
            terms = tuple(parse_term(part) for part in line.split("|"))
        except FragmentError as exc:
            raise FragmentError(f"{source}:{number}: {exc}") from None
        rules.append(Rule(terms, f"{source}:{number}"))
    return rules


def failing_rules(rules: list[Rule], config: dict[str, str], kind: RuleKind) -> list[Rule]:
    return [r for r in rules if r.kind is kind and not r.holds(config)]


@dataclass(frozen=True)
class FragmentSpec:
    """One entry of a suite's fragment index: which devices a fragment file applies to."""

    file: str
    profiles: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    os_versions: tuple[str, ...] = ()
    min_kernel: str | None = None
    max_kernel: str | None = None

    def applies(self, profile: str, family: str, os_version: str, kernel: str) -> bool:
        if self.profiles and profile not in self.profiles:
            return False
        if self.families and family not in self.families:
            return False
        if self.os_versions and not any(fnmatch.fnmatchcase(os_version, g) for g in self.os_versions):
            return False
        running = parse_kernel_version(kernel)
        if self.min_kernel and running < parse_kernel_version(self.min_kernel):
            return False
        return not (self.max_kernel and running >= parse_kernel_version(self.max_kernel))


def fragment_specs(index: dict[str, object]) -> list[FragmentSpec]:
    entries = index.get("fragment", [])
    assert isinstance(entries, list)
    return [
        FragmentSpec(
            file=e["file"],
            profiles=tuple(e.get("profiles", ())),
            families=tuple(e.get("families", ())),
            os_versions=tuple(e.get("os_versions", ())),
            min_kernel=e.get("min_kernel"),
            max_kernel=e.get("max_kernel"),
        )
        for e in entries
    ]
