"""The real hdc (client + server) and hdcd (device daemon), built from OpenHarmony's source into a
cache keyed by the sources' hash, like the QEMU image: rebuilt only when the sources change.

The sources are a peers folder as `../shared/peers/hdc` holds it (the developtools_hdc and securec
tarballs, a Makefile, stubs and `build.sh OUTDIR`), or a tarball of such a folder. Where it comes from:
the `source` argument, else $HARNESS_HDC_SOURCE, else `../shared/peers/hdc` beside the repository
(or nearer an ancestor).
The cache is $HARNESS_HDC_DIR, else ~/.cache/harness/hdc; one folder per key holding bin/hdc,
bin/hdcd and build.json. The first build takes ~4.5 min on 2 cores; later calls return at once."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

SOURCE_ENV = "HARNESS_HDC_SOURCE"
CACHE_ENV = "HARNESS_HDC_DIR"
# The lab's system-parameter stub, linked into hdcd instead of the peers' own (see its comment).
LAB_PARAM_STUB = Path(__file__).with_name("ohos_param_lab.cpp")
REPO_ROOT = Path(__file__).resolve().parents[3]
PEERS_SUBDIR = Path("shared", "peers", "hdc")


def default_source() -> Path:
    """`../shared/peers/hdc` beside the repository (or beside a folder holding it, as a git worktree
    under the checkout's parent is); the nearest one wins."""
    for ancestor in REPO_ROOT.parents:
        if (ancestor / PEERS_SUBDIR).is_dir():
            return ancestor / PEERS_SUBDIR
    return REPO_ROOT.parent / PEERS_SUBDIR
TARBALL_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.xz", ".tar.bz2")
LOG_TAIL = 20
# Part of the cache key with the sources and the stub: raise it when a change here changes what is built.
RECIPE = "hdc-build 1"


class HdcBuildError(HarnessError):
    """The sources are missing or unusable, or the build failed (the log's path and tail say why)."""


@dataclass(frozen=True)
class HdcBinaries:
    hdc: Path
    hdcd: Path
    key: str
    built: bool  # True when this call built them, False when they came from the cache

    @property
    def directory(self) -> Path:
        return self.hdc.parent.parent


def default_cache_dir() -> Path:
    named = os.environ.get(CACHE_ENV)
    return Path(named).expanduser() if named else Path("~/.cache/harness/hdc").expanduser()


def resolve_source(source: Path | str | None = None) -> Path:
    """The peers folder or tarball to build from; HdcBuildError (one line) when there is none."""
    given = source if source is not None else os.environ.get(SOURCE_ENV)
    path = Path(given).expanduser() if given else default_source()
    if not path.exists():
        how = (f"give a folder or tarball with build.sh (argument or ${SOURCE_ENV})" if given is None
               else "no such file or folder")
        raise HdcBuildError(f"hdc sources {path}: {how}")
    if path.is_dir():
        if not (path / "build.sh").is_file():
            raise HdcBuildError(f"hdc sources {path}: no build.sh in this folder")
        return path
    if not path.name.endswith(TARBALL_SUFFIXES):
        kinds = ", ".join(TARBALL_SUFFIXES)
        raise HdcBuildError(f"hdc sources {path}: expected a folder or a tarball ({kinds})")
    return path


def _source_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def source_key(source: Path) -> str:
    """The cache key: every source file (name and bytes), the lab's stub and the recipe's version."""
    digest = hashlib.sha256()
    if source.is_dir():
        for path in _source_files(source):
            digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes() + b"\0")
    else:
        digest.update(b"tarball\0" + source.read_bytes())
    digest.update(RECIPE.encode() + b"\0" + LAB_PARAM_STUB.read_bytes())
    return digest.hexdigest()[:16]


def cached(source: Path | str | None = None, cache_dir: Path | None = None) -> HdcBinaries | None:
    """The binaries for these sources when already built, without building."""
    src = resolve_source(source)
    key = source_key(src)
    return _load((cache_dir or default_cache_dir()) / key, key)


def _load(target: Path, key: str) -> HdcBinaries | None:
    if not (target / "build.json").is_file():
        return None
    return HdcBinaries(target / "bin" / "hdc", target / "bin" / "hdcd", key, built=False)


