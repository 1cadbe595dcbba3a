"""Sign-in throttling (OWASP ASVS V2.2): each attempt is counted, before the password is
checked, against the account name and the client address; past a few free failures the
next attempt must wait, longer after each failure, up to MAX_DELAY. Nothing locks an
account for good: after an attacker's burst the owner waits at most MAX_DELAY."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from storage import login_throttle

# A few mistypes cost nothing; an address gets more (a street office shares one).
ACCOUNT_FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 20
FIRST_DELAY = timedelta(seconds=1)
# The longest wait: an online guesser gets at most 60 guesses an hour at one account
# (ASVS asks for no more than 100), and the owner waits at most this long after a burst.
MAX_DELAY = timedelta(seconds=60)
# A counter with no failure for this long starts again from zero.
RESET_AFTER = timedelta(hours=1)
ACCOUNT_PREFIX = "user:"
ADDRESS_PREFIX = "addr:"


@dataclass(frozen=True, slots=True)
class Throttled:
    """Refused for now; try again after `retry_after_s` seconds."""

    retry_after_s: int


def delay_after(failures: int, free: int) -> timedelta:
    """The wait before the next attempt after `failures` failures: none for the first
    `free`, then 1 s, 2 s, 4 s … up to MAX_DELAY."""
    if failures <= free:
        return timedelta(0)
    doublings = min(failures - free - 1, 16)  # 2**16 s is far past the cap
    return min(FIRST_DELAY * 2**doublings, MAX_DELAY)


def _next_allowed(key: str, failures: int) -> timedelta:
    free = ACCOUNT_FREE_FAILURES if key.startswith(ACCOUNT_PREFIX) else ADDRESS_FREE_FAILURES
    return delay_after(failures, free)


def _keys(username: str, client: str) -> tuple[str, str]:
    return ACCOUNT_PREFIX + username, ADDRESS_PREFIX + client


async def claim(
    conn: asyncpg.Connection, username: str, client: str, now: datetime
) -> Throttled | None:
    """Count this attempt (as a failure until `succeeded` says otherwise); Throttled when
    the account or the address must wait first (then nothing is counted)."""
    result = await login_throttle.claim_attempt(
        conn, _keys(username, client), now, RESET_AFTER, _next_allowed
    )
    if result.allowed:
        return None
    assert result.retry_at is not None
    return Throttled(max(1, math.ceil((result.retry_at - now).total_seconds())))


async def succeeded(conn: asyncpg.Connection, username: str, client: str) -> None:
    """The password was right: the account's counter starts again; the address gets its
    attempt back."""
    account, address = _keys(username, client)
    await login_throttle.attempt_succeeded(conn, account, [address])


async def failed(conn: asyncpg.Connection, now: datetime) -> None:
    """The attempt was wrong (it is counted already): tidy a few stale counters."""
    await login_throttle.forget_stale(conn, now, RESET_AFTER)


async def reset_account(conn: asyncpg.Connection, username: str) -> None:
    """Forget an account's failures (its password was just set by an admin)."""
    await login_throttle.clear_account(conn, ACCOUNT_PREFIX + username)
