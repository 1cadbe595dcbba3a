"""Deleting what is past its retention period (core/retention.py says how long).

Readings on a TimescaleDB hypertable go by whole chunks (`drop_chunks`: no row-by-row
work, space back at once), then the rows of the one chunk straddling the cutoff; on plain
PostgreSQL, and for every other table, in batches of BATCH_ROWS, each its own short
transaction, so ingest and the console never wait long for a lock.

The audit log and the alert history are append-only: their triggers let a delete through
only in a transaction that sets `eldercare.lifecycle = 'retention'` (migration 060), which
only this module does, and every transaction that deletes audit entries writes an audit
entry saying so.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from core.logs import kv
from core.retention import KINDS, RetentionPolicy
from storage.audit import AuditEntry, insert_entries

log = logging.getLogger("eldercare.retention")

# Rows per delete statement: large enough that a year of readings goes in minutes, small
# enough that each transaction holds its locks for well under a second.
BATCH_ROWS = 5000
RETENTION_ACTOR = "retention"
# Held for a whole run, so two processes (replicas of `eldercare run`, or a manual run
# beside the job) never delete the same rows at once; the second skips its turn.
RETENTION_LOCK_ID = 0x72657465  # "rete"


@dataclass(frozen=True, slots=True)
class Due:
    """One kind of data as `eldercare retention show` reports it."""

    kind: str
    keep_days: int
    cutoff: datetime
    oldest: datetime | None
    due_rows: int


@dataclass(slots=True)
class RetentionReport:
    """What one run removed: rows per table, and chunks dropped whole."""

    rows: Counter[str] = field(default_factory=Counter)
    chunks_dropped: int = 0
    skipped: bool = False  # another process was running retention

    def summary(self) -> str:
        """`readings=12 dead_letters=0 ... chunks=3`, for the log and the audit entry."""
        if self.skipped:
            return "nothing: another process is running retention"
        parts = [f"{table}={count}" for table, count in sorted(self.rows.items())]
        return " ".join([*parts, f"chunks={self.chunks_dropped}"])


# The oldest moment and the count of rows due, per kind (the alerts' count is of alerts).
# Each part is its own index probe: a scan of the whole readings table would take hours.
_DUE_SQL = {
    "readings": "SELECT (SELECT min(ts) FROM readings),"
    " (SELECT count(*) FROM readings WHERE ts < $1)",
    "dead_letters": "SELECT (SELECT min(received_at) FROM dead_letters),"
    " (SELECT count(*) FROM dead_letters WHERE received_at < $1)",
    "findings": "SELECT (SELECT min(at) FROM findings),"
    " (SELECT count(*) FROM findings WHERE at < $1 AND taken_at IS NOT NULL)",
    "alerts": "SELECT (SELECT min(resolved_at) FROM alerts WHERE state = 'resolved'),"
    " (SELECT count(*) FROM alerts WHERE state = 'resolved' AND resolved_at < $1)",
    "audit": "SELECT (SELECT min(at) FROM audit_log),"
    " (SELECT count(*) FROM audit_log WHERE at < $1)",
}


async def due(conn: asyncpg.Connection, policy: RetentionPolicy, now: datetime) -> list[Due]:
    """Per kind: the period kept, the cutoff as of `now`, the oldest row, the rows due."""
    found = []
    for kind in KINDS:
        cutoff = policy.cutoff(kind, now)
        oldest, count = await conn.fetchrow(_DUE_SQL[kind], cutoff)
        found.append(Due(kind, policy.days(kind), cutoff, oldest, count))
    return found


async def readings_hypertable(conn: asyncpg.Connection) -> bool:
    """True when readings is a TimescaleDB hypertable here (the extension may be
    installed while readings stayed a plain table)."""
    has_extension = await conn.fetchval(
        "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
    )
    if not has_extension:
        return False
    return bool(
        await conn.fetchval(
            "SELECT count(*) FROM timescaledb_information.hypertables"
            " WHERE hypertable_name = 'readings' AND hypertable_schema = current_schema()"
        )
    )


async def expire(
    pool: asyncpg.Pool,
    policy: RetentionPolicy,
    now: datetime,
    *,
    actor: str = RETENTION_ACTOR,
    batch_rows: int = BATCH_ROWS,
) -> RetentionReport:
    """Delete everything past its period as of `now`; audited (one entry per batch of
    audit entries deleted, and one for the run)."""
    report = RetentionReport()
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RETENTION_LOCK_ID):
            report.skipped = True
            log.info(kv("retention_skipped", reason="another process is running retention"))
            return report
        try:
            await _expire_all(conn, policy.cutoffs(now), now, actor, batch_rows, report)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", RETENTION_LOCK_ID)
    log.info(kv("retention_run", **{k: v for k, v in report.rows.items()},
                chunks_dropped=report.chunks_dropped))  # fmt: skip
    return report


async def _expire_all(
    conn: asyncpg.Connection,
    cutoffs: dict[str, datetime],
    now: datetime,
    actor: str,
    batch_rows: int,
    report: RetentionReport,
) -> None:
    """Every kind in turn, oldest-referenced last; then the run's own audit entry."""
    if await readings_hypertable(conn):
        dropped = await conn.fetch(
            "SELECT drop_chunks('readings', older_than => $1::timestamptz)",
            cutoffs["readings"],
        )
        report.chunks_dropped = len(dropped)
    report.rows["readings"] += await _batches(conn, _READINGS, cutoffs["readings"], batch_rows)
    report.rows["dead_letters"] += await _batches(
        conn, _DEAD_LETTERS, cutoffs["dead_letters"], batch_rows
    )
    report.rows["dead_letter_counts"] += await _batches(
        conn, _DEAD_LETTER_COUNTS, cutoffs["dead_letters"], batch_rows
    )
    report.rows["findings"] += await _batches(conn, _FINDINGS, cutoffs["findings"], batch_rows)
    await _expire_alerts(conn, cutoffs["alerts"], batch_rows, report)
    await _expire_audit(conn, cutoffs["audit"], now, actor, batch_rows, report)
    async with conn.transaction():
        await insert_entries(conn, [AuditEntry(now, actor, "retention.run", report.summary())])


