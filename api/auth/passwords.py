"""Password hashing: argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane), off the
event loop (each hash or check takes tens of milliseconds of CPU)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from api.auth.password_rules import MAX_PASSWORD_CHARS

# OWASP Password Storage Cheat Sheet: m=19 MiB, t=2, p=1 is the floor for argon2id.
# Raising these makes every login slower and stored hashes get upgraded on next login.
MEMORY_KIB = 19_456
TIME_COST = 2
PARALLELISM = 1

_HASHER = PasswordHasher(
    time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM, type=Type.ID
)
# A hash of nobody's password with the same parameters: checking it for an unknown user
# costs what checking a real user costs, so timing does not tell which names exist.
DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$9Uppv4dmakWRTQlNE7oBIQ"
    "$gTk4oLKdSXCzLVv1Fs6V/U24d1t2YXov3OLSVJQJSS8"
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a password matched, and whether its hash should be redone (old parameters)."""

    ok: bool
    needs_rehash: bool = False


def _verify(password_hash: str, password: str) -> Verdict:
    try:
        _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Verdict(False)
    return Verdict(True, _HASHER.check_needs_rehash(password_hash))


async def hash_password(password: str) -> str:
    """The argon2id hash of `password` (PHC string)."""
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify_password(password_hash: str | None, password: str) -> Verdict:
    """Check `password`; with no hash (unknown user) check the dummy and say no."""
    if len(password) > MAX_PASSWORD_CHARS:
        return Verdict(False)
    verdict = await asyncio.to_thread(_verify, password_hash or DUMMY_HASH, password)
    return verdict if password_hash is not None else Verdict(False)


def parameters_match(password_hash: str) -> bool:
    """True when `password_hash` was made with the current parameters."""
    return not _HASHER.check_needs_rehash(password_hash)
