"""The outbox of alert deliveries and the record of every attempt: SQL for the dispatcher,
the notifier and the digests.

Claiming is one transaction (rows → `sending` under a lease, an attempt row `started`);
the result is another. A dispatcher that dies between them leaves a `started` attempt
and a lease that runs out, after which another dispatcher sends again with the same
idempotency key and marks the earlier attempt `abandoned`.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from core.contacts import ChannelKind, Language, QuietHours, Role
from core.outbox import Delivery, DeliveryStatus, DigestLine, OutboxMessage


async def insert_delivery(conn: asyncpg.Connection, m: OutboxMessage) -> int:
    """Write one delivery; returns its id."""
    quiet = m.quiet_hours
    delivery_id = await conn.fetchval(
        "INSERT INTO alert_deliveries (alert_id, home_id, purpose, severity, channel, address,"
        " recipient_role, recipient_ref, language, timezone, quiet_start, quiet_end, subject,"
        " body_text, body_html, summary, payload, status, held_reason, max_attempts,"
        " next_attempt_at, created_at)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17::jsonb,$18,$19,"
        " $20,$21,$22) RETURNING id",
        m.alert_id,
        m.home_id,
        m.purpose.value,
        m.severity.value,
        m.channel.value,
        m.address,
        m.recipient_role.value,
        m.recipient_ref,
        m.language.value,
        m.timezone,
        quiet.start if quiet else None,
        quiet.end if quiet else None,
        m.rendered.subject,
        m.rendered.text,
        m.rendered.html,
        m.rendered.summary,
        json.dumps(m.payload, ensure_ascii=False),
        m.status.value,
        m.held_reason,
        m.max_attempts,
        m.next_attempt_at,
        m.created_at,
    )
    return int(delivery_id)


async def lock_recipients(conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]) -> None:
    """Serialise rate-limit counting per (address, home) until the transaction ends.

    Taken in sorted order so two transactions locking overlapping sets cannot deadlock.
    """
    for address, home_id in sorted(set(keys)):
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", address, home_id
        )


async def recent_count(
    conn: asyncpg.Connection, address: str, home_id: str, since: datetime
) -> int:
    """Alert messages to `address` about `home_id` decided since `since` and not digested."""
    count = await conn.fetchval(
        "SELECT count(*) FROM alert_deliveries WHERE address = $1 AND home_id = $2"
        " AND created_at > $3 AND purpose = 'alert'"
        " AND status IN ('pending', 'sending', 'sent', 'failed')",
        address,
        home_id,
        since,
    )
    return int(count)


def _delivery(row: asyncpg.Record) -> Delivery:
    return Delivery(
        id=row["id"],
        idempotency_key=str(row["idempotency_key"]),
        channel=ChannelKind(row["channel"]),
        address=row["address"],
        language=Language.parse(row["language"]),
        subject=row["subject"],
        text=row["body_text"],
        html=row["body_html"],
        attempt=row["attempts"],
        alert_id=row["alert_id"],
        home_id=row["home_id"],
        payload=json.loads(row["payload"]),
    )


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery this dispatcher now holds, and how many attempts it may have."""

    delivery: Delivery
    max_attempts: int
    recipient_role: str
    due_at: datetime | None = None  # when this attempt was due (the alerts' clock)


@dataclass(frozen=True, slots=True)
class LostDelivery:
    """A delivery whose last allowed attempt never reported back: now failed."""

    id: int
    home_id: str
    channel: str
    recipient_role: str
    attempts: int


_RETURNING = (
    "d.id, d.idempotency_key, d.channel, d.address, d.language, d.subject, d.body_text,"
    " d.body_html, d.attempts, d.alert_id, d.home_id, d.payload, d.max_attempts,"
    " d.recipient_role, d.next_attempt_at"
)


async def cancel_stale_held(conn: asyncpg.Connection, now: datetime) -> int:
    """Cancel messages held for quiet hours whose alert was resolved in the meantime."""
    result = await conn.execute(
        "UPDATE alert_deliveries d SET status = 'cancelled',"
        " last_error = 'alert resolved while held for quiet hours'"
        " FROM alerts a WHERE d.alert_id = a.id AND d.status = 'pending'"
        " AND d.held_reason = 'quiet_hours' AND d.next_attempt_at <= $1"
        " AND a.state = 'resolved'",
        now,
    )
    return int(result.split()[-1])


