"""Ingest's one write: a batch of readings, dead letters and heartbeats, idempotent, in
one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from core.pipeline import Heartbeat
from core.readings import Reading
from storage.dead_letters import DEFAULT_PER_DEVICE_HOUR, DeadLetter, write_dead_letters
from storage.heartbeats import write_heartbeats

STAGING_TABLE = "staging_readings"
READING_COLUMNS = (
    "device_id", "home_id", "ts", "seq", "received_at", "channel", "volume_l", "flow_lpm",
    "motion", "room", "alarm", "test", "battery_pct", "online", "rssi_dbm", "fw",
)  # fmt: skip
_COLUMN_LIST = ", ".join(READING_COLUMNS)

# Rows go in in key order: two batches holding the same keys then wait for each other in
# the same order and cannot deadlock (in arrival order, two connections writing overlapping
# rows in opposite orders deadlocked every time; issue 11).
_MERGE_READINGS = f"""
INSERT INTO readings ({_COLUMN_LIST})
SELECT {_COLUMN_LIST} FROM {STAGING_TABLE} ORDER BY device_id, ts, seq
ON CONFLICT (device_id, ts, seq) DO NOTHING
"""

# The newest message of each device by (ts, seq) — never by arrival — sets its state;
# an older message arriving late changes nothing it should not. One exception: the
# online flag. `{"online": false}` is the device's MQTT last will, written when it
# connected, so its ts is stale by design; it takes effect when the broker delivered
# it (received_at), which is when the connection was seen to die.
_MERGE_DEVICE_STATE = f"""
INSERT INTO device_state AS s (
    device_id, last_seen_at, last_seq, last_received_at, battery_pct, battery_at,
    online, status_at, status_seq, rssi_dbm, fw)
SELECT a.device_id, a.ts, a.seq, a.received_at, b.battery_pct, b.ts,
       st.online, st.effective_at, st.seq, st.rssi_dbm, st.fw
FROM (SELECT DISTINCT ON (device_id) device_id, ts, seq, received_at
      FROM {STAGING_TABLE} ORDER BY device_id, ts DESC, seq DESC) a
LEFT JOIN (SELECT DISTINCT ON (device_id) device_id, battery_pct, ts
           FROM {STAGING_TABLE} WHERE battery_pct IS NOT NULL
           ORDER BY device_id, ts DESC, seq DESC) b USING (device_id)
LEFT JOIN (SELECT DISTINCT ON (device_id) device_id, online, seq, rssi_dbm, fw,
                  CASE WHEN online THEN ts ELSE greatest(ts, received_at) END AS effective_at
           FROM {STAGING_TABLE} WHERE channel = 'status' AND online IS NOT NULL
           ORDER BY device_id, effective_at DESC, seq DESC) st USING (device_id)
ORDER BY a.device_id  -- a fixed lock order, so concurrent workers cannot deadlock
ON CONFLICT (device_id) DO UPDATE SET
    last_seq = CASE WHEN (EXCLUDED.last_seen_at, EXCLUDED.last_seq) > (s.last_seen_at, s.last_seq)
                    THEN EXCLUDED.last_seq ELSE s.last_seq END,
    last_seen_at = GREATEST(s.last_seen_at, EXCLUDED.last_seen_at),
    last_received_at = GREATEST(s.last_received_at, EXCLUDED.last_received_at),
    battery_pct = CASE WHEN EXCLUDED.battery_at >= s.battery_at OR s.battery_at IS NULL
                       THEN COALESCE(EXCLUDED.battery_pct, s.battery_pct) ELSE s.battery_pct END,
    battery_at = GREATEST(s.battery_at, EXCLUDED.battery_at),
    online = CASE WHEN s.status_at IS NULL
                    OR (EXCLUDED.status_at, EXCLUDED.status_seq) >= (s.status_at, s.status_seq)
                  THEN COALESCE(EXCLUDED.online, s.online) ELSE s.online END,
    rssi_dbm = CASE WHEN s.status_at IS NULL
                      OR (EXCLUDED.status_at, EXCLUDED.status_seq) >= (s.status_at, s.status_seq)
                    THEN COALESCE(EXCLUDED.rssi_dbm, s.rssi_dbm) ELSE s.rssi_dbm END,
    fw = CASE WHEN s.status_at IS NULL
                OR (EXCLUDED.status_at, EXCLUDED.status_seq) >= (s.status_at, s.status_seq)
              THEN COALESCE(EXCLUDED.fw, s.fw) ELSE s.fw END,
    status_seq = CASE WHEN s.status_at IS NULL
                        OR (EXCLUDED.status_at, EXCLUDED.status_seq) >= (s.status_at, s.status_seq)
                      THEN COALESCE(EXCLUDED.status_seq, s.status_seq) ELSE s.status_seq END,
    status_at = GREATEST(s.status_at, EXCLUDED.status_at)
"""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one committed batch did: `dead_letters` counted, `dead_letters_kept` of them
    stored as rows (the rest only counted: the device was past its hourly rate)."""

    inserted: int
    duplicates: int
    dead_letters: int
    dead_letters_kept: int = 0


async def prepare_ingest_connection(conn: asyncpg.Connection) -> None:
    """Pool init hook: the per-connection staging table COPY writes into."""
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGING_TABLE} "
        f"(LIKE readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )


def reading_record(reading: Reading, home_id: str) -> tuple[object, ...]:
    """A reading as a row in READING_COLUMNS order."""
    return (
        reading.device_id, home_id, reading.ts, reading.seq, reading.received_at,
        reading.channel.value, reading.volume_l, reading.flow_lpm, reading.motion,
        reading.room, reading.alarm, reading.test, reading.battery_pct, reading.online,
        reading.rssi_dbm, reading.fw,
    )  # fmt: skip


async def write_batch(
    conn: asyncpg.Connection,
    readings: Sequence[tuple[object, ...]],
    dead_letters: Sequence[DeadLetter],
    *,
    heartbeats: Sequence[Heartbeat] = (),
    committed_at: datetime | None = None,
    dead_letters_per_device_hour: int = DEFAULT_PER_DEVICE_HOUR,
) -> BatchResult:
    """Store readings (rows from `reading_record`), dead letters (within each device's
    hourly rate) and ingest heartbeats (committed at `committed_at`) in one transaction.

    Idempotent on (device_id, ts, seq): a redelivered message counts as a duplicate.
    The connection must have been prepared by `prepare_ingest_connection`.
    """
    if heartbeats and committed_at is None:
        raise ValueError("heartbeats need the commit time")
    inserted = 0
    letters = None
    async with conn.transaction():
        if readings:
            await conn.copy_records_to_table(
                STAGING_TABLE, records=readings, columns=READING_COLUMNS
            )
            status = await conn.execute(_MERGE_READINGS)
            inserted = int(status.rsplit(" ", 1)[1])
            await conn.execute(_MERGE_DEVICE_STATE)
        if dead_letters:
            letters = await write_dead_letters(conn, dead_letters, dead_letters_per_device_hour)
        if heartbeats:
            assert committed_at is not None
            await write_heartbeats(conn, heartbeats, committed_at)
    kept = letters.kept if letters else 0
    return BatchResult(inserted, len(readings) - inserted, len(dead_letters), kept)
