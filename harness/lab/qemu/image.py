"""The emulated board's kernel and base initramfs, built from Debian's current arm64 packages and
cached in a private state folder ($HARNESS_QEMU_DIR, else ~/.cache/harness/qemu).

Resolution: `linux-image-arm64` (the metapackage) names the current kernel package; busybox-static,
openssh-server and openssh-sftp-server plus the shared-library packages they depend on (recursively)
make the userland; the kernel package's /boot/config-<release> goes in too. The exact versions,
the files in ./init and the builder's own code form the cache key: a new kernel ABI, a security
update, an edited init script or a builder change gives a new image; otherwise the cached one is
used without downloading anything."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import kdump
from .apt import AptError, PackageInfo, PrivateApt
from .cpio import CpioArchive
from .initramfs import (
    INIT_DIR,
    SSH_FILES,
    TOOL_FILES,
    ImageBuildError,
    add_busybox,
    add_init_files,
    add_kernel_config,
    add_modules,
    add_package_files,
    check_files,
    check_libraries,
    kernel_parts,
)

log = logging.getLogger(__name__)

# The modules that decide what goes into an image: editing them gives a new image.
BUILDER_MODULES = ("image.py", "initramfs.py", "cpio.py", "elf.py", "apt.py", "kdump.py")
KERNEL_META = "linux-image-arm64"
USERLAND = ["busybox-static", "openssh-server", "openssh-sftp-server", "e2fsprogs"]
# Debian names shared-library packages after their soname: lib<name><digits>[g|t64], zlib1g, ...
_SHARED_LIBRARY_PACKAGE = re.compile(r"(lib|zlib)[a-z0-9.+-]*[0-9](g|t64)?")


@dataclass(frozen=True)
class BoardImage:
    """A built, ready-to-boot image: the kernel, its release and the shared base initramfs."""

    directory: Path
    kernel: Path
    kernel_release: str
    initramfs: Path
    packages: dict[str, str]  # name -> exact version
    kdump_overlay: Path  # appended to a kdump board's initrd (harness.lab.qemu.kdump)

    @classmethod
    def load(cls, directory: Path) -> BoardImage:
        meta = json.loads((directory / "image.json").read_text())
        return cls(directory, directory / "vmlinuz", meta["kernel_release"], directory / "initramfs.cpio.gz",
                   meta["packages"], directory / kdump.OVERLAY)


def default_state_dir() -> Path:
    named = os.environ.get("HARNESS_QEMU_DIR")
    return Path(named).expanduser() if named else Path("~/.cache/harness/qemu").expanduser()


def is_shared_library_package(name: str) -> bool:
    return bool(_SHARED_LIBRARY_PACKAGE.fullmatch(name))


def resolve_packages(apt: PrivateApt) -> tuple[PackageInfo, list[PackageInfo]]:
    """(the current kernel package, the userland packages with their library closure)."""
    meta = apt.show(KERNEL_META)[KERNEL_META]
    kernels = [d for d in meta.depends if d.startswith("linux-image-") and d != KERNEL_META]
    if not kernels:
        raise ImageBuildError(f"{KERNEL_META} {meta.version} depends on no linux-image-* package")
    return apt.show(kernels[0])[kernels[0]], apt.closure(USERLAND, is_shared_library_package)


def resolve_kdump(apt: PrivateApt) -> list[PackageInfo]:
    """kexec-tools and makedumpfile with their library closure (a kdump board's parts only)."""
    return apt.closure(kdump.PACKAGES, is_shared_library_package)


def _inputs_digest(init_dir: Path = INIT_DIR) -> str:
    here = Path(__file__).parent
    files = sorted(p for p in init_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    files += [here / name for name in BUILDER_MODULES]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def image_key(kernel: PackageInfo, userland: list[PackageInfo]) -> str:
    parts = [_inputs_digest()] + sorted(f"{p.name}={p.version}" for p in [kernel, *userland])
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@contextlib.contextmanager
def _state_lock(state: Path) -> Iterator[None]:
    """One builder at a time per state folder (a lab and a test run may start together)."""
    state.mkdir(parents=True, exist_ok=True)
    with (state / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks until the other builder is done: an event, not a guess
        yield


def build_image(state_dir: Path | None = None, *, max_list_age: float | None = None) -> BoardImage:
    """The image for today's packages: from the cache when its inputs are unchanged, else built."""
    state = state_dir or default_state_dir()
    with _state_lock(state):
        return _build_locked(state, max_list_age)


def _build_locked(state: Path, max_list_age: float | None) -> BoardImage:
    apt = PrivateApt(state / "apt")
    apt.update() if max_list_age is None else apt.update(max_list_age)
    kernel_pkg, userland = resolve_packages(apt)
    extras = resolve_kdump(apt)
    key = image_key(kernel_pkg, userland + extras)
    target = state / "images" / key
    if (target / "image.json").exists():
        return BoardImage.load(target)
    started = time.monotonic()
    try:
        debs = apt.download(list({p.name: p for p in [kernel_pkg, *userland, *extras]}.values()))
    except AptError:
        # Lists younger than a day can still name a version the mirror has replaced since.
        apt.update(max_age=0)
        kernel_pkg, userland = resolve_packages(apt)
        extras = resolve_kdump(apt)
        key = image_key(kernel_pkg, userland + extras)
        target = state / "images" / key
        debs = apt.download(list({p.name: p for p in [kernel_pkg, *userland, *extras]}.values()))
    kernel = kernel_parts(debs[kernel_pkg.name])
    archive = CpioArchive()
    add_init_files(archive)
    add_busybox(archive, debs["busybox-static"])
    for pkg in userland:
        if pkg.name != "busybox-static":
            add_package_files(archive, debs[pkg.name], libraries=is_shared_library_package(pkg.name),
                              extra={**SSH_FILES, **TOOL_FILES})
    add_modules(archive, kernel)
    add_kernel_config(archive, kernel)
    check_files(archive)
    check_libraries(archive)
    building = state / "images" / f".{key}.partial"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    (building / "vmlinuz").write_bytes(kernel.vmlinuz)
    base = archive.to_gzip()
    (building / "initramfs.cpio.gz").write_bytes(base)
    tools = kdump.tools_archive(debs, extras, debs[kernel_pkg.name], is_shared_library_package)
    (building / kdump.OVERLAY).write_bytes(kdump.overlay(tools, kernel.vmlinuz, base))
    packages = {p.name: p.version for p in [kernel_pkg, *userland, *extras]}
    (building / "image.json").write_text(json.dumps(
        {"kernel_release": kernel.release, "packages": packages, "key": key}, indent=2, sort_keys=True))
    shutil.rmtree(target, ignore_errors=True)
    building.rename(target)  # complete or absent, never half there
    _forget_other_images(state / "images", keep=key)
    apt.forget_other_debs(keep=debs)
    log.info("built QEMU board image %s (kernel %s) in %.1fs", key, kernel.release,
             time.monotonic() - started)
    return BoardImage.load(target)


def _forget_other_images(images: Path, keep: str) -> None:
    """Old images are dead weight once a newer one is built (a board keeps its own initrd copy)."""
    for entry in images.iterdir():
        if entry.name != keep and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
