"""The kdump parts of the emulated board, built beside its base image: kexec-tools (kexec, vmcore-dmesg)
and makedumpfile from Debian's arm64 packages with their libraries, the virtio disk driver, the same
kernel as the crash kernel, and its initrd (the base initramfs plus those tools, so its rcS runs
/etc/init.d/kdump, which captures when /proc/vmcore exists).

A board started with kdump gets `overlay` appended to its initrd: the tools and, under /boot, the crash
kernel and crash initrd that its rcS loads with `kexec -p`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .apt import PackageInfo, deb_members
from .cpio import CpioArchive
from .initramfs import KERNEL_MODULES, ImageBuildError, add_package_files, kernel_parts

PACKAGES = ["kexec-tools", "makedumpfile"]
# Where each program is in its package, and where the board has it.
PROGRAMS = {"sbin/kexec": "usr/sbin/kexec", "sbin/vmcore-dmesg": "usr/sbin/vmcore-dmesg",
            "usr/bin/makedumpfile": "usr/bin/makedumpfile"}
# The disk kdump writes to, where the base image does not load its driver already.
MODULES = tuple(m for m in ("virtio_blk",) if m not in KERNEL_MODULES)
CRASH_KERNEL = "boot/vmlinuz-kdump"
CRASH_INITRD = "boot/initrd-kdump.img"
OVERLAY = "kdump.cpio.gz"


def tools_archive(debs: dict[str, Path], packages: list[PackageInfo], kernel_deb: Path,
                  is_library: Callable[[str], bool]) -> CpioArchive:
    archive = CpioArchive()
    for pkg in packages:
        if is_library(pkg.name):
            add_package_files(archive, debs[pkg.name], libraries=True, extra={})
    for name in PACKAGES:
        for member, data in deb_members(debs[name], lambda p: p in PROGRAMS):
            if data is not None:
                archive.add_file(PROGRAMS[member.name.removeprefix("./")], data, 0o755)
    missing = [target for target in PROGRAMS.values() if not archive.has(target)]
    if missing:
        raise ImageBuildError(f"the kdump packages hold no /{', /'.join(missing)}")
    modules = kernel_parts(kernel_deb, MODULES).modules if MODULES else []
    base = "usr/lib/modules/kdump"
    for name, data in modules:
        archive.add_file(f"{base}/{name}.ko", data)
    # Also what tells rcS that the board does kdump.
    archive.add_file("etc/kdump-modules", "".join(f"/{base}/{n}.ko\n" for n, _ in modules).encode())
    return archive


def overlay(tools: CpioArchive, vmlinuz: bytes, base_initramfs: bytes) -> bytes:
    """The gzip'd cpio archives a kdump board's initrd gets after the base: the tools, then /boot."""
    tools_gz = tools.to_gzip()
    boot = CpioArchive()
    boot.add_file(CRASH_KERNEL, vmlinuz, 0o644)
    boot.add_file(CRASH_INITRD, base_initramfs + tools_gz, 0o644)
    return tools_gz + boot.to_gzip()
