"""Signed bundles: manifest.json lists the SHA-256 of every file of a run; manifest.sig signs it.

`verify_bundle` checks a run folder or its zip (a path, or an open binary file): the signature over the
exact manifest bytes, then every listed file's hash, then that no file is missing or extra. Each
problem names the file. A bundle is untrusted input: manifest and signature are read up to a bound
(harness.report.manifest), a manifest's file names are checked before use, and in a folder nothing
outside it is ever opened (no '..', no symbolic link followed, nothing but regular files read).

Writing is whole or nothing: the old signature goes first, the manifest and then its signature are
each written under a temporary name and renamed, and so is the zip. A failure (a full disk) leaves an
unsigned folder and no zip, never a signature over a bundle that is not complete."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..atomic_file import atomic_output, write_atomic
from ..errors import ConfigError
from .manifest import (
    MANIFEST,
    MANIFEST_VERSION,
    MAX_MANIFEST_BYTES,
    MAX_SIGNATURE_BYTES,
    SIGNATURE,
    BadManifest,
    parse_manifest,
)
from .signing import SigningKey, key_id, public_from_text, verify_signature

__all__ = ["MANIFEST", "SIGNATURE", "MANIFEST_VERSION", "write_manifest", "zip_bundle", "verify_bundle"]
_CHUNK = 1 << 20
# What reading a damaged or hostile zip member raises: a bad CRC, a corrupt deflate stream, an encrypted
# or unsupported entry, a truncated file.
_READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, ValueError, NotImplementedError,
                RuntimeError)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _bundle_files(run_dir: Path) -> Iterator[Path]:
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir).as_posix()
        if path.is_file() and not path.is_symlink() and rel not in (MANIFEST, SIGNATURE):
            yield path


def write_manifest(run_dir: Path, key: SigningKey, run_id: str | None = None) -> Path:
    """Hash every file of the run, write manifest.json and its signature."""
    files = {
        p.relative_to(run_dir).as_posix(): {"sha256": _sha256_file(p), "size": p.stat().st_size}
        for p in _bundle_files(run_dir)
    }
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "run_id": run_id or run_dir.name,
        "algorithm": "sha256",
        "signature": {"scheme": "ed25519", "key_id": key.id, "public_key": _pub_text(key)},
        "files": files,
    }
    data = json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n"
    (run_dir / SIGNATURE).unlink(missing_ok=True)  # until the new one is whole, the folder is unsigned
    write_atomic(run_dir / MANIFEST, data)
    write_atomic(run_dir / SIGNATURE, base64.b64encode(key.sign(data)).decode() + "\n")
    return run_dir / MANIFEST


def _pub_text(key: SigningKey) -> str:
    from .signing import public_to_text

    return public_to_text(key.public)


def zip_bundle(run_dir: Path, dest: Path | None = None) -> Path:
    """A zip of the run folder (manifest and signature included), written whole or not at all."""
    dest = dest or run_dir.with_suffix(".zip")
    with atomic_output(dest, "wb") as out, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(run_dir.rglob("*")):
            if path.is_file() and not path.is_symlink():
                zf.write(path, f"{run_dir.name}/{path.relative_to(run_dir).as_posix()}")
    return dest


@dataclass
class Verification:
    ok: bool = True
    key_id: str = ""
    key_source: str = ""  # "--pubkey FILE" or "embedded (integrity only)"
    problems: list[str] = field(default_factory=list)
    checked: int = 0

    def problem(self, text: str) -> None:
        self.ok = False
        self.problems.append(text)


class TooLarge(Exception):
    """A member larger than the bound it is read with."""


class NotRegular(Exception):
    """A name that is not a regular file inside the bundle (a symbolic link, a FIFO, a folder)."""


class _Tree:
    """A run folder or a zip of one, read the same way, by names already checked to be plain paths
    inside the bundle (harness.report.manifest.unsafe_name)."""

    def __init__(self, source: Path | BinaryIO) -> None:
        self.zip: zipfile.ZipFile | None = None
        self.prefix = ""
        if isinstance(source, str | os.PathLike):
            self.path = Path(source)
            if not self.path.is_file():
                if not self.path.is_dir():
                    raise ConfigError(f"{self.path}: no such bundle")
                return
            opened: Path | BinaryIO = self.path
        else:  # an open binary file (an upload, say): a zip
            self.path = Path(str(getattr(source, "name", None) or "bundle"))
            opened = source
        try:
            self.zip = zipfile.ZipFile(opened)
        except (zipfile.BadZipFile, OSError, ValueError):
            raise ConfigError(f"{self.path}: neither a run folder nor a zip bundle") from None
        names = [n for n in self.zip.namelist() if n.endswith("/" + MANIFEST) or n == MANIFEST]
        self.prefix = min(names, key=len)[: -len(MANIFEST)] if names else ""

    def close(self) -> None:
        if self.zip:
            self.zip.close()  # an open file given to it stays open: it is the caller's

    def names(self) -> set[str]:
        if self.zip:
            return {
                n[len(self.prefix) :]
                for n in self.zip.namelist()
                if n.startswith(self.prefix) and not n.endswith("/")
            }
        return {
            p.relative_to(self.path).as_posix()
            for p in self.path.rglob("*")
            if p.is_file() and not p.is_symlink()
        }

    def strays(self) -> list[str]:
        """What a zip holds besides one copy of each file under the run folder: entries outside it,
        and names given twice (an unzip would show whichever copy it met last)."""
        if not self.zip:
            return []
        entries = [n for n in self.zip.namelist() if not n.endswith("/")]
        problems = [
            f"{n}: extra file, outside the run folder" for n in entries if not n.startswith(self.prefix)
        ]
        seen: set[str] = set()
        for name in entries:
            if name in seen:
                problems.append(f"{name}: in the zip twice")
            seen.add(name)
        return problems

    def _open_in_folder(self, name: str) -> int | None:
        """A descriptor of the regular file `name` under the folder, walking one component at a time
        without following a symbolic link (so nothing outside the folder is reached); None if absent."""
        parts = name.split("/")
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            for part in parts[:-1]:
                next_fd = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = next_fd
            # O_NONBLOCK: a FIFO planted in the folder must not hang verify; it is refused below.
            leaf = os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=fd)
        except FileNotFoundError:
            return None
        except OSError as exc:  # ELOOP (a symbolic link), ENOTDIR, EACCES
            raise NotRegular(name) from exc
        finally:
            os.close(fd)
        if not stat.S_ISREG(os.fstat(leaf).st_mode):
            os.close(leaf)
            raise NotRegular(name)
        os.set_blocking(leaf, True)
        return leaf

    @contextlib.contextmanager
    def _stream(self, name: str) -> Iterator[Any]:
        if self.zip:
            with self.zip.open(self.prefix + name) as fh:
                yield fh
            return
        fd = self._open_in_folder(name)
        if fd is None:
            raise FileNotFoundError(name)
        with os.fdopen(fd, "rb") as fh:
            yield fh

    def read(self, name: str, limit: int) -> bytes | None:
        """The member whole, if it is no longer than `limit` (else TooLarge); None when missing."""
        try:
            if self.zip and self.zip.getinfo(self.prefix + name).file_size > limit:
                raise TooLarge(name)
            with self._stream(name) as fh:
                data: bytes = fh.read(limit + 1)
        except (KeyError, FileNotFoundError):
            return None
        if len(data) > limit:
            raise TooLarge(name)
        return data

    def sha256(self, name: str) -> str | None:
        try:
            with self._stream(name) as fh:
                digest = hashlib.sha256()
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
                return digest.hexdigest()
        except (KeyError, FileNotFoundError):
            return None


def _read_bounded(tree: _Tree, name: str, limit: int, result: Verification) -> bytes | None:
    try:
        data = tree.read(name, limit)
    except TooLarge:
        result.problem(f"{name}: larger than {limit:,} bytes: not a harness {name}")
        return None
    except NotRegular:
        result.problem(f"{name}: not a regular file inside the bundle")
        return None
    except _READ_ERRORS as exc:
        result.problem(f"{name}: unreadable ({str(exc)[:200]})")
        return None
    if data is None:
        result.problem(f"{name}: missing")
    return data


def verify_bundle(source: Path | BinaryIO, pubkey_text: str | None = None) -> Verification:
    """Check a run folder, a zip bundle, or a zip in an open binary file (read from where it stands;
    the caller closes it)."""
    # A key given by the user that is not one is a usage error (ConfigError, exit 2), found first.
    trusted = public_from_text(pubkey_text) if pubkey_text is not None else None
    tree = _Tree(source)
    try:
        return _verify(tree, trusted)
    finally:
        tree.close()


def _verify(tree: _Tree, trusted: Ed25519PublicKey | None) -> Verification:
    result = Verification()
    manifest_bytes = _read_bounded(tree, MANIFEST, MAX_MANIFEST_BYTES, result)
    if manifest_bytes is None:
        return result
    try:
        manifest = parse_manifest(manifest_bytes)
    except BadManifest as exc:
        result.problem(f"{MANIFEST}: not a harness manifest: {exc}")
        return result
    if trusted is not None:
        public, result.key_source = trusted, "--pubkey"
    else:
        try:
            public = public_from_text(manifest.public_key)
        except ConfigError as exc:
            result.problem(f"{MANIFEST}: not a harness manifest: signature.public_key: {exc}")
            return result
        result.key_source = "embedded in the bundle (integrity only)"
    result.key_id = key_id(public)
    signature_text = _read_bounded(tree, SIGNATURE, MAX_SIGNATURE_BYTES, result)
    if signature_text is not None:
        try:
            signature = base64.b64decode(signature_text.strip(), validate=True)
        except ValueError:
            signature = b""
        if not verify_signature(public, signature, manifest_bytes):
            result.problem(f"{SIGNATURE}: bad signature over {MANIFEST} (key {result.key_id})")
    present = tree.names() - {MANIFEST, SIGNATURE}
    for name, entry in sorted(manifest.files.items()):
        result.checked += 1
        try:
            seen = tree.sha256(name)
        except NotRegular:
            result.problem(f"{name}: not a regular file inside the bundle")
            continue
        except _READ_ERRORS as exc:
            result.problem(f"{name}: unreadable ({str(exc)[:200]})")
            continue
        if seen is None:
            result.problem(f"{name}: missing")
        elif seen != entry.sha256:
            result.problem(f"{name}: changed (SHA-256 differs from the manifest)")
    for name in sorted(present - set(manifest.files)):
        result.problem(f"{name}: extra file, not in the manifest")
    for problem in tree.strays():
        result.problem(problem)
    return result