@contextlib.contextmanager
def _lock(cache: Path) -> Iterator[None]:
    """One builder per cache (a lab and a test session may start together); the other waits for it."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build_hdc(source: Path | str | None = None, cache_dir: Path | None = None,
              *, jobs: int | None = None, nice: bool = False) -> HdcBinaries:
    """hdc and hdcd for these sources: from the cache when built before, else built now (`nice`: at a
    lower CPU priority, for a build in the background of other work)."""
    src = resolve_source(source)
    key = source_key(src)
    cache = cache_dir or default_cache_dir()
    target = cache / key
    with _lock(cache):
        found = _load(target, key)
        if found is not None:
            return found
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f".build-{key}-", dir=cache) as work:
            _build(src, Path(work), cache / f"{key}.log", jobs, nice)
            staged = Path(work) / "out"
            (staged / "build.json").write_text(json.dumps({
                "key": key, "source": str(src), "seconds": round(time.monotonic() - started, 1),
            }) + "\n")
            if target.exists():  # a half-made folder of a killed build: never used, replaced whole
                shutil.rmtree(target)
            os.replace(staged, target)
    return HdcBinaries(target / "bin" / "hdc", target / "bin" / "hdcd", key, built=True)


def link_binaries(bins: HdcBinaries, folder: Path) -> None:
    """Symlink hdc and hdcd into `folder` (a lab's bin/), replacing older links atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in (bins.hdc, bins.hdcd):
        tmp = folder / f".{path.name}.link"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(path)
        os.replace(tmp, folder / path.name)


def _build(src: Path, work: Path, log_path: Path, jobs: int | None, nice: bool = False) -> None:
    folder = src if src.is_dir() else _unpack(src, work / "src")
    stub = work / "ohos_param_lab.o"
    env = dict(os.environ)
    if jobs:
        env["MAKEFLAGS"] = f"-j{jobs}"
    # The Makefile takes the daemon's parameter stub object from DSTUBOBJ (an existing file: no rule).
    env["DSTUBOBJ"] = str(stub)
    with log_path.open("wb") as log:
        steps = [
            ["g++", "-std=c++17", "-O1", "-fPIC", "-c", str(LAB_PARAM_STUB), "-o", str(stub)],
            ["bash", str(folder / "build.sh"), str(work / "out")],
        ]
        prefix = ["nice", "-n", "10"] if nice and shutil.which("nice") else []
        for argv in steps:
            argv = prefix + argv
            try:
                done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work,
                                      stdin=subprocess.DEVNULL)
            except FileNotFoundError as exc:
                raise HdcBuildError(f"building hdc needs {exc.filename!r} "
                                    "(see scripts/system-deps.sh)") from None
            if done.returncode != 0:
                log.flush()
                raise HdcBuildError(f"building hdc from {src} failed (exit {done.returncode}; "
                                    f"log {log_path}):\n"
                                    + _tail(log_path))
    for name in ("hdc", "hdcd"):
        if not (work / "out" / "bin" / name).is_file():
            raise HdcBuildError(f"building hdc from {src}: no bin/{name} was made (log {log_path})")
    shutil.rmtree(work / "out" / "build", ignore_errors=True)


def _unpack(tarball: Path, dest: Path) -> Path:
    """Extract a tarball of the peers folder (never outside dest: the 'data' filter refuses links out,
    absolute names and devices); returns the folder holding build.sh. The tarball is the lab admin's
    own hdc source (an argument or $HARNESS_HDC_SOURCE), never an upload or device output, and dest is
    a fresh folder of ours: its names are the sources' own file names."""
    dest.mkdir(parents=True)
    try:
        with tarfile.open(tarball) as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise HdcBuildError(f"hdc sources {tarball}: cannot unpack: {exc}") from None
    for candidate in (dest, *sorted(p for p in dest.iterdir() if p.is_dir())):
        if (candidate / "build.sh").is_file():
            return candidate
    raise HdcBuildError(f"hdc sources {tarball}: no build.sh at the top of the tarball "
                        "or in its first folder")


def _tail(path: Path) -> str:
    lines = path.read_text(errors="replace").splitlines()
    return "\n".join(lines[-LOG_TAIL:])


def main(argv: list[str] | None = None) -> int:
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        print("usage: python -m harness.lab.hdc.build [SOURCE_FOLDER_OR_TARBALL]", file=sys.stderr)
        return 2
    try:
        bins = build_hdc(args[0] if args else None)
    except HdcBuildError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 3 if "failed" in str(exc) else 2
    print(f"{'built' if bins.built else 'cached'}: {bins.hdc} {bins.hdcd}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
