"""Connecting to PostgreSQL: one pool per process, never one connection shared by tasks."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from core.backoff import Backoff
from core.supervise import OutageLog
from storage.errors import is_transient

log = logging.getLogger("eldercare.storage")

ConnectionInit = Callable[[asyncpg.Connection], Awaitable[None]]


class PoolConnection(asyncpg.Connection):
    """A pooled connection whose release costs no round trip when there is nothing to undo.

    On every release asyncpg rolls back a transaction left open (no query when there is
    none) and then runs its reset query, `SELECT pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL;`: one more round trip per request on the API's hot path. Our
    code leaves no session state for it to undo: advisory locks are transaction-scoped
    (pg_advisory_xact_lock), cursors live inside transactions, and settings are never
    changed with a plain SET outside `init` (use SET LOCAL). The one session state we do
    create is LISTEN, so a connection that has listened gets the full reset on release.
    """

    _listened = False

    async def add_listener(self, channel: str, callback: Any) -> None:
        self._listened = True
        await super().add_listener(channel, callback)

    def get_reset_query(self) -> str:
        if not self._listened:
            return ""
        self._listened = False
        return str(super().get_reset_query())


async def create_pool(
    database_url: str,
    *,
    min_size: int = 1,
    max_size: int = 4,
    init: ConnectionInit | None = None,
) -> asyncpg.Pool:
    """A pool to `database_url`; `init` runs once on every new connection."""
    pool: asyncpg.Pool[Any] = await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        init=init,
        connection_class=PoolConnection,
        # A statement that hangs longer than this is a database in trouble; fail and retry.
        command_timeout=60,
    )
    return pool


async def wait_for_pool(
    database_url: str,
    *,
    user: str,
    min_size: int = 1,
    max_size: int = 4,
    init: ConnectionInit | None = None,
) -> asyncpg.Pool:
    """`create_pool`, retried with backoff while the database is away; `user` names the
    stage in the one line that says so."""
    outage = OutageLog(log, "database_connect", stage=user)
    backoff = Backoff(base_s=0.5, cap_s=30.0)
    while True:
        try:
            pool = await create_pool(database_url, min_size=min_size, max_size=max_size, init=init)
        except Exception as exc:
            if not is_transient(exc):
                raise
            outage.failed(exc, retrying="connecting")
            await asyncio.sleep(backoff.next_delay_s())
            continue
        outage.succeeded()
        return pool


def with_database(url: str, name: str) -> str:
    """The same server URL naming another database (query parameters kept)."""
    return re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", url, count=1)
