"""What makes one emulated board itself: hostname, root password, SSH host key and the key a harness
logs in with. Written as a second cpio archive the kernel unpacks over the shared base image, so the
base stays cached while every board gets its own keys."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ...errors import HarnessError
from ...secrets import Secret, register
from .cpio import CpioArchive


class ProvisionError(HarnessError):
    pass


@dataclass(frozen=True)
class BoardIdentity:
    hostname: str
    user: str
    password: Secret
    host_key_fingerprint: str  # "SHA256:<base64>", as ssh-keygen -lf prints it
    client_key: Path  # private key (OpenSSH format) whose public half is in root's authorized_keys

    def __repr__(self) -> str:
        return f"BoardIdentity({self.hostname!r}, user={self.user!r}, host_key={self.host_key_fingerprint})"


def _openssh_private(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )


def _openssh_public(key: Ed25519PrivateKey, comment: str) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{raw.decode()} {comment}\n"


def fingerprint_of(public_line: str) -> str:
    blob = base64.b64decode(public_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def hash_password(password: str) -> str:
    """SHA-512 crypt ($6$), which both busybox login and sshd (libcrypt) verify. The password goes to
    openssl on stdin, never on a command line."""
    try:
        done = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password + "\n",
                              capture_output=True, text=True, timeout=30)
    except FileNotFoundError as exc:
        raise ProvisionError("openssl is needed to hash the board's root password") from exc
    if done.returncode != 0 or not done.stdout.startswith("$6$"):
        raise ProvisionError("openssl passwd -6 failed to hash the board's root password")
    return done.stdout.strip()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key kept in `path`, made on first use: a board keeps its host key across starts,
    so a fingerprint pinned in an inventory stays valid."""
    if path.exists():
        key = serialization.load_ssh_private_key(path.read_bytes(), None)
        if isinstance(key, Ed25519PrivateKey):
            return key
    key = Ed25519PrivateKey.generate()
    _write_private(path, _openssh_private(key))
    return key


def _password(path: Path, wanted: str | None) -> tuple[str, str]:
    """(password, its crypt hash): the one asked for, else the one kept from before, else a new one."""
    if path.exists():
        saved = json.loads(path.read_text())
        if wanted is None or wanted == saved["password"]:
            return saved["password"], saved["hash"]
    password = wanted or secrets.token_urlsafe(12)
    register(password)
    record = {"password": password, "hash": hash_password(password)}
    _write_private(path, json.dumps(record).encode())
    return password, record["hash"]


def provision(board_dir: Path, hostname: str, password: str | None = None) -> tuple[BoardIdentity, bytes]:
    """Keys and password of a board (kept in board_dir, mode 0700, for later starts); returns the
    identity and the overlay archive (gzip'd cpio)."""
    board_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(board_dir, 0o700)
    host_key = _key(board_dir / "ssh_host_ed25519_key")
    client_key = _key(board_dir / "client_ed25519")
    password, password_hash = _password(board_dir / "password.json", password)
    return _finish(board_dir, hostname, password, host_key, client_key, password_hash)


def _finish(board_dir: Path, hostname: str, password: str, host_key: Ed25519PrivateKey,
            client_key: Ed25519PrivateKey, password_hash: str) -> tuple[BoardIdentity, bytes]:
    register(password)
    host_public = _openssh_public(host_key, f"root@{hostname}")
    overlay = CpioArchive()
    overlay.add_file("etc/hostname", f"{hostname}\n".encode())
    overlay.add_file("etc/shadow", (
        f"root:{password_hash}:19700:0:99999:7:::\n"
        "sshd:!:19700::::::\nnobody:!:19700::::::\n"
    ).encode(), 0o600)
    overlay.add_file("etc/ssh/ssh_host_ed25519_key", _openssh_private(host_key), 0o600)
    overlay.add_file("etc/ssh/ssh_host_ed25519_key.pub", host_public.encode())
    overlay.add_dir("root", 0o700)
    overlay.add_dir("root/.ssh", 0o700)
    overlay.add_file("root/.ssh/authorized_keys", _openssh_public(client_key, "harness").encode(), 0o600)
    identity = BoardIdentity(
        hostname=hostname, user="root", password=Secret(inline=password),
        host_key_fingerprint=fingerprint_of(host_public), client_key=board_dir / "client_ed25519",
    )
    return identity, overlay.to_gzip()
