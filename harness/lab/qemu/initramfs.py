"""Assemble the board's base initramfs from arm64 Debian packages and the files in ./init:
busybox (the whole userland), OpenSSH's sshd and sftp-server with exactly the shared libraries they
load, the kernel modules the `virt` machine's network card needs, the kernel's own config (at
/boot/config-<release>) and the persona.

Layout: merged /usr (/lib -> usr/lib), so the loader's multiarch directory holds every library. The
result is checked: every DT_NEEDED of every binary and library must be in the image."""

from __future__ import annotations

import lzma
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ...errors import HarnessError
from .apt import deb_members
from .cpio import CpioArchive
from .elf import ElfFile, is_elf, module_info

INIT_DIR = Path(__file__).parent / "init"
TRIPLET = "aarch64-linux-gnu"
LIB_DIR = f"usr/lib/{TRIPLET}"
# The virt machine's virtio-mmio network card and entropy source, its virtio disk with ext4 (crc32c for
# the journal's checksums is looked up by name, not a module dependency) and the i6300esb PCI watchdog
# the stability suite lets fire; their dependencies follow.
KERNEL_MODULES = ("virtio_mmio", "virtio_net", "virtio_rng", "virtio_blk", "crc32c_generic", "ext4",
                  "i6300esb")
# Module parameters (rcS passes them to insmod): a 10 s heartbeat keeps the watchdog test short.
MODULE_PARAMS = {"i6300esb": "heartbeat=10"}
SSH_FILES = {"usr/sbin/sshd": 0o755, "usr/lib/openssh/sftp-server": 0o755}
# Programs taken from other packages (their shared libraries come with the library closure).
TOOL_FILES = {"sbin/e2fsck": 0o755}
# Shared objects straight in a library directory (not gconv, PAM or audit plugins below it).
_LIBRARY = re.compile(rf"(usr/)?lib/({TRIPLET}/)?[^/]+\.so(\.[0-9.]+)?")
# Files of ./init that are scripts (the rest are plain data).
_EXECUTABLE = {"etc/init.d/rcS", "etc/init.d/rcK", "etc/init.d/kdump"}


class ImageBuildError(HarnessError):
    """The packages do not give a bootable image (a file or a library is missing)."""


@dataclass(frozen=True)
class KernelParts:
    release: str
    vmlinuz: bytes
    modules: list[tuple[str, bytes]]  # (module name, .ko bytes), in load order
    config: bytes  # /boot/config-<release>: what the kernel was built with, for the kernel suite


def _merged_usr(path: str) -> str:
    return "usr/" + path if path.startswith("lib/") else path


def kernel_parts(deb: Path, wanted: Iterable[str] = KERNEL_MODULES) -> KernelParts:
    """vmlinuz and the wanted modules with their dependencies, ordered so each loads after its own."""
    vmlinuz = b""
    release = ""
    configs: dict[str, bytes] = {}  # release -> config text
    depends: dict[str, list[str]] = {}
    blobs: dict[str, bytes] = {}
    needed = set(wanted)
    for _ in range(4):  # a dependency can sit earlier in the archive than its user: read it again
        for member, data in deb_members(deb, lambda p: p.startswith(("boot/vmlinuz-", "boot/config-"))
                                        or ".ko" in p):
            if data is None:
                continue
            if member.name.lstrip("./").startswith("boot/vmlinuz-"):
                vmlinuz, release = data, member.name.rsplit("vmlinuz-", 1)[1]
                continue
            if member.name.lstrip("./").startswith("boot/config-"):
                configs[member.name.rsplit("config-", 1)[1]] = data
                continue
            name = PurePosixPath(member.name).name.split(".ko")[0].replace("-", "_")
            if name in depends and name not in needed:
                continue
            if member.name.endswith(".xz"):
                data = lzma.decompress(data)
            deps = [d for d in module_info(data).get("depends", "").split(",") if d]
            depends[name] = deps
            if name in needed:
                blobs[name] = data
                needed.update(deps)
        if needed <= blobs.keys():
            break
    missing = needed - blobs.keys()
    if not vmlinuz or missing:
        raise ImageBuildError(f"{deb.name}: no vmlinuz or no module {', '.join(sorted(missing))}")
    if release not in configs:
        raise ImageBuildError(f"{deb.name}: no boot/config-{release} beside its vmlinuz")
    order: list[str] = []

    def place(name: str) -> None:
        if name not in order:
            for dep in depends[name]:
                place(dep)
            order.append(name)

    for name in sorted(blobs):
        place(name)
    return KernelParts(release, vmlinuz, [(name, blobs[name]) for name in order], configs[release])


