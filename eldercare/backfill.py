"""Writing simulated history straight into storage (the demo's weeks of the past).

History is not device traffic: it goes through the wire decoder, as every message
does, but not through the broker, so weeks of it take seconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from core.registry import RegistryRow
from ingest.wire import Rejection, decode
from storage.ingest_writes import prepare_ingest_connection, reading_record, write_batch

BACKFILL_BATCH_ROWS = 5000


async def backfill(
    database_url: str,
    registry: Sequence[RegistryRow],
    messages: Sequence[tuple[str, bytes]],
    after: datetime | None = None,
) -> int:
    """Store (topic, payload) messages idempotently; returns how many were new. Readings
    at or before `after` (already stored by an earlier run) are skipped unwritten."""
    types = {row.device_id: row.type for row in registry}
    homes = {row.device_id: row.home_id for row in registry}
    conn = await asyncpg.connect(database_url)
    stored = 0
    try:
        await prepare_ingest_connection(conn)
        rows: list[tuple[object, ...]] = []
        for topic, payload in messages:
            for reading in decode(topic, payload, types.get, datetime.now(UTC)):
                if isinstance(reading, Rejection):
                    raise ValueError(f"simulated message rejected ({reading.reason}): {topic}")
                if after is not None and reading.ts <= after:
                    continue
                # History arrived when it was measured. Stamped with the time of writing,
                # every past link loss (`{"online": false}`, which takes effect when it is
                # received) would outrank the later "online" messages, and devices that
                # are fine would read offline: the demo's "33 % online".
                reading = dataclasses.replace(reading, received_at=reading.ts)
                rows.append(reading_record(reading, homes[reading.device_id]))
            if len(rows) >= BACKFILL_BATCH_ROWS:
                stored += (await write_batch(conn, rows, [])).inserted
                rows.clear()
        if rows:
            stored += (await write_batch(conn, rows, [])).inserted
    finally:
        await conn.close()
    return stored
