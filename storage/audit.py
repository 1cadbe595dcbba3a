"""The audit log of reads: who read which residents' data (every home a request
returned), when, and who was refused and why.

Reads are the API's hot path, so entries are written in batches by one task per process
(`AuditLog.run`). An entry is never dropped: a full queue makes the reader wait
(backpressure), a failed write is retried, and whatever is still unwritten at shutdown
is written then, or logged entry by entry as lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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


OUTCOMES = ("read", "refused")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One read of residents' data, or one refused attempt.

    `home_ids` are the homes whose data the answer carried (a list read names them all;
    an empty answer none); `requested_home` the home the request named, which an
    out-of-scope request does not read. `home_id` is kept for one-home reads (the
    column older queries use); given alone, it is the one home read.
    """

    at: datetime
    username: str
    action: str
    resource: str
    home_id: str | None = None
    home_ids: tuple[str, ...] = ()
    requested_home: str | None = None
    outcome: str = "read"
    reason: str | None = None  # why refused: the API's error code

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}")
        if self.home_id is not None and not self.home_ids:
            object.__setattr__(self, "home_ids", (self.home_id,))
        homes = tuple(dict.fromkeys(self.home_ids))  # each home once, in answer order
        object.__setattr__(self, "home_ids", homes)
        object.__setattr__(self, "home_id", homes[0] if len(homes) == 1 else None)


@dataclass(frozen=True, slots=True)
class StoredAuditEntry:
    """An entry as the log holds it."""

    id: int
    at: datetime
    username: str
    action: str
    resource: str
    home_id: str | None
    home_ids: list[str] = field(default_factory=list)
    requested_home: str | None = None
    outcome: str = "read"
    reason: str | None = None


_COLUMNS = (
    "at", "username", "action", "resource", "home_id", "home_ids", "requested_home",
    "outcome", "reason",
)  # fmt: skip
_STORED = "id, " + ", ".join(_COLUMNS)


def _record(e: AuditEntry) -> tuple[Any, ...]:
    return (e.at, e.username, e.action, e.resource, e.home_id, list(e.home_ids),
            e.requested_home, e.outcome, e.reason)  # fmt: skip


async def insert_entries(conn: asyncpg.Connection, entries: list[AuditEntry]) -> None:
    """Append entries in one round trip."""
    await conn.copy_records_to_table(
        "audit_log",
        records=[_record(e) for e in entries],
        columns=_COLUMNS,
    )


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What the audit view asks for; every part optional. `home_id` matches entries that
    read the home or asked for it."""

    username: str | None = None
    home_id: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." ("home.")
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None


def _where(
    wanted: AuditFilter, visible_homes: tuple[str, list[Any]] | None
) -> tuple[str, list[Any]]:
    """The WHERE clause of a filter and its arguments. `visible_homes`: a subquery of the
    homes the reader may see and its arguments, numbered from $1 (None: every entry,
    the admin's view)."""
    params: list[Any] = list(visible_homes[1]) if visible_homes is not None else []

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    conditions = ["TRUE"]
    if wanted.username is not None:
        conditions.append(f"username = {param(wanted.username)}")
    if wanted.home_id is not None:
        home = param(wanted.home_id)
        conditions.append(f"(home_ids @> ARRAY[{home}::text] OR requested_home = {home})")
    if wanted.action is not None:
        if wanted.action.endswith("."):
            conditions.append(f"starts_with(action, {param(wanted.action)})")
        else:
            conditions.append(f"action = {param(wanted.action)}")
    if wanted.outcome is not None:
        conditions.append(f"outcome = {param(wanted.outcome)}")
    if wanted.since is not None:
        conditions.append(f"at >= {param(wanted.since)}")
    if wanted.until is not None:
        conditions.append(f"at < {param(wanted.until)}")
    if wanted.before_id is not None:
        conditions.append(f"id < {param(wanted.before_id)}")
    if visible_homes is not None:
        # A supervisor sees the entries about their homes: read, or asked for.
        homes = visible_homes[0]
        conditions.append(f"(home_ids && ARRAY({homes}) OR requested_home IN ({homes}))")
    return " AND ".join(conditions), params


def _stored(row: asyncpg.Record) -> StoredAuditEntry:
    values = dict(row)
    values["home_ids"] = list(values["home_ids"] or [])
    return StoredAuditEntry(**values)


async def list_entries(
    conn: asyncpg.Connection,
    *,
    limit: int,
    before_id: int | None = None,
    wanted: AuditFilter | None = None,
    visible_homes: tuple[str, list[Any]] | None = None,
) -> list[StoredAuditEntry]:
    """The newest matching entries, newest first. `visible_homes`: (subquery, its
    arguments numbered from $1) limiting the entries to a reader's homes."""
    wanted = wanted or AuditFilter(before_id=before_id)
    sql, args = _where(wanted, visible_homes)
    rows = await conn.fetch(
        f"SELECT {_STORED} FROM audit_log WHERE {sql} ORDER BY id DESC LIMIT ${len(args) + 1}",
        *args,
        limit,
    )
    return [_stored(r) for r in rows]


async def stream_entries(
    conn: asyncpg.Connection,
    wanted: AuditFilter,
    visible_homes: tuple[str, list[Any]] | None,
    most: int,
) -> AsyncIterator[StoredAuditEntry]:
    """Matching entries, newest first, at most `most`, read with a cursor (an export
    need not hold them all in memory). Run inside a transaction."""
    sql, args = _where(wanted, visible_homes)
    query = f"SELECT {_STORED} FROM audit_log WHERE {sql} ORDER BY id DESC LIMIT ${len(args) + 1}"
    async for row in conn.cursor(query, *args, most, prefetch=1000):
        yield _stored(row)


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
                         homes=",".join(entry.home_ids) or "-", outcome=entry.outcome))  # fmt: skip
