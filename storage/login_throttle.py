"""The sign-in counters: one row per account name and per client address, claimed under
a row lock so that simultaneous guesses are each counted (api/auth/throttle.py decides
the delays)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

# Stale counters removed per failure: keeps the table the size of the recent attempts
# without a job of its own.
STALE_ROWS_PER_CLEANUP = 100


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of claiming an attempt: allowed, or refused until `retry_at`."""

    allowed: bool
    retry_at: datetime | None = None


async def claim_attempt(
    conn: asyncpg.Connection,
    keys: Sequence[str],
    now: datetime,
    reset_after: timedelta,
    next_allowed: Callable[[str, int], timedelta],
) -> Claim:
    """Count one attempt against every key, or none when any key must still wait.

    Each key's row is locked in the order given (callers always give the account first),
    so concurrent attempts for a key are counted one after another: of 200 simultaneous
    guesses only those the delays allow are let through. `next_allowed(key, failures)` is
    the wait after that many failures; a counter idle for `reset_after` starts again.
    """
    async with conn.transaction():
        rows = []
        for key in keys:
            await conn.execute(
                "INSERT INTO login_throttle (key) VALUES ($1) ON CONFLICT (key) DO NOTHING", key
            )
            rows.append(
                await conn.fetchrow(
                    "SELECT key, failures, last_failure_at, next_attempt_at FROM login_throttle"
                    " WHERE key = $1 FOR UPDATE",
                    key,
                )
            )
        waits = [r["next_attempt_at"] for r in rows if (r["next_attempt_at"] or now) > now]
        if waits:
            return Claim(False, max(waits))
        for row in rows:
            stale = row["last_failure_at"] is None or row["last_failure_at"] <= now - reset_after
            failures = 1 if stale else row["failures"] + 1
            await conn.execute(
                "UPDATE login_throttle SET failures = $2, last_failure_at = $3,"
                " next_attempt_at = $4 WHERE key = $1",
                row["key"],
                failures,
                now,
                now + next_allowed(row["key"], failures),
            )
    return Claim(True)


async def attempt_succeeded(
    conn: asyncpg.Connection, account_key: str, other_keys: Sequence[str]
) -> None:
    """The password was right: the account starts afresh; the other keys (the address)
    take back the attempt counted in advance, and keep their delay."""
    await conn.execute("DELETE FROM login_throttle WHERE key = $1", account_key)
    if other_keys:
        await conn.execute(
            "UPDATE login_throttle SET failures = greatest(failures - 1, 0)"
            " WHERE key = ANY($1::text[])",
            list(other_keys),
        )


async def forget_stale(conn: asyncpg.Connection, now: datetime, reset_after: timedelta) -> None:
    """Drop a few counters nobody has failed on within `reset_after` and that make no one
    wait."""
    await conn.execute(
        "DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle"
        " WHERE coalesce(last_failure_at, '-infinity') < $1"
        " AND coalesce(next_attempt_at, '-infinity') < $2 LIMIT $3)",
        now - reset_after,
        now,
        STALE_ROWS_PER_CLEANUP,
    )


async def clear_account(conn: asyncpg.Connection, account_key: str) -> None:
    """Reset an account's counter (an admin set a new password)."""
    await conn.execute("DELETE FROM login_throttle WHERE key = $1", account_key)
