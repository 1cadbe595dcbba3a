"""Rows of every kind a resident's data takes, written at chosen moments: for the
retention, export/erasure and backup tests."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg


async def add_reading(
    conn: asyncpg.Connection, home_id: str, device_id: str, ts: datetime, seq: int = 1
) -> None:
    """A motion reading of `device_id` in `home_id` at `ts`."""
    await conn.execute(
        "INSERT INTO readings (device_id, home_id, ts, seq, received_at, channel, motion, room)"
        " VALUES ($1, $2, $3, $4, $3, 'motion', true, 'hall')",
        device_id, home_id, ts, seq,
    )  # fmt: skip


async def add_finding(
    conn: asyncpg.Connection, home_id: str, at: datetime, *, taken: bool = True
) -> int:
    """A taken (or untaken) inactivity finding at `at`."""
    found: int = await conn.fetchval(
        "INSERT INTO findings (home_id, category, kind, severity, at, explanation, taken_at,"
        " params) VALUES ($1, 'inactivity', 'motion_inactivity', 'high', $2,"
        " 'no movement since 08:00 at Mrs Li''s', $3, '{\"name\": \"Mrs Li\"}') RETURNING id",
        home_id, at, at if taken else None,
    )  # fmt: skip
    return found


async def add_alert(
    conn: asyncpg.Connection,
    home_id: str,
    opened_at: datetime,
    *,
    resolved: bool = True,
    kind: str = "motion_inactivity",
    reopened_from: int | None = None,
) -> int:
    """An alert with a comment in its history, a sent SMS and its attempt."""
    resolved_at = opened_at + timedelta(hours=1) if resolved else None
    alert_id: int = await conn.fetchval(
        "INSERT INTO alerts (home_id, category, kind, severity, state, explanation,"
        " first_seen_at, last_seen_at, opened_at, resolved_at, resolved_by, outcome,"
        " resolution_note, reopened_from, params) VALUES ($1, 'inactivity', $2, 'high', $3,"
        " 'no movement at Mrs Li''s', $4, $4, $4, $5, $6, $7, 'she fell, hospital', $8,"
        " '{\"name\": \"Mrs Li\"}') RETURNING id",
        home_id, kind, "resolved" if resolved else "open", opened_at, resolved_at,
        "wang" if resolved else None, "assisted" if resolved else None, reopened_from,
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO alert_history (alert_id, at, actor, action, detail) VALUES"
        " ($1, $2, 'wang', 'comment', '{\"text\": \"called her son Li Wei\"}')",
        alert_id, opened_at,
    )  # fmt: skip
    delivery = await add_delivery(conn, home_id, opened_at, alert_id)
    await conn.execute(
        "INSERT INTO alert_delivery_attempts (delivery_id, attempt, started_at, finished_at,"
        " outcome) VALUES ($1, 1, $2, $2, 'sent')",
        delivery, opened_at,
    )  # fmt: skip
    return alert_id


async def add_delivery(
    conn: asyncpg.Connection, home_id: str, at: datetime, alert_id: int | None
) -> int:
    """A sent SMS about `alert_id` (None: a digest)."""
    found: int = await conn.fetchval(
        "INSERT INTO alert_deliveries (alert_id, home_id, purpose, severity, channel, address,"
        " recipient_role, recipient_ref, language, timezone, subject, body_text, summary,"
        " status, max_attempts, next_attempt_at, created_at, sent_at) VALUES ($1, $2, $3,"
        " 'high', 'sms', '+8613800000001', 'family', 'son', 'zh-CN', 'Asia/Shanghai',"
        " 'Mrs Li', 'No movement at Mrs Li''s, 3-2-501', 'Mrs Li: no movement', 'sent', 3,"
        " $4, $4, $4) RETURNING id",
        alert_id, home_id, "alert" if alert_id is not None else "digest", at,
    )  # fmt: skip
    return found


async def add_audit(conn: asyncpg.Connection, home_id: str, at: datetime) -> None:
    """A read of `home_id` by wang at `at`."""
    await conn.execute(
        "INSERT INTO audit_log (at, username, action, resource, home_id, home_ids)"
        " VALUES ($1, 'wang', 'home.readings', $2, $3, ARRAY[$3])",
        at, f"/api/v1/homes/{home_id}/readings", home_id,
    )  # fmt: skip


async def add_dead_letter(conn: asyncpg.Connection, device_id: str, at: datetime) -> None:
    """A refused message from `device_id` at `at`, and its hourly count."""
    await conn.execute(
        "INSERT INTO dead_letters (topic, payload, reason, received_at, device_id,"
        " payload_bytes, payload_sha256) VALUES ($1, '\\x00', 'schema: ts missing', $2, $3,"
        " 1, sha256('\\x00'))",
        f"eldercare/v1/{device_id}/motion", at, device_id,
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO dead_letter_counts (device_id, hour, reason, rejected, kept)"
        " VALUES ($1, date_trunc('hour', $2::timestamptz), 'schema', 1, 1)"
        " ON CONFLICT DO NOTHING",
        device_id, at,
    )  # fmt: skip
