"""Secrets the platform must use again (webhook HMAC keys and URLs, the SMTP password), kept in the
database only encrypted: AES-256-GCM under the server key, a 32-byte file `secrets/server.key` in the
data folder (mode 0600, made at first need; several app processes share it as they share the
bundles). Each value is bound to its purpose (the associated data), so a ciphertext moved to another
column does not decrypt. Losing the key makes the stored secrets unusable: add the endpoints again."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_FILE = Path("secrets") / "server.key"
PREFIX = "v1:"


class SecretUnreadable(Exception):
    """A stored secret that this server key cannot open (another key, or damaged)."""


def load_key(data_dir: Path) -> bytes:
    """The server key, made on first use. Two processes racing here both end with the same key."""
    path = data_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_bytes(32))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs is kept
        except FileExistsError:
            pass
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    key = path.read_bytes()
    if len(key) != 32:
        raise SecretUnreadable(f"{path}: not a 32-byte key")
    return key


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def of(cls, data_dir: Path) -> SecretBox:
        return cls(load_key(data_dir))

    def seal(self, plaintext: str, purpose: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), purpose.encode("ascii"))
        return PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, stored: str, purpose: str) -> str:
        if not stored.startswith(PREFIX):
            raise SecretUnreadable("not a sealed value")
        try:
            raw = base64.b64decode(stored[len(PREFIX) :], validate=True)
            return self._aead.decrypt(raw[:12], raw[12:], purpose.encode("ascii")).decode("utf-8")
        except (ValueError, InvalidTag) as exc:
            raise SecretUnreadable(f"cannot open the stored {purpose} (another server key?)") from exc
