"""Keys for the simulated SSH server: its ed25519 host key (made once, or kept in a file so a lab keeps
the same key across restarts), the host key fingerprint clients pin, and authorized_keys parsing."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
from collections.abc import Iterable
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paramiko.pkey import UnknownKeyType


def fingerprint(key: paramiko.PKey) -> str:
    """"SHA256:<base64 without padding>", as `ssh-keygen -lf` prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def _new_ed25519_pem() -> str:
    # paramiko cannot generate ed25519 keys; cryptography can, in the OpenSSH format paramiko reads.
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode()
    )


def new_ed25519_key() -> paramiko.Ed25519Key:
    return paramiko.Ed25519Key(file_obj=io.StringIO(_new_ed25519_pem()))


def load_or_create_host_key(path: Path) -> paramiko.Ed25519Key:
    """The key in `path`; made there (mode 0600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(_new_ed25519_pem())
    return paramiko.Ed25519Key(filename=str(path))


def parse_authorized_keys(text: str) -> list[paramiko.PKey]:
    """Public keys from authorized_keys text. Options before the key type (`from="..." ssh-ed25519
    AAAA...`) are skipped, not honoured; unreadable lines are ignored, as sshd does."""
    keys: list[paramiko.PKey] = []
    for line in text.splitlines():
        fields = line.strip().split()
        if not fields or fields[0].startswith("#"):
            continue
        for i, word in enumerate(fields[:-1]):
            with contextlib.suppress(ValueError, paramiko.SSHException, UnknownKeyType):
                keys.append(paramiko.PKey.from_type_string(word, base64.b64decode(fields[i + 1])))
                break
    return keys


def authorized_key_blobs(keys: Iterable[paramiko.PKey]) -> frozenset[bytes]:
    """Keys compare by their public blob (type + key material)."""
    return frozenset(key.asbytes() for key in keys)
