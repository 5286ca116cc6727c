"""A recent dropbear for the second real SSH peer of the tests: Debian trixie's dropbear-bin, fetched
with a private apt state and sources list (as the QEMU tier fetches its arm64 packages) and unpacked
into a cache folder, never installed system-wide. Debian 12's own dropbear (2022.83) drops channels on
back-to-back commands, fixed in 2024.86.

trixie's build needs glibc 2.38 and the host may be older (bookworm has 2.36), so trixie's C library
comes along and the two binaries are given its loader and library folder (patchelf). dropbear re-executes
itself for every connection, which rules out starting it through the loader by hand; the shells it
starts are the host's own programs with the host's libraries, as on any device."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.lab.qemu.apt import AptError, PackageInfo, PrivateApt

SUITE = "trixie"
MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# dropbear-bin and what it links against (its Depends, and libc6's own loader).
PACKAGES = ("dropbear-bin", "libtomcrypt1", "libtommath1", "libc6", "libcrypt1", "zlib1g")
BINARIES = ("usr/sbin/dropbear", "usr/bin/dropbearkey")
RECIPE = "1"  # bump when the way a build is made changes


class DropbearUnavailable(HarnessError):
    """The dropbear build could not be fetched or made runnable here."""


@dataclass(frozen=True)
class DropbearBuild:
    root: Path
    version: str

    @property
    def dropbear(self) -> Path:
        return self.root / BINARIES[0]

    @property
    def dropbearkey(self) -> Path:
        return self.root / BINARIES[1]


def default_cache_dir() -> Path:
    named = os.environ.get("HARNESS_DROPBEAR_DIR")
    return Path(named) if named else Path("~/.cache/harness/dropbear").expanduser()


def _tool(*argv: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise DropbearUnavailable(f"{argv[0]} is not installed (apt-get install {argv[0]})") from None
    if done.returncode != 0:
        raise DropbearUnavailable(f"{' '.join(argv[:2])} failed: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


@contextlib.contextmanager
def _lock(cache: Path) -> Iterator[None]:
    """One builder at a time (several test sessions may start together on one host)."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # waits for the other builder to finish: an event
        yield


def ensure_dropbear(cache: Path | None = None) -> DropbearBuild:
    """trixie's dropbear, ready to run: from the cache when its package versions are unchanged."""
    cache = cache or default_cache_dir()
    with _lock(cache):
        try:
            return _ensure_locked(cache)
        except AptError as exc:
            raise DropbearUnavailable(str(exc)) from None


def _ensure_locked(cache: Path) -> DropbearBuild:
    arch = _tool("dpkg", "--print-architecture")
    apt = PrivateApt(cache / "apt", arch, sources=f"deb [signed-by={KEYRING}] {MIRROR} {SUITE} main\n")
    apt.update()
    packages = apt.show(*PACKAGES)
    target = cache / _build_name(packages)
    if (target / "build.json").exists():
        return DropbearBuild(target, packages["dropbear-bin"].version)
    try:
        debs = apt.download(list(packages.values()))
    except AptError:
        apt.update(max_age=0)  # the lists named a version the mirror has replaced since
        packages = apt.show(*PACKAGES)
        target = cache / _build_name(packages)
        debs = apt.download(list(packages.values()))
    building = cache / f".{target.name}.partial"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    for deb in debs.values():
        _tool("dpkg-deb", "-x", str(deb), str(building))
    for binary in BINARIES:
        _relink(building / binary, building, target)
    (building / "build.json").write_text(json.dumps(
        {p.name: p.version for p in packages.values()}, indent=2, sort_keys=True))
    shutil.rmtree(target, ignore_errors=True)
    building.rename(target)  # whole or absent
    build = DropbearBuild(target, packages["dropbear-bin"].version)
    try:
        _tool(str(build.dropbear), "-V")  # the loader and libraries really fit
    except DropbearUnavailable:
        shutil.rmtree(target, ignore_errors=True)
        raise
    for entry in cache.glob("dropbear-*"):
        if entry != target and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
    apt.forget_other_debs(keep=debs)
    return build


def _build_name(packages: dict[str, PackageInfo]) -> str:
    versions = "\n".join(sorted(f"{p.name}={p.version}" for p in packages.values()))
    digest = hashlib.sha256(f"{RECIPE}\n{versions}".encode()).hexdigest()[:10]
    return f"dropbear-{packages['dropbear-bin'].version.replace(':', '_').replace('~', '_')}-{digest}"


def _relink(binary: Path, building: Path, final: Path) -> None:
    """Point `binary` at trixie's loader and libraries, by the paths they will have once `building`
    has become `final`."""
    interpreter = Path(_tool("patchelf", "--print-interpreter", str(binary))).name
    found = sorted(building.glob(f"usr/lib/*/{interpreter}"))
    if not found:
        raise DropbearUnavailable(f"libc6 of {SUITE} has no {interpreter}")
    libdir = final / found[0].parent.relative_to(building)
    _tool("patchelf", "--set-interpreter", str(libdir / interpreter), "--set-rpath", str(libdir), str(binary))
