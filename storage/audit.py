"""The audit log of reads: who read which resident's data, and when.

Reads are the API's hot path, so entries are written in batches by one task per process
(`AuditLog.run`). An entry is never dropped: a full queue makes the reader wait
(backpressure), a failed write is retried, and whatever is still unwritten at shutdown
is written then, or logged entry by entry as lost.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from core.backoff import Backoff
from core.logs import kv

log = logging.getLogger("eldercare.audit")

# Enough for a few seconds of reads at full speed; when full, readers wait for the
# writer instead of an entry being dropped.
QUEUE_ENTRIES = 10_000
BATCH_ENTRIES = 500
# Retries before a batch is given up as lost (and logged, entry by entry).
WRITE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One read of a resident's data."""

    at: datetime
    username: str
    action: str
    resource: str
    home_id: str | None


@dataclass(frozen=True, slots=True)
class StoredAuditEntry:
    """An entry as the log holds it."""

    id: int
    at: datetime
    username: str
    action: str
    resource: str
    home_id: str | None


async def insert_entries(conn: asyncpg.Connection, entries: list[AuditEntry]) -> None:
    """Append entries in one round trip."""
    await conn.copy_records_to_table(
        "audit_log",
        records=[(e.at, e.username, e.action, e.resource, e.home_id) for e in entries],
        columns=("at", "username", "action", "resource", "home_id"),
    )


async def list_entries(
    conn: asyncpg.Connection, *, limit: int, before_id: int | None
) -> list[StoredAuditEntry]:
    """The newest entries (before `before_id` when given), newest first."""
    rows = await conn.fetch(
        "SELECT id, at, username, action, resource, home_id FROM audit_log"
        " WHERE ($1::bigint IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
        before_id,
        limit,
    )
    return [StoredAuditEntry(**dict(r)) for r in rows]


class AuditLog:
    """Collects entries and writes them in batches; `run` is its one task."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._queue: asyncio.Queue[AuditEntry] = asyncio.Queue(QUEUE_ENTRIES)
        self._idle = asyncio.Event()
        self._idle.set()

    async def record(self, entry: AuditEntry) -> None:
        """Queue an entry; waits when the writer is behind by a full queue."""
        await self._queue.put(entry)
        self._idle.clear()

    async def flush(self) -> None:
        """Wait until everything recorded so far is written (or given up and logged)."""
        while not self._queue.empty() or not self._idle.is_set():
            await self._idle.wait()
            if not self._queue.empty():
                await asyncio.sleep(0)

    async def run(self) -> None:
        """Write batches until cancelled; then write what is left."""
        try:
            while True:
                batch = [await self._queue.get()]
                self._idle.clear()
                batch.extend(self._take(BATCH_ENTRIES - 1))
                await self._write(batch)
                if self._queue.empty():
                    self._idle.set()
        finally:
            # Cancelled at shutdown: the pool is still open (the app closes it later).
            left = self._take(self._queue.qsize())
            if left:
                await asyncio.shield(self._write(left, attempts=1))
            self._idle.set()

    def _take(self, most: int) -> list[AuditEntry]:
        taken: list[AuditEntry] = []
        while len(taken) < most and not self._queue.empty():
            taken.append(self._queue.get_nowait())
        return taken

    async def _write(self, batch: list[AuditEntry], attempts: int = WRITE_ATTEMPTS) -> None:
        backoff = Backoff(base_s=0.2, cap_s=5.0)
        for attempt in range(1, attempts + 1):
            try:
                async with self._pool.acquire() as conn:
                    await insert_entries(conn, batch)
                return
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as error:
                log.warning(kv("audit_write_failed", entries=len(batch), attempt=attempt,
                               error=type(error).__name__))  # fmt: skip
                if attempt < attempts:
                    await asyncio.sleep(backoff.next_delay_s())
        for entry in batch:  # never silently: the log keeps what the table could not
            log.error(kv("audit_entry_lost", at=entry.at.isoformat(), username=entry.username,
                         action=entry.action, resource=entry.resource,
                         home_id=entry.home_id or "-"))  # fmt: skip
