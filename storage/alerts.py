"""Alerts and their append-only history: the SQL behind `alerts.service`.

Functions that change an alert expect the caller's transaction; the ones that read for
a change lock the row (FOR UPDATE) so concurrent commands on one alert take turns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import asyncpg

from core.alerts import Alert, AlertState, HistoryEntry, NewAlert, Outcome
from core.kinds import Category, Severity

_COLUMNS = (
    "id, home_id, category, kind, severity, state, explanation, first_seen_at, last_seen_at,"
    " occurrences, opened_at, reopened_from, acknowledged_at, acknowledged_by, claimed_at,"
    " claimed_by, expected_arrival_at, arrived_at, arrived_by, resolved_at, resolved_by,"
    " outcome, resolution_note, condition_cleared_at, escalation_step, escalation_due_at,"
    " params"
)


def alert_from_row(row: asyncpg.Record) -> Alert:
    """An Alert from a row of `SELECT {_COLUMNS} FROM alerts`."""
    values: dict[str, Any] = dict(row)
    values["category"] = Category(values["category"])
    values["severity"] = Severity(values["severity"])
    values["state"] = AlertState(values["state"])
    if values["outcome"] is not None:
        values["outcome"] = Outcome(values["outcome"])
    values["params"] = _params(values["params"])
    return Alert(**values)


def _params(raw: Any) -> dict[str, Any]:
    """A jsonb params column (text without a codec) as a dict."""
    value = json.loads(raw) if isinstance(raw, str) else raw
    return value if isinstance(value, dict) else {}


async def lock_home_kind(conn: asyncpg.Connection, home_id: str, kind: str) -> None:
    """Serialise intake for one (home, kind) until the transaction ends.

    Two processes taking in the same finding would otherwise both see no active alert;
    the unique index would stop the second insert, but as an error instead of a repeat.
    """
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", home_id, kind)


async def active_alert(conn: asyncpg.Connection, home_id: str, kind: str) -> Alert | None:
    """The unresolved alert for (home, kind), locked, or None."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM alerts WHERE home_id = $1 AND kind = $2"
        " AND state <> 'resolved' FOR UPDATE",
        home_id,
        kind,
    )
    return alert_from_row(row) if row else None


async def last_resolved_alert(conn: asyncpg.Connection, home_id: str, kind: str) -> Alert | None:
    """The most recently resolved alert for (home, kind), or None."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM alerts WHERE home_id = $1 AND kind = $2"
        " AND state = 'resolved' ORDER BY resolved_at DESC LIMIT 1",
        home_id,
        kind,
    )
    return alert_from_row(row) if row else None


async def get_alert(conn: asyncpg.Connection, alert_id: int, *, lock: bool = False) -> Alert | None:
    """One alert by id (locked for update when `lock`), or None."""
    suffix = " FOR UPDATE" if lock else ""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM alerts WHERE id = $1{suffix}", alert_id)
    return alert_from_row(row) if row else None


async def insert_alert(conn: asyncpg.Connection, new: NewAlert) -> Alert:
    """Store a new open alert and return it with its id."""
    row = await conn.fetchrow(
        "INSERT INTO alerts (home_id, category, kind, severity, state, explanation,"
        " first_seen_at, last_seen_at, opened_at, reopened_from, params)"
        " VALUES ($1, $2, $3, $4, 'open', $5, $6, $6, $7, $8, $9::jsonb)"
        f" RETURNING {_COLUMNS}",
        new.home_id,
        new.category.value,
        new.kind,
        new.severity.value,
        new.explanation,
        new.first_seen_at,
        new.opened_at,
        new.reopened_from,
        json.dumps(new.params),
    )
    assert row is not None  # INSERT ... RETURNING always returns the row
    return alert_from_row(row)


async def update_alert(conn: asyncpg.Connection, alert: Alert) -> None:
    """Write every mutable field of `alert` back to its row."""
    await conn.execute(
        "UPDATE alerts SET severity = $2, state = $3, explanation = $4, last_seen_at = $5,"
        " occurrences = $6, acknowledged_at = $7, acknowledged_by = $8, claimed_at = $9,"
        " claimed_by = $10, expected_arrival_at = $11, arrived_at = $12, arrived_by = $13,"
        " resolved_at = $14, resolved_by = $15, outcome = $16, resolution_note = $17,"
        " condition_cleared_at = $18, escalation_step = $19, escalation_due_at = $20,"
        " params = $21::jsonb WHERE id = $1",
        alert.id,
        alert.severity.value,
        alert.state.value,
        alert.explanation,
        alert.last_seen_at,
        alert.occurrences,
        alert.acknowledged_at,
        alert.acknowledged_by,
        alert.claimed_at,
        alert.claimed_by,
        alert.expected_arrival_at,
        alert.arrived_at,
        alert.arrived_by,
        alert.resolved_at,
        alert.resolved_by,
        alert.outcome.value if alert.outcome else None,
        alert.resolution_note,
        alert.condition_cleared_at,
        alert.escalation_step,
        alert.escalation_due_at,
        json.dumps(alert.params),
    )


async def append_history(
    conn: asyncpg.Connection, alert_id: int, entries: Iterable[HistoryEntry]
) -> None:
    """Append entries to an alert's history (the table refuses anything but inserts)."""
    await conn.executemany(
        "INSERT INTO alert_history (alert_id, at, actor, action, from_state, to_state, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
        [
            (
                alert_id,
                e.at,
                e.actor,
                e.action.value,
                e.from_state.value if e.from_state else None,
                e.to_state.value if e.to_state else None,
                json.dumps(e.detail, ensure_ascii=False),
            )
            for e in entries
        ],
    )


async def alert_history(conn: asyncpg.Connection, alert_id: int) -> list[dict[str, Any]]:
    """An alert's history, oldest first, as plain dicts (detail decoded)."""
    rows = await conn.fetch(
        "SELECT at, actor, action, from_state, to_state, detail FROM alert_history"
        " WHERE alert_id = $1 ORDER BY id",
        alert_id,
    )
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


async def due_alert_ids(conn: asyncpg.Connection, now: datetime, limit: int) -> list[int]:
    """Ids of alerts whose escalation time has come, earliest first."""
    rows = await conn.fetch(
        "SELECT id FROM alerts WHERE escalation_due_at <= $1 ORDER BY escalation_due_at LIMIT $2",
        now,
        limit,
    )
    return [r["id"] for r in rows]


async def lock_due_alert(conn: asyncpg.Connection, alert_id: int, now: datetime) -> Alert | None:
    """Lock one due alert, skipping it when another sweeper holds it or it is no longer due."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM alerts WHERE id = $1 AND escalation_due_at <= $2"
        " FOR UPDATE SKIP LOCKED",
        alert_id,
        now,
    )
    return alert_from_row(row) if row else None


async def list_alerts(
    conn: asyncpg.Connection, *, home_id: str | None = None, active_only: bool = False
) -> list[Alert]:
    """Alerts, newest first, optionally of one home and only the unresolved ones."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM alerts WHERE ($1::text IS NULL OR home_id = $1)"
        " AND (NOT $2 OR state <> 'resolved') ORDER BY opened_at DESC, id DESC",
        home_id,
        active_only,
    )
    return [alert_from_row(r) for r in rows]
