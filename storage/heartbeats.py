"""Ingest's committed heartbeats (core/pipeline.py), kept for a while per worker."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from core.pipeline import Heartbeat

# A worker's heartbeats sent more than this before its newest are trimmed as new ones are
# written: about 8,640 rows a worker at the default 10 s, however long ingest runs.
KEEP = timedelta(days=1)


async def write_heartbeats(
    conn: asyncpg.Connection, heartbeats: Sequence[Heartbeat], committed_at: datetime
) -> None:
    """Store heartbeats (a redelivered one is a no-op) and trim each worker's oldest.

    Runs inside the caller's transaction, so a heartbeat is committed with its batch.
    """
    if not heartbeats:
        return
    ordered = sorted(heartbeats, key=lambda h: (h.worker, h.sent_at, h.seq))  # fixed lock order
    await conn.execute(
        "INSERT INTO pipeline_heartbeats (worker, seq, sent_at, received_at, committed_at)"
        " SELECT w, s, sent, received, $5 FROM unnest($1::text[], $2::bigint[],"
        "   $3::timestamptz[], $4::timestamptz[]) AS u(w, s, sent, received)"
        " ON CONFLICT (worker, sent_at, seq) DO NOTHING",
        [h.worker for h in ordered], [h.seq for h in ordered],
        [h.sent_at for h in ordered], [h.received_at for h in ordered], committed_at,
    )  # fmt: skip
    newest: dict[str, datetime] = {}
    for beat in ordered:
        newest[beat.worker] = max(newest.get(beat.worker, beat.sent_at), beat.sent_at)
    for worker, sent_at in newest.items():
        await conn.execute(
            "DELETE FROM pipeline_heartbeats WHERE worker = $1 AND sent_at < $2",
            worker, sent_at - KEEP,
        )  # fmt: skip


async def last_heartbeat_seq(conn: asyncpg.Connection, worker: str) -> int | None:
    """The seq of `worker`'s newest committed heartbeat, None if it has none."""
    seq: int | None = await conn.fetchval(
        "SELECT seq FROM pipeline_heartbeats WHERE worker = $1 ORDER BY sent_at DESC LIMIT 1",
        worker,
    )
    return seq


async def recent_heartbeats(
    conn: asyncpg.Connection, worker: str, limit: int = 100
) -> list[Heartbeat]:
    """The newest committed heartbeats of `worker`, newest first."""
    rows = await conn.fetch(
        "SELECT worker, seq, sent_at, received_at FROM pipeline_heartbeats"
        " WHERE worker = $1 ORDER BY sent_at DESC LIMIT $2",
        worker, limit,
    )  # fmt: skip
    return [Heartbeat(r["worker"], r["seq"], r["sent_at"], r["received_at"]) for r in rows]
