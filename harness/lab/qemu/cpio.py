"""A writer for the "newc" cpio format the kernel unpacks as an initramfs. Written in Python so the
image gets root ownership and exact modes without the builder being root, and the same inputs give
the same bytes (fixed mtime), which keeps the cache honest."""

from __future__ import annotations

import gzip
import stat
from dataclasses import dataclass, field

TRAILER = "TRAILER!!!"


@dataclass
class CpioArchive:
    """Entries by path (no leading slash); parents are added as directories when missing."""

    entries: dict[str, tuple[int, bytes]] = field(default_factory=dict)

    def _parents(self, path: str) -> None:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            parent = "/".join(parts[:i])
            if parent not in self.entries:
                self.entries[parent] = (stat.S_IFDIR | 0o755, b"")

    def add_dir(self, path: str, mode: int = 0o755) -> None:
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = (stat.S_IFDIR | mode, b"")

    def add_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = (stat.S_IFREG | mode, data)

    def add_symlink(self, path: str, target: str) -> None:
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = (stat.S_IFLNK | 0o777, target.encode())

    def add_char_device(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = (stat.S_IFCHR | mode, major.to_bytes(4, "big") + minor.to_bytes(4, "big"))

    def has(self, path: str) -> bool:
        return path.strip("/") in self.entries

    def to_bytes(self) -> bytes:
        out = bytearray()
        # Sorted, so directories come before what they hold.
        for ino, path in enumerate(sorted(self.entries), start=1):
            mode, data = self.entries[path]
            rdev = (0, 0)
            if stat.S_ISCHR(mode):
                rdev = (int.from_bytes(data[:4], "big"), int.from_bytes(data[4:], "big"))
                data = b""
            _entry(out, path, mode, data, ino, rdev)
        _entry(out, TRAILER, 0, b"", 0, (0, 0))
        return bytes(out)

    def to_gzip(self) -> bytes:
        return gzip.compress(self.to_bytes(), compresslevel=6, mtime=0)


def _entry(out: bytearray, name: str, mode: int, data: bytes, ino: int, rdev: tuple[int, int]) -> None:
    raw_name = name.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(mode) else 1
    fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(raw_name), 0)
    out += b"070701" + b"".join(b"%08X" % value for value in fields)
    out += raw_name
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
