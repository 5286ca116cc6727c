"""Secrets handed to a client (API tokens, session cookies, CSRF tokens) and how they are kept.

A token is 32 random bytes: guessing is hopeless, so a plain SHA-256 of it is a safe thing to keep
and to look up by (a slow password hash would only slow every API call). The client sees the token
once; the database never holds it."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "hpt_"  # harness platform token: recognisable in a leaked log or a secret scanner
SHOWN_PREFIX = 12  # characters of a token kept in clear to name it in lists


def new_api_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def shown_prefix(token: str) -> str:
    return token[:SHOWN_PREFIX]


def looks_like_api_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX) and 20 <= len(value) <= 200


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
