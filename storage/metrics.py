"""Operational figures for /metrics, each from a cheap source.

The readings table is the big one, so it is never counted: the insert counter comes from
PostgreSQL's statistics (summed over a hypertable's chunks), the reporting rate from
device_state. Everything else reads a small table or a partial index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

# A device counts as reporting when a message of it arrived this recently.
REPORTING_WINDOW_S = 300


@dataclass(frozen=True, slots=True)
class Metrics:
    readings_inserted: int  # since the server's statistics were last reset
    readings_estimated_rows: int
    devices_total: int
    devices_reporting: int  # a message received within REPORTING_WINDOW_S
    last_received_age_s: float | None
    dead_letters: int  # ever written (the identity's high-water mark)
    detector_lag_s: float | None  # now - the latest event time the detectors reached
    outbox_backlog: int  # deliveries pending or being sent
    outbox_oldest_due_age_s: float | None
    open_alerts: dict[str, int]  # by severity, every severity present (zero if none)
    # Open and not acknowledged by anyone, by severity (every severity present).
    unacknowledged_alerts: dict[str, int]
    oldest_unacknowledged_age_s: float | None
    heartbeat_age_s: float | None  # now - the latest heartbeat any ingest worker committed
    database_bytes: int  # pg_database_size of the current database


SEVERITIES = ("critical", "high", "medium", "low", "info")


async def collect(conn: asyncpg.Connection, now: datetime) -> Metrics:
    """One snapshot; a handful of small queries in one round trip each."""
    readings = await conn.fetchrow(
        """
        SELECT coalesce(sum(s.n_tup_ins), 0)::bigint AS inserted,
               coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint AS estimated
        FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
        WHERE c.oid = 'readings'::regclass
           OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'readings'::regclass)
        """
    )
    devices = await conn.fetchrow(
        f"""
        SELECT (SELECT count(*) FROM devices WHERE active)::int AS total,
               (count(*) FILTER (WHERE last_received_at
                  > $1::timestamptz - interval '{REPORTING_WINDOW_S} seconds'))::int AS reporting,
               extract(epoch FROM $1::timestamptz - max(last_received_at))::float AS age
        FROM device_state
        """,
        now,
    )
    dead = await conn.fetchval("SELECT coalesce(max(id), 0) FROM dead_letters")
    lag = await conn.fetchval(
        "SELECT extract(epoch FROM $1::timestamptz - max(through))::float FROM detector_state", now
    )
    outbox = await conn.fetchrow(
        "SELECT count(*)::int AS backlog,"
        " extract(epoch FROM $1::timestamptz - min(next_attempt_at))::float AS oldest"
        " FROM alert_deliveries WHERE status IN ('pending', 'sending')",
        now,
    )
    open_rows = await conn.fetch(
        "SELECT severity, count(*)::int AS n,"
        " (count(*) FILTER (WHERE state = 'open'))::int AS unacked,"
        " extract(epoch FROM $1::timestamptz"
        "   - min(opened_at) FILTER (WHERE state = 'open'))::float AS oldest"
        " FROM alerts WHERE state <> 'resolved' GROUP BY severity",
        now,
    )
    heartbeat_age = await conn.fetchval(
        "SELECT extract(epoch FROM $1::timestamptz - max(committed_at))::float"
        " FROM pipeline_heartbeats",
        now,
    )
    size = await conn.fetchval("SELECT pg_database_size(current_database())")
    assert readings is not None and devices is not None and outbox is not None
    open_alerts = dict.fromkeys(SEVERITIES, 0) | {r["severity"]: r["n"] for r in open_rows}
    unacked = dict.fromkeys(SEVERITIES, 0) | {r["severity"]: r["unacked"] for r in open_rows}
    oldest_unacked = max((r["oldest"] for r in open_rows if r["oldest"] is not None),
                         default=None)  # fmt: skip
    oldest = outbox["oldest"]
    return Metrics(
        readings_inserted=readings["inserted"],
        readings_estimated_rows=readings["estimated"],
        devices_total=devices["total"],
        devices_reporting=devices["reporting"],
        last_received_age_s=devices["age"],
        dead_letters=dead,
        detector_lag_s=lag,
        outbox_backlog=outbox["backlog"],
        # Deliveries not yet due (quiet hours, retry back-off) are not late.
        outbox_oldest_due_age_s=None if oldest is None else max(oldest, 0.0),
        open_alerts=open_alerts,
        unacknowledged_alerts=unacked,
        oldest_unacknowledged_age_s=oldest_unacked,
        heartbeat_age_s=heartbeat_age,
        database_bytes=size,
    )
