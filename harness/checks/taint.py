"""/proc/sys/kernel/tainted: the bit mask decoded into the kernel's one-letter flags."""

from __future__ import annotations

from dataclasses import dataclass

from .numbers import is_count


@dataclass(frozen=True)
class TaintFlag:
    bit: int
    letter: str
    meaning: str


# The kernel's table (Documentation/admin-guide/tainted-kernels.rst).
TAINT_FLAGS: tuple[TaintFlag, ...] = (
    TaintFlag(0, "P", "proprietary module loaded"),
    TaintFlag(1, "F", "module force-loaded"),
    TaintFlag(2, "S", "kernel running on an out-of-specification system"),
    TaintFlag(3, "R", "module force-unloaded"),
    TaintFlag(4, "M", "processor reported a machine check exception"),
    TaintFlag(5, "B", "bad page referenced or unexpected page flags"),
    TaintFlag(6, "U", "taint requested by userspace"),
    TaintFlag(7, "D", "kernel died recently (oops or BUG)"),
    TaintFlag(8, "A", "ACPI table overridden by user"),
    TaintFlag(9, "W", "kernel issued a warning"),
    TaintFlag(10, "C", "staging driver loaded"),
    TaintFlag(11, "I", "workaround for a platform firmware bug applied"),
    TaintFlag(12, "O", "externally-built (out-of-tree) module loaded"),
    TaintFlag(13, "E", "unsigned module loaded"),
    TaintFlag(14, "L", "soft lockup occurred"),
    TaintFlag(15, "K", "kernel has been live patched"),
    TaintFlag(16, "X", "auxiliary taint (distribution-defined)"),
    TaintFlag(17, "T", "kernel built with the struct randomization plugin"),
    TaintFlag(18, "N", "an in-kernel test has been run"),
    TaintFlag(19, "J", "userspace used a mutating debug operation in fwctl"),
)
_BY_LETTER = {f.letter: f for f in TAINT_FLAGS}


def parse_taint(text: str) -> int:
    """The decimal mask as the kernel prints it. Raises ValueError on anything else."""
    value = text.strip()
    if not is_count(value):
        raise ValueError(f"not a taint mask: {value!r}")
    return int(value)


def decode_taint(mask: int) -> list[TaintFlag]:
    """Known flags set in `mask`; bits beyond the table come back as '?' flags so none is lost."""
    flags = [f for f in TAINT_FLAGS if mask & (1 << f.bit)]
    known = {f.bit for f in TAINT_FLAGS}
    bit = 0
    while mask >> bit:
        if mask & (1 << bit) and bit not in known:
            flags.append(TaintFlag(bit, "?", f"unknown taint bit {bit}"))
        bit += 1
    return flags


def forbidden_taints(mask: int, forbidden_letters: list[str]) -> list[TaintFlag]:
    unknown = [x for x in forbidden_letters if x not in _BY_LETTER]
    if unknown:
        raise ValueError(f"unknown taint letters in the data: {unknown}")
    return [f for f in decode_taint(mask) if f.letter in forbidden_letters]


def describe(flags: list[TaintFlag]) -> str:
    return ", ".join(f"{f.letter} (bit {f.bit}: {f.meaning})" for f in flags) or "none"