_READINGS = (
    "DELETE FROM readings WHERE (device_id, ts, seq) IN"
    " (SELECT device_id, ts, seq FROM readings WHERE ts < $1 LIMIT $2)"
)
_DEAD_LETTERS = (
    "DELETE FROM dead_letters WHERE id IN"
    " (SELECT id FROM dead_letters WHERE received_at < $1 LIMIT $2)"
)
_DEAD_LETTER_COUNTS = (
    "DELETE FROM dead_letter_counts WHERE (device_id, hour, reason) IN"
    " (SELECT device_id, hour, reason FROM dead_letter_counts WHERE hour < $1 LIMIT $2)"
)
# Untaken findings stay whatever their age: the alert stage has yet to see them.
_FINDINGS = (
    "DELETE FROM findings WHERE id IN (SELECT id FROM findings"
    " WHERE at < $1 AND taken_at IS NOT NULL LIMIT $2)"
)


async def _batches(conn: asyncpg.Connection, sql: str, cutoff: datetime, batch_rows: int) -> int:
    """Run a `DELETE ... LIMIT $2` until it deletes less than a batch; rows deleted."""
    total = 0
    while True:
        status = await conn.execute(sql, cutoff, batch_rows)
        deleted = int(status.split()[-1])
        total += deleted
        if deleted < batch_rows:
            return total


async def _expire_alerts(
    conn: asyncpg.Connection, cutoff: datetime, batch_rows: int, report: RetentionReport
) -> None:
    """Resolved alerts older than `cutoff`, with their history, messages and attempts;
    then digests (messages about no one alert) sent or given up before it."""
    while True:
        async with conn.transaction():
            await conn.execute("SET LOCAL eldercare.lifecycle = 'retention'")
            alert_ids = [r["id"] for r in await conn.fetch(
                "SELECT id FROM alerts WHERE state = 'resolved' AND resolved_at < $1"
                " ORDER BY id LIMIT $2 FOR UPDATE", cutoff, batch_rows)]  # fmt: skip
            if alert_ids:
                # A newer alert reopened from one going keeps its own record.
                await conn.execute(
                    "UPDATE alerts SET reopened_from = NULL WHERE reopened_from = ANY($1::bigint[])"
                    " AND NOT id = ANY($1::bigint[])",
                    alert_ids,
                )
                delivery_ids = [r["id"] for r in await conn.fetch(
                    "SELECT id FROM alert_deliveries WHERE alert_id = ANY($1::bigint[])",
                    alert_ids)]  # fmt: skip
                await _delete_deliveries(conn, delivery_ids, report)
                status = await conn.execute(
                    "DELETE FROM alert_history WHERE alert_id = ANY($1::bigint[])", alert_ids
                )
                report.rows["alert_history"] += int(status.split()[-1])
                status = await conn.execute(
                    "DELETE FROM alerts WHERE id = ANY($1::bigint[])", alert_ids
                )
                report.rows["alerts"] += int(status.split()[-1])
        if len(alert_ids) < batch_rows:
            break
    while True:
        async with conn.transaction():
            digest_ids = [r["id"] for r in await conn.fetch(
                "SELECT id FROM alert_deliveries WHERE alert_id IS NULL AND created_at < $1"
                " AND status NOT IN ('pending', 'sending') ORDER BY id LIMIT $2 FOR UPDATE",
                cutoff, batch_rows)]  # fmt: skip
            await _delete_deliveries(conn, digest_ids, report)
        if len(digest_ids) < batch_rows:
            return


async def _delete_deliveries(
    conn: asyncpg.Connection, delivery_ids: list[int], report: RetentionReport
) -> None:
    if not delivery_ids:
        return
    # Messages that went out inside a digest going now keep their own row.
    await conn.execute(
        "UPDATE alert_deliveries SET digest_id = NULL WHERE digest_id = ANY($1::bigint[])",
        delivery_ids,
    )
    status = await conn.execute(
        "DELETE FROM alert_delivery_attempts WHERE delivery_id = ANY($1::bigint[])", delivery_ids
    )
    report.rows["alert_delivery_attempts"] += int(status.split()[-1])
    status = await conn.execute(
        "DELETE FROM alert_deliveries WHERE id = ANY($1::bigint[])", delivery_ids
    )
    report.rows["alert_deliveries"] += int(status.split()[-1])


async def _expire_audit(
    conn: asyncpg.Connection,
    cutoff: datetime,
    now: datetime,
    actor: str,
    batch_rows: int,
    report: RetentionReport,
) -> None:
    """Audit entries older than `cutoff`, each batch recorded by an entry of its own in
    the same transaction: the log never loses entries without saying so."""
    while True:
        async with conn.transaction():
            await conn.execute("SET LOCAL eldercare.lifecycle = 'retention'")
            status = await conn.execute(
                "DELETE FROM audit_log WHERE id IN"
                " (SELECT id FROM audit_log WHERE at < $1 ORDER BY id LIMIT $2)",
                cutoff,
                batch_rows,
            )
            deleted = int(status.split()[-1])
            if deleted:
                what = f"deleted {deleted} entries from before {cutoff.isoformat()}"
                await insert_entries(conn, [AuditEntry(now, actor, "retention.audit_log", what)])
        report.rows["audit_log"] += deleted
        if deleted < batch_rows:
            return
