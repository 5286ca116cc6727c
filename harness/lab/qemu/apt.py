"""Debian arm64 packages through apt itself, with a private state (lists, cache, an empty dpkg status)
inside the QEMU state folder: the host's sources and archive keys are used, but its package database and
architecture list are never touched, and no root is needed. Resolution is apt's own view of the
mirror, so ABI bumps of the kernel (linux-image-arm64 -> linux-image-6.1.0-NN-arm64) follow by
themselves."""

from __future__ import annotations

import re
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ...errors import HarnessError

ARCH = "arm64"
# Package lists older than this are refreshed before resolving (a build is keyed by exact versions).
LISTS_MAX_AGE = 24 * 3600.0
APT_TIMEOUT = 600.0


class AptError(HarnessError):
    """apt could not refresh, resolve or download what the image needs."""


@dataclass(frozen=True)
class PackageInfo:
    name: str
    version: str
    depends: tuple[str, ...]  # first alternative of each Depends / Pre-Depends, without versions
    sha256: str


class PrivateApt:
    def __init__(self, root: Path, arch: str = ARCH, sources: str | None = None) -> None:
        """`sources`: a sources.list of its own (another Debian release) instead of the host's."""
        self.root = root
        self.arch = arch
        self.sources = sources
        self.lists = root / "lists"
        self.cache = root / "cache"
        self.status = root / "status"
        self.debs = root / "debs"

    def _options(self) -> list[str]:
        return [
            "-o", f"APT::Architecture={self.arch}",
            "-o", f"APT::Architectures::={self.arch}",
            "-o", f"Dir::State::Lists={self.lists}",
            "-o", f"Dir::State::status={self.status}",
            "-o", f"Dir::Cache={self.cache}",
            # Keep apt's parsed cache (container images often switch it off): 0.2 s a query, not 1 s.
            "-o", "Dir::Cache::pkgcache=pkgcache.bin",
            "-o", "Dir::Cache::srcpkgcache=srcpkgcache.bin",
            # Downloads land in our folder, which apt's unprivileged _apt user may not be able to write.
            "-o", "APT::Sandbox::User=root",
            "-o", "Debug::NoLocking=1",
            "-q",
        ] + ([
            "-o", f"Dir::Etc::SourceList={self.root / 'sources.list'}",
            "-o", f"Dir::Etc::SourceParts={self.root / 'sources.list.d'}",
        ] if self.sources is not None else [])

    def _run(self, tool: str, *args: str, cwd: Path | None = None) -> str:
        cmd = [tool, *self._options(), *args]
        try:
            done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=APT_TIMEOUT)
        except FileNotFoundError as exc:
            raise AptError(f"{tool} is not installed (the QEMU tier builds its image with apt)") from exc
        except subprocess.TimeoutExpired as exc:
            raise AptError(f"{tool} {' '.join(args[:2])} took longer than {APT_TIMEOUT:g}s") from exc
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise AptError(f"{tool} {' '.join(args[:2])} failed: {' / '.join(tail)}")
        return done.stdout

    def prepare(self) -> None:
        for path in (self.lists / "partial", self.cache / "archives" / "partial", self.debs):
            path.mkdir(parents=True, exist_ok=True)
        if not self.status.exists():
            self.status.write_text("")  # an empty system: resolution depends on the mirror only
        if self.sources is not None:
            (self.root / "sources.list.d").mkdir(exist_ok=True)
            listed = self.root / "sources.list"
            if not listed.exists() or listed.read_text() != self.sources:
                listed.write_text(self.sources)
                for old in self.lists.glob("*_Packages*"):
                    old.unlink()  # lists of other sources: refresh

    def lists_age(self) -> float | None:
        stamps = [p.stat().st_mtime for p in self.lists.glob("*_Packages*")]
        return time.time() - max(stamps) if stamps else None

    def update(self, max_age: float = LISTS_MAX_AGE) -> None:
        """Refresh the arm64 package lists when missing or old. A failed refresh with lists at hand
        keeps going with them (an offline rebuild); without lists it is an error."""
        self.prepare()
        age = self.lists_age()
        if age is not None and age < max_age:
            return
        try:
            self._run("apt-get", "update")
        except AptError:
            if self.lists_age() is None:
                raise

    def show(self, *names: str) -> dict[str, PackageInfo]:
        """The candidate version of each package, in one apt-cache run."""
        text = self._run("apt-cache", "show", "--no-all-versions", *names)
        found: dict[str, PackageInfo] = {}
        for fields in _parse_stanzas(text):
            depends = tuple(_first_alternatives(fields.get("Pre-Depends", ""))) + tuple(
                _first_alternatives(fields.get("Depends", ""))
            )
            name, version = fields.get("Package", ""), fields.get("Version", "")
            found.setdefault(name, PackageInfo(name, version, depends, fields.get("SHA256", "")))
        missing = [n for n in names if n not in found]
        if missing:
            raise AptError(f"apt knows no {self.arch} package {', '.join(missing)}")
        return found

    def closure(self, roots: list[str], follow: Callable[[str], bool]) -> list[PackageInfo]:
        """`roots` and, recursively, those of their dependencies `follow` accepts."""
        seen: dict[str, PackageInfo] = {}
        level = list(dict.fromkeys(roots))
        while level:
            seen.update(self.show(*level))
            level = sorted({d for name in level for d in seen[name].depends if d not in seen and follow(d)})
        return list(seen.values())

    def download(self, packages: list[PackageInfo]) -> dict[str, Path]:
        """The .deb of each exact version, from apt's mirror; already downloaded ones are reused."""
        wanted = {p.name: self.debs / _deb_name(p, self.arch) for p in packages}
        missing = [f"{p.name}={p.version}" for p in packages if not wanted[p.name].exists()]
        if missing:
            self._run("apt-get", "download", *missing, cwd=self.debs)
        for name, path in wanted.items():
            if not path.exists():
                raise AptError(f"apt-get download did not produce {path.name} for {name}")
        return wanted


    def forget_other_debs(self, keep: dict[str, Path]) -> None:
        """Drop downloaded .debs of versions no longer used (a new kernel ABI is another 60 MB)."""
        for path in self.debs.glob("*.deb"):
            if path not in keep.values():
                path.unlink(missing_ok=True)


