"""Signed bundles: manifest.json lists the SHA-256 of every file of a run; manifest.sig signs it.

`verify_bundle` checks a run folder or its zip: the signature over the exact manifest bytes, then every
listed file's hash, then that no file is missing or extra. Each problem names the file."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .signing import SigningKey, key_id, public_from_text, verify_signature

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MANIFEST_VERSION = 1
_CHUNK = 1 << 20


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
    (run_dir / MANIFEST).write_bytes(data)
    (run_dir / SIGNATURE).write_text(base64.b64encode(key.sign(data)).decode() + "\n")
    return run_dir / MANIFEST


def _pub_text(key: SigningKey) -> str:
    from .signing import public_to_text

    return public_to_text(key.public)


def zip_bundle(run_dir: Path, dest: Path | None = None) -> Path:
    """A zip of the run folder (manifest and signature included), written whole or not at all."""
    dest = dest or run_dir.with_suffix(".zip")
    tmp = dest.with_name(dest.name + ".partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(run_dir.rglob("*")):
            if path.is_file() and not path.is_symlink():
                zf.write(path, f"{run_dir.name}/{path.relative_to(run_dir).as_posix()}")
    tmp.replace(dest)
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


class _Tree:
    """A run folder or a zip of one, read the same way."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        self.prefix = ""
        if path.is_file():
            try:
                self.zip = zipfile.ZipFile(path)
            except zipfile.BadZipFile:
                raise ConfigError(f"{path}: neither a run folder nor a zip bundle") from None
            names = [n for n in self.zip.namelist() if n.endswith("/" + MANIFEST) or n == MANIFEST]
            self.prefix = min(names, key=len)[: -len(MANIFEST)] if names else ""
        elif not path.is_dir():
            raise ConfigError(f"{path}: no such bundle")

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

    def read(self, name: str) -> bytes | None:
        try:
            if self.zip:
                return self.zip.read(self.prefix + name)
            return (self.path / name).read_bytes()
        except (KeyError, FileNotFoundError, IsADirectoryError):
            return None

    def sha256(self, name: str) -> str | None:
        if self.zip:
            try:
                with self.zip.open(self.prefix + name) as fh:
                    digest = hashlib.sha256()
                    while chunk := fh.read(_CHUNK):
                        digest.update(chunk)
                    return digest.hexdigest()
            except KeyError:
                return None
        path = self.path / name
        return _sha256_file(path) if path.is_file() else None


def verify_bundle(path: Path, pubkey_text: str | None = None) -> Verification:
    result = Verification()
    tree = _Tree(path)
    manifest_bytes = tree.read(MANIFEST)
    if manifest_bytes is None:
        result.problem(f"{MANIFEST}: missing")
        return result
    signature_text = tree.read(SIGNATURE)
    try:
        manifest = json.loads(manifest_bytes)
        files: dict[str, dict[str, object]] = manifest["files"]
        embedded = manifest["signature"]["public_key"]
    except (ValueError, KeyError, TypeError):
        result.problem(f"{MANIFEST}: not a harness manifest")
        return result
    if pubkey_text is not None:
        public, result.key_source = public_from_text(pubkey_text), "--pubkey"
    else:
        public, result.key_source = public_from_text(embedded), "embedded in the bundle (integrity only)"
    result.key_id = key_id(public)
    if signature_text is None:
        result.problem(f"{SIGNATURE}: missing")
    else:
        try:
            signature = base64.b64decode(signature_text.strip(), validate=True)
        except ValueError:
            signature = b""
        if not verify_signature(public, signature, manifest_bytes):
            result.problem(f"{SIGNATURE}: bad signature over {MANIFEST} (key {result.key_id})")
    present = tree.names() - {MANIFEST, SIGNATURE}
    for name in sorted(files):
        seen = tree.sha256(name)
        result.checked += 1
        if seen is None:
            result.problem(f"{name}: missing")
        elif seen != files[name].get("sha256"):
            result.problem(f"{name}: changed (SHA-256 differs from the manifest)")
    for name in sorted(present - set(files)):
        result.problem(f"{name}: extra file, not in the manifest")
    for problem in tree.strays():
        result.problem(problem)
    return result