async def fail_lost(conn: asyncpg.Connection, now: datetime) -> list[LostDelivery]:
    """Fail deliveries whose final attempt's lease ran out with no result."""
    rows = await conn.fetch(
        "UPDATE alert_deliveries SET status = 'failed', failed_at = $1, lease_until = NULL,"
        " last_error = 'no result from the last attempt (dispatcher lost)'"
        " WHERE status = 'sending' AND lease_until <= $1 AND attempts >= max_attempts"
        " RETURNING id, home_id, channel, recipient_role, attempts",
        now,
    )
    ids = [r["id"] for r in rows]
    if ids:
        await _abandon_started(conn, ids, now)
    return [LostDelivery(**dict(r)) for r in rows]


async def _abandon_started(conn: asyncpg.Connection, ids: list[int], now: datetime) -> None:
    await conn.execute(
        "UPDATE alert_delivery_attempts SET outcome = 'abandoned', finished_at = $2,"
        " detail = 'no result recorded (dispatcher stopped); may have been sent'"
        " WHERE delivery_id = ANY($1::bigint[]) AND outcome = 'started'",
        ids,
        now,
    )


async def claim_due(
    conn: asyncpg.Connection, now: datetime, lease_until: datetime, limit: int
) -> list[ClaimedDelivery]:
    """Take up to `limit` due deliveries (new, retrying, or orphaned by an expired lease),
    count the attempt and record its start. Call inside a transaction."""
    rows = await conn.fetch(
        "WITH due AS (SELECT id FROM alert_deliveries"
        "  WHERE ((status = 'pending' AND next_attempt_at <= $1)"
        "     OR (status = 'sending' AND lease_until <= $1))"
        "    AND attempts < max_attempts"
        "  ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)"
        " UPDATE alert_deliveries d SET status = 'sending', attempts = d.attempts + 1,"
        " lease_until = $2 FROM due WHERE d.id = due.id"
        f" RETURNING {_RETURNING}",
        now,
        lease_until,
        limit,
    )
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    await _abandon_started(conn, ids, now)
    await conn.executemany(
        "INSERT INTO alert_delivery_attempts (delivery_id, attempt, started_at, outcome)"
        " VALUES ($1, $2, $3, 'started')",
        [(r["id"], r["attempts"], now) for r in rows],
    )
    return [
        ClaimedDelivery(_delivery(r), r["max_attempts"], r["recipient_role"], r["next_attempt_at"])
        for r in rows
    ]


class Finish(enum.StrEnum):
    """How an attempt ended, for the delivery."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


async def finish_attempt(
    conn: asyncpg.Connection,
    delivery_id: int,
    attempt: int,
    finish: Finish,
    now: datetime,
    *,
    status_code: int | None = None,
    detail: str = "",
    provider_ref: str | None = None,
    next_attempt_at: datetime | None = None,
) -> bool:
    """Record an attempt's end; returns False when the delivery has meanwhile been taken
    over by another dispatcher (its lease ran out), in which case only the attempt row
    is completed."""
    await conn.execute(
        "UPDATE alert_delivery_attempts SET outcome = $3, finished_at = $4, status_code = $5,"
        " detail = $6 WHERE delivery_id = $1 AND attempt = $2",
        delivery_id,
        attempt,
        finish.value,
        now,
        status_code,
        detail or None,
    )
    status = {
        Finish.SENT: DeliveryStatus.SENT,
        Finish.RETRY: DeliveryStatus.PENDING,
        Finish.FAILED: DeliveryStatus.FAILED,
    }[finish]
    result = await conn.execute(
        "UPDATE alert_deliveries SET status = $3, lease_until = NULL,"
        " sent_at = CASE WHEN $3 = 'sent' THEN $4 ELSE sent_at END,"
        " failed_at = CASE WHEN $3 = 'failed' THEN $4 ELSE failed_at END,"
        " next_attempt_at = COALESCE($5, next_attempt_at),"
        " provider_ref = COALESCE($6, provider_ref), last_error = $7"
        " WHERE id = $1 AND status = 'sending' AND attempts = $2",
        delivery_id,
        attempt,
        status.value,
        now,
        next_attempt_at,
        provider_ref,
        detail or None,
    )
    return result != "UPDATE 0"


async def undigested_recipients(
    conn: asyncpg.Connection, oldest_before: datetime
) -> list[tuple[str, str]]:
    """(channel, address) of recipients with digest lines waiting since before the time."""
    rows = await conn.fetch(
        "SELECT channel, address FROM alert_deliveries"
        " WHERE status = 'digested' AND digest_id IS NULL"
        " GROUP BY channel, address HAVING min(created_at) <= $1 ORDER BY min(created_at)",
        oldest_before,
    )
    return [(r["channel"], r["address"]) for r in rows]


@dataclass(frozen=True, slots=True)
class DigestBatch:
    """A recipient's waiting lines, locked, with what the digest needs to address them."""

    lines: tuple[DigestLine, ...]
    role: Role
    recipient_ref: str
    language: Language
    timezone: str
    quiet_hours: QuietHours | None


