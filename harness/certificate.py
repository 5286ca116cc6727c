"""Checking a platform certificate offline: its signature by the platform key, its dates, whether a
signed revocation list names it, and whether a bundle is the one it certifies. Pure apart from
reading the files; `harness verify-certificate` prints what this finds."""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .envelope import Envelope, EnvelopeError, open_envelope, read_envelope
from .waivers import instant_text, parse_instant

CERT_FORMAT = "harness-certificate/1"
REVOCATIONS_FORMAT = "harness-revocations/1"


@dataclass
class CertificateCheck:
    certificate_id: str = ""
    status: str = "invalid"  # valid | expired | revoked | invalid
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "valid" and not self.problems


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_bundle_against(body: dict[str, Any], bundle: Path) -> list[str]:
    """Problems if `bundle` is not the certified one: its SHA-256, its manifest's, its signature."""
    from .report.bundle import verify_bundle

    wanted = body.get("bundle") or {}
    problems = []
    try:
        actual = _sha256(bundle)
    except OSError as exc:
        return [f"{bundle}: cannot read: {exc.strerror or exc}"]
    if actual != wanted.get("sha256"):
        problems.append(
            f"{bundle.name}: SHA-256 {actual[:16]}... is not the certified bundle's "
            f"{str(wanted.get('sha256'))[:16]}..."
        )
        return problems
    try:
        verification = verify_bundle(bundle)
        with zipfile.ZipFile(bundle) as zf:
            manifest = next((n for n in zf.namelist() if n.rsplit("/", 1)[-1] == "manifest.json"), None)
            manifest_sha = hashlib.sha256(zf.read(manifest)).hexdigest() if manifest else ""
    except Exception as exc:  # noqa: BLE001 - any unreadable bundle is a problem to report, not a crash
        return [f"{bundle.name}: cannot be verified: {exc}"]
    if verification.problems:
        problems.append(f"{bundle.name}: " + "; ".join(verification.problems[:3]))
    if manifest_sha != wanted.get("manifest_sha256"):
        problems.append(f"{bundle.name}: its manifest is not the certified one")
    signer = getattr(verification, "key_id", None)
    if signer and signer != wanted.get("lab_key_id"):
        problems.append(
            f"{bundle.name}: signed by {signer}, not by the certified lab key {wanted.get('lab_key_id')}"
        )
    return problems


def check_certificate(
    cert_path: Path,
    platform_key: Ed25519PublicKey,
    *,
    at: dt.datetime,
    bundle: Path | None = None,
    revocations: Path | None = None,
) -> CertificateCheck:
    """Raises EnvelopeError when a file is not a signed platform document at all."""
    result = CertificateCheck()
    envelope: Envelope = read_envelope(cert_path)
    try:
        body = open_envelope(envelope, CERT_FORMAT, platform_key)
    except EnvelopeError as exc:
        result.problems.append(f"{cert_path.name}: {exc}")
        result.body = envelope.body
        result.certificate_id = str(envelope.body.get("certificate_id", ""))
        return result
    result.body = body
    result.certificate_id = str(body.get("certificate_id", ""))
    try:
        issued, expires = parse_instant(str(body["issued"])), parse_instant(str(body["expires"]))
    except (KeyError, ValueError):
        result.problems.append(f"{cert_path.name}: no valid issue or expiry date")
        return result
    if issued > at:
        result.problems.append(f"issued {instant_text(issued)}, after the time of this check")
    result.status = "expired" if expires <= at else "valid"
    if revocations is not None:
        listed = read_envelope(revocations)
        try:
            rl = open_envelope(listed, REVOCATIONS_FORMAT, platform_key)
        except EnvelopeError as exc:
            result.problems.append(f"{revocations.name}: {exc}")
            return result
        result.notes.append(f"revocation list issued {rl.get('issued', '?')}")
        for entry in rl.get("revoked") or []:
            if isinstance(entry, dict) and entry.get("certificate_id") == result.certificate_id:
                result.status = "revoked"
                result.notes.append(f"revoked {entry.get('revoked_at', '?')}: {entry.get('reason', '')}")
    if bundle is not None:
        result.problems.extend(check_bundle_against(body, bundle))
    return result
