"""Connecting to PostgreSQL: one pool per process, never one connection shared by tasks."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

ConnectionInit = Callable[[asyncpg.Connection], Awaitable[None]]


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
        # A statement that hangs longer than this is a database in trouble; fail and retry.
        command_timeout=60,
    )
    return pool


def with_database(url: str, name: str) -> str:
    """The same server URL naming another database (query parameters kept)."""
    return re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", url, count=1)