def add_package_files(archive: CpioArchive, deb: Path, *, libraries: bool, extra: dict[str, int]) -> None:
    """Copy a package's shared libraries (and symlinks to them) and the `extra` files it holds."""

    def wanted(path: str) -> bool:
        return path in extra or (libraries and bool(_LIBRARY.fullmatch(path)))

    for member, data in deb_members(deb, wanted):
        path = member.name.removeprefix("./")
        target = _merged_usr(path)
        if member.issym():
            archive.add_symlink(target, member.linkname)
        elif data is not None:
            archive.add_file(target, data, extra.get(path, stat.S_IMODE(member.mode) or 0o644))


def add_busybox(archive: CpioArchive, deb: Path) -> None:
    for _member, data in deb_members(deb, lambda p: p == "bin/busybox"):
        if data is not None:
            archive.add_file("bin/busybox", data, 0o755)
    if not archive.has("bin/busybox"):
        raise ImageBuildError(f"{deb.name} holds no bin/busybox")
    # The rest of the applet links are made by `busybox --install -s` at boot (rcS).
    for link in ("bin/sh", "sbin/init", "init"):
        archive.add_symlink(link, "/bin/busybox")


def add_init_files(archive: CpioArchive, init_dir: Path = INIT_DIR) -> None:
    for path in sorted(init_dir.rglob("*")):
        rel = path.relative_to(init_dir).as_posix()
        if path.is_file() and not rel.endswith((".py", ".pyc", "README.md")):
            archive.add_file(rel, path.read_bytes(), 0o755 if rel in _EXECUTABLE else 0o644)
    for directory, mode in (("proc", 0o555), ("sys", 0o555), ("dev", 0o755), ("tmp", 0o1777),
                            ("run/sshd", 0o755), ("root", 0o700), ("var/log", 0o755),
                            ("bin", 0o755), ("sbin", 0o755), ("usr/bin", 0o755), ("usr/sbin", 0o755)):
        archive.add_dir(directory, mode)
    archive.add_char_device("dev/console", 5, 1)  # the kernel opens it before devtmpfs is mounted
    archive.add_symlink("lib", "usr/lib")
    archive.add_symlink("etc/system-release", "openEuler-release")


def add_modules(archive: CpioArchive, kernel: KernelParts) -> None:
    base = f"usr/lib/modules/{kernel.release}"
    for name, data in kernel.modules:
        archive.add_file(f"{base}/{name}.ko", data)
    # rcS loads these with busybox insmod, in this order (no depmod data in the image).
    archive.add_file("etc/modules-load", "".join(
        f"{base}/{n}.ko {MODULE_PARAMS.get(n, '')}".rstrip() + "\n" for n, _ in kernel.modules).encode())


def add_kernel_config(archive: CpioArchive, kernel: KernelParts) -> None:
    """The package's own config at the path Debian installs it: the kernel suite reads it there
    (/boot/config-$(uname -r)), as on an installed system; this kernel has no /proc/config.gz."""
    archive.add_file(f"boot/config-{kernel.release}", kernel.config, 0o644)


def check_libraries(archive: CpioArchive) -> None:
    """Every soname any ELF file in the image asks for must be in the library directory."""
    names = {path.rsplit("/", 1)[1] for path in archive.entries if path.startswith(LIB_DIR + "/")}
    missing: dict[str, set[str]] = {}
    for path, (mode, data) in archive.entries.items():
        if stat.S_ISREG(mode) and is_elf(data) and not path.endswith(".ko"):
            for soname in ElfFile(data).needed():
                if soname not in names:
                    missing.setdefault(soname, set()).add(path)
    if missing:
        detail = "; ".join(f"{so} (for {', '.join(sorted(users))})" for so, users in sorted(missing.items()))
        raise ImageBuildError(f"shared libraries missing from the image: {detail}")


def check_files(archive: CpioArchive) -> None:
    for required in ("bin/busybox", *SSH_FILES, *TOOL_FILES, "usr/lib/ld-linux-aarch64.so.1", "etc/inittab"):
        if not archive.has(required):
            raise ImageBuildError(f"the image has no /{required}")
