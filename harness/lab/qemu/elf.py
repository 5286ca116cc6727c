"""Just enough ELF reading to assemble an initramfs from foreign-architecture packages: which shared
libraries a binary needs (DT_NEEDED), what a library calls itself (DT_SONAME), and a kernel module's
.modinfo (its `depends=`). 64- and 32-bit, either byte order; nothing here is ever executed."""

from __future__ import annotations

import struct
from dataclasses import dataclass

ELF_MAGIC = b"\x7fELF"
SHT_DYNAMIC = 6
DT_NULL, DT_NEEDED, DT_STRTAB, DT_SONAME = 0, 1, 5, 14


@dataclass(frozen=True)
class _Section:
    name_offset: int
    kind: int
    offset: int
    size: int
    link: int


class ElfError(ValueError):
    pass


def is_elf(data: bytes) -> bool:
    return data[:4] == ELF_MAGIC


class ElfFile:
    def __init__(self, data: bytes) -> None:
        if not is_elf(data) or len(data) < 64:
            raise ElfError("not an ELF file")
        self.data = data
        self.is64 = data[4] == 2
        self.order = "<" if data[5] == 1 else ">"
        self.sections = self._read_sections()

    def _unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        return struct.unpack_from(self.order + fmt, self.data, offset)

    def _read_sections(self) -> list[_Section]:
        if self.is64:
            (shoff,) = self._unpack("Q", 0x28)
            shentsize, shnum = self._unpack("HH", 0x3A)
            fmt = "IIQQQQI"
        else:
            (shoff,) = self._unpack("I", 0x20)
            shentsize, shnum = self._unpack("HH", 0x2E)
            fmt = "IIIIIII"
        sections = []
        for i in range(shnum):
            name, kind, _flags, _addr, offset, size, link = self._unpack(fmt, shoff + i * shentsize)
            sections.append(_Section(name, kind, offset, size, link))
        return sections

    def _string(self, table: _Section, offset: int) -> str:
        start = table.offset + offset
        end = self.data.index(b"\0", start)
        return self.data[start:end].decode("utf-8", errors="replace")

    def section(self, name: str) -> bytes | None:
        if not self.sections:
            return None
        (shstrndx,) = self._unpack("H", 0x3E if self.is64 else 0x32)
        names = self.sections[shstrndx]
        for sec in self.sections:
            if self._string(names, sec.name_offset) == name:
                return self.data[sec.offset : sec.offset + sec.size]
        return None

    def _dynamic(self, wanted: int) -> list[str]:
        found: list[str] = []
        for sec in self.sections:
            if sec.kind != SHT_DYNAMIC:
                continue
            strtab = self.sections[sec.link]
            step, fmt = (16, "qQ") if self.is64 else (8, "iI")
            for at in range(sec.offset, sec.offset + sec.size, step):
                tag, value = self._unpack(fmt, at)
                if tag == DT_NULL:
                    break
                if tag == wanted:
                    found.append(self._string(strtab, value))
        return found

    def needed(self) -> list[str]:
        """Sonames the dynamic loader must find for this binary or library."""
        return self._dynamic(DT_NEEDED)

    def soname(self) -> str | None:
        names = self._dynamic(DT_SONAME)
        return names[0] if names else None

    def interpreter(self) -> str | None:
        raw = self.section(".interp")
        return raw.rstrip(b"\0").decode() if raw else None


def module_info(data: bytes) -> dict[str, str]:
    """A kernel module's .modinfo as key -> value (the last value of a repeated key wins)."""
    raw = ElfFile(data).section(".modinfo") or b""
    info: dict[str, str] = {}
    for entry in raw.split(b"\0"):
        key, sep, value = entry.decode("utf-8", errors="replace").partition("=")
        if sep:
            info[key] = value
    return info
