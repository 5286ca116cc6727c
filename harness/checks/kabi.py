"""kABI: the kernel symbols a vendor's modules need, checked by exact token against a per-arch
whitelist and against what the running kernel exports.

Never substring matching: `kmalloc` is not `__kmalloc` nor `kmalloc_node`. An arch without a
whitelist has no verdict (the caller SKIPs or ERRORs with the reason), never a pass."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.$]*$")
KSYMTAB_PREFIX = "__ksymtab_"

# `uname -m` spellings -> the arch name whitelists are filed under.
ARCH_ALIASES = {
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv8l": "arm",
    "arm": "arm",
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "riscv64": "riscv64",
    "loongarch64": "loongarch64",
    "mips64": "mips64",
}


def normalize_arch(machine: str) -> str:
    return ARCH_ALIASES.get(machine.strip(), machine.strip())


def parse_symbol_list(text: str, source: str = "symbols") -> set[str]:
    """One symbol per line (first token; `#` comments). A malformed token is an error, not skipped."""
    symbols: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        token = line.split()[0]
        if not _SYMBOL.match(token):
            raise ValueError(f"{source}:{number}: not a symbol name: {token!r}")
        symbols.add(token)
    return symbols


def parse_module_symvers(text: str) -> set[str]:
    """Module.symvers lines: `0xCRC<TAB>symbol<TAB>module<TAB>EXPORT_SYMBOL[_GPL]<TAB>namespace`."""
    symbols: set[str] = set()
    for line in text.splitlines():
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) >= 4 and fields[0].startswith("0x") and fields[3].startswith("EXPORT_SYMBOL"):
            symbols.add(fields[1])
    return symbols


def exported_from_kallsyms(text: str) -> set[str]:
    """Exported symbols in /proc/kallsyms: each export has a `__ksymtab_<name>` entry."""
    exported: set[str] = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2].startswith(KSYMTAB_PREFIX):
            exported.add(fields[2][len(KSYMTAB_PREFIX) :])
    return exported


def whitelist_path(folder: Path, arch: str) -> Path:
    return folder / f"whitelist-{normalize_arch(arch)}.txt"


def load_whitelist(folder: Path, arch: str) -> set[str] | None:
    """The arch's whitelist, or None when there is none (the caller must not pass)."""
    path = whitelist_path(folder, arch)
    if not path.is_file():
        return None
    return parse_symbol_list(path.read_text(encoding="utf-8"), str(path))


@dataclass(frozen=True)
class KabiVerdict:
    not_whitelisted: tuple[str, ...]  # needed but outside the stable list: the vendor relies on unstable ABI
    not_exported: tuple[str, ...]  # needed and whitelisted but the running kernel does not export it

    @property
    def ok(self) -> bool:
        return not self.not_whitelisted and not self.not_exported


def check_kabi(needed: set[str], whitelist: set[str], exported: set[str]) -> KabiVerdict:
    return KabiVerdict(
        not_whitelisted=tuple(sorted(needed - whitelist)),
        not_exported=tuple(sorted((needed & whitelist) - exported)),
    )
