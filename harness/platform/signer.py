"""The platform's own Ed25519 key (never a lab's): it signs certificates, waiver files and the
revocation list. Made once in the data folder (mode 0600); several app processes starting at once
on one shared folder all end up with the same key (the file is linked into place exclusively)."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import ConfigError
from ..report.signing import key_id, public_to_text

KEY_NAME = "platform-signing.key"


class PlatformSigner:
    def __init__(self, private: Ed25519PrivateKey) -> None:
        self.private = private

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def public_text(self) -> str:
        return public_to_text(self.public) + "\n"


def _load(path: Path) -> PlatformSigner:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a usable private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: not an Ed25519 private key")
    return PlatformSigner(key)


def load_or_create(data_dir: Path) -> PlatformSigner:
    path = data_dir / KEY_NAME
    if path.exists():
        return _load(path)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = data_dir / f".{KEY_NAME}.{secrets.token_hex(6)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process got there first: use its key
            os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return _load(path)