def _deb_name(info: PackageInfo, arch: str) -> str:
    # apt-get download writes name_version_arch.deb with the epoch colon escaped as %3a.
    return f"{info.name}_{info.version.replace(':', '%3a')}_{arch}.deb"


def _parse_stanzas(text: str) -> Iterator[dict[str, str]]:
    fields: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, None
            continue
        if line[0] in " \t" and key:
            fields[key] += "\n" + line.strip()
            continue
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    if fields:
        yield fields


def _first_alternatives(field: str) -> Iterator[str]:
    for clause in field.split(","):
        first = clause.split("|")[0].strip()
        name = re.split(r"[\s(:]", first, maxsplit=1)[0]
        if name:
            yield name


def deb_members(deb: Path, wanted: Callable[[str], bool]) -> Iterator[tuple[tarfile.TarInfo, bytes | None]]:
    """Stream the data archive of a .deb (dpkg-deb knows every compression) and hand on the members
    `wanted` accepts, by path without the leading "./"; files come with their bytes."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    finished = False
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
            for member in archive:
                path = member.name.removeprefix("./").rstrip("/")
                if not path or not wanted(path):
                    continue
                data = None
                if member.isfile():
                    extracted = archive.extractfile(member)
                    data = extracted.read() if extracted is not None else b""
                yield member, data
        while proc.stdout.read(1 << 16):  # the tar padding after the end marker
            pass
        finished = True
    except tarfile.TarError as exc:
        raise AptError(f"{deb.name} is damaged: {exc}") from exc
    finally:
        if not finished:
            proc.kill()  # the caller stopped early: dpkg-deb need not write the rest
        proc.stdout.close()
        error = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        if proc.wait() != 0 and finished:
            raise AptError(f"dpkg-deb could not read {deb.name}: {error[-300:]}")
