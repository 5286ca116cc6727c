"""The checks after the size limit, on an upload already on disk under a name of our own:

  zip structure -> manifest and every file's SHA-256 -> Ed25519 signature by a key registered to the
  uploading organisation -> results.json against the schema.

The manifest, hash and signature checks are the bundle's own `verify_bundle` (the same code as
`harness verify`), run once: it checks the signature with the key the manifest names, and that key
must then be, byte for byte, one registered to the uploader's organisation and not revoked."""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization

from ...errors import ConfigError
from ...report.bundle import MANIFEST, SIGNATURE, verify_bundle
from ...report.signing import key_id, public_from_text
from ..config import Limits
from ..results_doc import RunSummary, read_results
from .refusal import Refused, Step, summarise
from .zipcheck import check_layout

RESULTS_JSON = "results.json"


@dataclass(frozen=True)
class RegisteredKey:
    id: int  # the database row
    key_id: str
    org_id: int
    public_key: str
    revoked: bool


class KeyRegistry(Protocol):
    def find(self, key_id: str) -> RegisteredKey | None: ...


@dataclass(frozen=True)
class CheckedBundle:
    run_id: str
    manifest_sha256: str
    key: RegisteredKey
    results: RunSummary
    files: int


def _raw(public_text: str) -> bytes:
    return public_from_text(public_text).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def _signature_problems(problems: list[str]) -> tuple[list[str], list[str]]:
    sig = [p for p in problems if p.startswith(f"{SIGNATURE}:")]
    return [p for p in problems if p not in sig], sig


def _key_for(manifest: dict[str, object], org_id: int, registry: KeyRegistry) -> RegisteredKey:
    signature = manifest.get("signature")
    embedded = signature.get("public_key") if isinstance(signature, dict) else None
    if not isinstance(embedded, str):
        raise Refused(Step.SIGNATURE, f"{MANIFEST}: names no signing key")
    try:
        embedded_raw = _raw(embedded)
        kid = key_id(public_from_text(embedded))
    except ConfigError as exc:
        raise Refused(Step.SIGNATURE, f"{MANIFEST}: {exc}") from None
    found = registry.find(kid)
    if found is None:
        raise Refused(Step.SIGNATURE, f"signed by key {kid}, which is not registered on this platform")
    if found.org_id != org_id:
        raise Refused(Step.SIGNATURE, f"signed by key {kid}, which is registered to another organisation")
    if found.revoked:
        raise Refused(Step.SIGNATURE, f"signed by key {kid}, which has been revoked")
    if _raw(found.public_key) != embedded_raw:  # cannot differ for one key id; checked all the same
        raise Refused(Step.SIGNATURE, f"signed by a key that only shares the id {kid}")
    return found


def check_bundle(path: Path, org_id: int, registry: KeyRegistry, limits: Limits) -> CheckedBundle:
    """Raise Refused at the first check that fails; otherwise what the bundle says, verified."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise Refused(Step.ZIP, "not a zip file") from None
    with zf:
        layout = check_layout(zf.infolist(), path.stat().st_size, limits)
        try:
            manifest_bytes = zf.read(layout.prefix + MANIFEST)
            manifest = json.loads(manifest_bytes)
            if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
                raise ValueError("no file list")
        except (ValueError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
            raise Refused(Step.MANIFEST, f"{MANIFEST}: not a harness manifest ({exc})") from None
        listed = manifest["files"]
        if RESULTS_JSON not in listed:
            raise Refused(Step.MANIFEST, f"{RESULTS_JSON}: not in the manifest (the bundle holds no results)")
        try:
            verification = verify_bundle(path)  # signature by the embedded key, hashes, missing, extra
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            ValueError,
            RuntimeError,
            NotImplementedError,
            ConfigError,
        ) as exc:
            raise Refused(Step.MANIFEST, f"an entry cannot be read: {exc}") from None
        files_problems, sig_problems = _signature_problems(verification.problems)
        if files_problems:
            raise Refused(Step.MANIFEST, summarise(files_problems))
        key = _key_for(manifest, org_id, registry)
        if sig_problems:
            raise Refused(Step.SIGNATURE, summarise(sig_problems))
        info = zf.getinfo(layout.prefix + RESULTS_JSON)
        if info.file_size > limits.max_results_json:
            raise Refused(
                Step.RESULTS, f"{RESULTS_JSON}: {info.file_size} bytes (at most {limits.max_results_json})"
            )
        results = read_results(zf.read(info))
    run_id = str(manifest.get("run_id") or results.run_id)
    return CheckedBundle(
        run_id=run_id[:200],
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        key=key,
        results=results,
        files=verification.checked,
    )
