"""Login throttling: too many failures for one username, or from one address, and
further attempts are refused for a while (429 with Retry-After)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from storage import users
from storage.users import FailureCount

WINDOW = timedelta(minutes=15)
# Five guesses per account per quarter hour stops online guessing without locking out
# someone who mistypes a few times. An address gets more: a street office shares one.
MAX_FAILURES_PER_USERNAME = 5
MAX_FAILURES_PER_ADDRESS = 20


@dataclass(frozen=True, slots=True)
class Throttled:
    """Refused for now; try again after `retry_after_s` seconds."""

    retry_after_s: int


def _wait(count: FailureCount, limit: int, now: datetime) -> int | None:
    if count.count < limit or count.oldest is None:
        return None
    return max(1, math.ceil((count.oldest + WINDOW - now).total_seconds()))


async def check(
    conn: asyncpg.Connection, username: str, client_ip: str, now: datetime
) -> Throttled | None:
    """Throttled if this username or address has failed too often lately, else None."""
    by_user, by_address = await users.login_failures(
        conn, username=username, client_ip=client_ip, since=now - WINDOW
    )
    waits = [
        w
        for w in (
            _wait(by_user, MAX_FAILURES_PER_USERNAME, now),
            _wait(by_address, MAX_FAILURES_PER_ADDRESS, now),
        )
        if w is not None
    ]
    return Throttled(max(waits)) if waits else None
