"""manifest.json, the signed list of a bundle's files, as `harness verify` reads it: untrusted bytes
until the signature says otherwise, so every field is checked for its type and every file name for
staying inside the bundle before anything is looked up by it. Pure: bytes in, a Manifest or the
reason it is not one out."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MANIFEST_VERSION = 1
# Far above any real run (one commands.log per device: a 1,000-device run lists a few thousand files,
# well under 1 MiB); a bound on what verify reads and parses, whatever a bundle claims.
MAX_MANIFEST_BYTES = 16 << 20
MAX_SIGNATURE_BYTES = 4096  # an Ed25519 signature is 88 characters of base64
MAX_NAME_CHARS = 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BadManifest(ValueError):
    """Why the bytes are not a harness manifest (one line)."""


@dataclass(frozen=True)
class ManifestEntry:
    name: str
    sha256: str
    size: int | None


@dataclass(frozen=True)
class Manifest:
    run_id: str
    public_key: str
    files: dict[str, ManifestEntry]


def unsafe_name(name: str) -> str | None:
    """Why `name` is not a plain relative path inside the bundle (None when it is one)."""
    if not name:
        return "an empty file name"
    if len(name) > MAX_NAME_CHARS:
        return "a file name longer than 1024 characters"
    if any(ord(c) < 32 or c == "\x7f" for c in name) or "\\" in name:
        return f"file name {name[:80]!r} holds control characters or a backslash"
    if name.startswith("/"):
        return f"file name {name[:80]!r} is absolute: it leaves the bundle"
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return f"file name {name[:80]!r} is not a plain path inside the bundle (empty, '.' or '..' part)"
    if name in (MANIFEST, SIGNATURE):
        return f"file name {name!r} is the manifest's own"
    return None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _entry(name: str, raw: Any) -> ManifestEntry:
    if not isinstance(raw, dict):
        raise BadManifest(f"files[{name[:80]!r}] is {_kind(raw)}, not an object")
    digest = raw.get("sha256")
    if not isinstance(digest, str) or not _SHA256.match(digest):
        raise BadManifest(f"files[{name[:80]!r}].sha256 is not 64 lowercase hex digits")
    size = raw.get("size")
    if size is not None and (type(size) is not int or size < 0):
        raise BadManifest(f"files[{name[:80]!r}].size is not a whole number of bytes")
    return ManifestEntry(name=name, sha256=digest, size=size)


def parse_manifest(data: bytes) -> Manifest:
    """The manifest in `data`, checked field by field; BadManifest with the first problem otherwise."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise BadManifest(f"larger than {MAX_MANIFEST_BYTES >> 20} MiB")
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise BadManifest(f"not JSON ({str(exc)[:80]})") from None
    if not isinstance(raw, dict):
        raise BadManifest(f"the document is {_kind(raw)}, not an object")
    files = raw.get("files")
    if not isinstance(files, dict):
        raise BadManifest(f"'files' is {_kind(files)}, not an object of file names")
    signature = raw.get("signature")
    if not isinstance(signature, dict) or not isinstance(signature.get("public_key"), str):
        raise BadManifest("'signature.public_key' is missing or not a string")
    run_id = raw.get("run_id", "")
    entries: dict[str, ManifestEntry] = {}
    for name, entry in files.items():
        why = unsafe_name(name)
        if why is not None:
            raise BadManifest(why)
        entries[name] = _entry(name, entry)
    return Manifest(run_id=run_id if isinstance(run_id, str) else "", public_key=signature["public_key"],
                    files=entries)