async def lock_digest_batch(
    conn: asyncpg.Connection, channel: str, address: str
) -> DigestBatch | None:
    """Lock a recipient's waiting digest lines (skipping rows another sweeper holds)."""
    rows = await conn.fetch(
        "SELECT id, home_id, summary, created_at, recipient_role, recipient_ref, language,"
        " timezone, quiet_start, quiet_end FROM alert_deliveries"
        " WHERE status = 'digested' AND digest_id IS NULL AND channel = $1 AND address = $2"
        " ORDER BY created_at, id FOR UPDATE SKIP LOCKED",
        channel,
        address,
    )
    if not rows:
        return None
    latest = rows[-1]  # the latest line says how the recipient wants to be addressed now
    quiet = None
    if latest["quiet_start"] is not None:
        quiet = QuietHours(latest["quiet_start"], latest["quiet_end"])
    lines = tuple(DigestLine(r["id"], r["home_id"], r["summary"], r["created_at"]) for r in rows)
    return DigestBatch(
        lines,
        Role(latest["recipient_role"]),
        latest["recipient_ref"],
        Language.parse(latest["language"]),
        latest["timezone"],
        quiet,
    )


async def attach_to_digest(
    conn: asyncpg.Connection, line_ids: Sequence[int], digest_id: int
) -> None:
    """Mark digest lines as carried by the digest delivery `digest_id`."""
    await conn.execute(
        "UPDATE alert_deliveries SET digest_id = $2 WHERE id = ANY($1::bigint[])",
        list(line_ids),
        digest_id,
    )


class ReplyStatus(enum.StrEnum):
    """What became of a check-in answer."""

    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    UNKNOWN = "unknown"


async def record_reply(
    conn: asyncpg.Connection, idempotency_key: str, reply: str, at: datetime
) -> tuple[ReplyStatus, int | None]:
    """Store a check-in call's answer once; returns the status and the call's alert id."""
    row = await conn.fetchrow(
        "UPDATE alert_deliveries SET reply = $2, replied_at = $3"
        " WHERE idempotency_key = $1::uuid AND purpose = 'checkin' AND reply IS NULL"
        " RETURNING alert_id",
        idempotency_key,
        reply,
        at,
    )
    if row is not None:
        return ReplyStatus.RECORDED, row["alert_id"]
    known = await conn.fetchval(
        "SELECT alert_id FROM alert_deliveries WHERE idempotency_key = $1::uuid"
        " AND purpose = 'checkin'",
        idempotency_key,
    )
    return (ReplyStatus.DUPLICATE, known) if known is not None else (ReplyStatus.UNKNOWN, None)


async def deliveries_of_alert(conn: asyncpg.Connection, alert_id: int) -> list[dict[str, Any]]:
    """Every delivery decided for an alert, in order, as plain dicts (console, tests)."""
    rows = await conn.fetch(
        "SELECT * FROM alert_deliveries WHERE alert_id = $1 ORDER BY id", alert_id
    )
    return [dict(r) for r in rows]


async def attempts_of_delivery(conn: asyncpg.Connection, delivery_id: int) -> list[dict[str, Any]]:
    """Every attempt of a delivery, in order, as plain dicts."""
    rows = await conn.fetch(
        "SELECT attempt, started_at, finished_at, outcome, status_code, detail"
        " FROM alert_delivery_attempts WHERE delivery_id = $1 ORDER BY attempt",
        delivery_id,
    )
    return [dict(r) for r in rows]
