"""Random session and token values, and the digests under which they are stored."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32  # 256 bits: not guessable, whatever the request rate
BEARER_PREFIX = "ect_"  # makes a leaked token recognisable to secret scanners


def new_secret() -> str:
    """A fresh random value for a cookie or CSRF token (URL-safe text)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_bearer_token() -> str:
    """A fresh integration token."""
    return BEARER_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def digest(secret: str) -> str:
    """What is stored for a secret: its SHA-256 (a 256-bit random value needs no salt)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return secrets.compare_digest(a.encode(), b.encode())
