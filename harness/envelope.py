"""A signed JSON document: what the platform hands out (certificates, waiver files, the revocation
list) and anyone checks offline with the platform's public key.

    {"format": "harness-certificate/1", "body": {...},
     "signature": {"algorithm": "ed25519", "key_id": "SHA256:...", "value": "<base64>"}}

The signature is over the format name, a newline and the body's canonical JSON (keys sorted, no
spaces, UTF-8), so a body cannot be passed off as another kind of document."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .report.signing import key_id, verify_signature

MAX_DOCUMENT = 16 << 20  # bytes: a revocation list of many thousands of entries still fits


class EnvelopeError(Exception):
    """The document is not a well-formed, correctly signed document of the expected kind."""


@dataclass(frozen=True)
class Envelope:
    format: str
    body: dict[str, Any]
    key_id: str
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "body": self.body,
            "signature": {
                "algorithm": "ed25519",
                "key_id": self.key_id,
                "value": base64.b64encode(self.signature).decode(),
            },
        }

    def text(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def canonical_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def signed_bytes(format_name: str, body: dict[str, Any]) -> bytes:
    return format_name.encode() + b"\n" + canonical_bytes(body)


def seal(format_name: str, body: dict[str, Any], private: Ed25519PrivateKey) -> Envelope:
    signature = private.sign(signed_bytes(format_name, body))
    return Envelope(format_name, body, key_id(private.public_key()), signature)


def parse_envelope(data: Any) -> Envelope:
    if not isinstance(data, dict) or set(data) != {"format", "body", "signature"}:
        raise EnvelopeError("not a signed platform document (format, body, signature)")
    sig = data["signature"]
    if not isinstance(data["format"], str) or not isinstance(data["body"], dict) or not isinstance(sig, dict):
        raise EnvelopeError("not a signed platform document (format, body, signature)")
    if sig.get("algorithm") != "ed25519" or not isinstance(sig.get("key_id"), str):
        raise EnvelopeError("signature: only ed25519 with a key_id is accepted")
    try:
        value = base64.b64decode(str(sig.get("value", "")), validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError("signature: value is not base64") from None
    return Envelope(data["format"], data["body"], sig["key_id"], value)


def read_envelope(path: Path | str) -> Envelope:
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_DOCUMENT + 1)
    except OSError as exc:
        raise EnvelopeError(f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_DOCUMENT:
        raise EnvelopeError(f"larger than {MAX_DOCUMENT >> 20} MiB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise EnvelopeError(f"not JSON ({exc})") from None
    return parse_envelope(data)


def open_envelope(envelope: Envelope, format_name: str, public: Ed25519PublicKey | None) -> dict[str, Any]:
    """The body, once the kind and the signature check out (`public` None: the signature is not
    checked, only the shape; callers say so to the user)."""
    if envelope.format != format_name:
        raise EnvelopeError(f"a {envelope.format!r} document, not {format_name!r}")
    if public is not None:
        if envelope.key_id != key_id(public):
            raise EnvelopeError(f"signed by key {envelope.key_id}, not by the platform key {key_id(public)}")
        if not verify_signature(public, envelope.signature, signed_bytes(envelope.format, envelope.body)):
            raise EnvelopeError("the signature does not match the document (altered, or not the platform's)")
    return envelope.body
