"""Replies to alert SMS: matching one to the alert texted to that number, and the record
of each reply (once per gateway message id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from core.contacts import Language

# Who may act on an alert by replying: the staff an alert is texted to (family may not).
STAFF_ROLES = ("primary_advisor", "backup_advisor", "supervisor")


@dataclass(frozen=True, slots=True)
class TextedAlert:
    """The alert an SMS to a number was about, and who it was sent to as."""

    alert_id: int
    resolved: bool
    recipient_ref: str
    language: Language
    timezone: str
    home_id: str
    address: str | None


async def record_key_press(
    conn: asyncpg.Connection, idempotency_key: str, reply: str, at: datetime
) -> tuple[bool, TextedAlert | None]:
    """Store the answer to an advisor's escalation call once: (first time?, the call's
    alert and callee); (False, None) when no such call was placed."""
    row = await conn.fetchrow(
        "UPDATE alert_deliveries SET reply = $2, replied_at = $3"
        " WHERE idempotency_key = $1::uuid AND purpose = 'call' AND reply IS NULL"
        " RETURNING id",
        idempotency_key,
        reply,
        at,
    )
    call = await conn.fetchrow(
        "SELECT d.alert_id, a.state = 'resolved' AS resolved, d.recipient_ref, d.language,"
        " d.timezone, d.home_id, h.address FROM alert_deliveries d"
        " JOIN alerts a ON a.id = d.alert_id LEFT JOIN homes h ON h.id = d.home_id"
        " WHERE d.idempotency_key = $1::uuid AND d.purpose = 'call'",
        idempotency_key,
    )
    if call is None:
        return False, None
    texted = TextedAlert(call["alert_id"], call["resolved"], call["recipient_ref"],
                         Language.parse(call["language"]), call["timezone"], call["home_id"],
                         call["address"])  # fmt: skip
    return row is not None, texted


async def stored_reply(conn: asyncpg.Connection, message_id: str) -> tuple[str, str] | None:
    """(outcome, reply text) of a message already handled, else None."""
    row = await conn.fetchrow(
        "SELECT outcome, reply FROM sms_replies WHERE message_id = $1", message_id
    )
    return None if row is None else (row["outcome"], row["reply"])


async def texted_alert(
    conn: asyncpg.Connection, sender: str, since: datetime
) -> TextedAlert | None:
    """The latest unresolved alert texted to `sender` as staff since `since`; failing
    that, the latest one at all (resolved: a stale reply); None if none was."""
    row = await conn.fetchrow(
        "SELECT d.alert_id, a.state = 'resolved' AS resolved, d.recipient_ref, d.language,"
        " d.timezone, d.home_id, h.address FROM alert_deliveries d"
        " JOIN alerts a ON a.id = d.alert_id LEFT JOIN homes h ON h.id = d.home_id"
        " WHERE d.channel = 'sms' AND d.address = $1 AND d.purpose = 'alert'"
        " AND d.status = 'sent' AND d.recipient_role = ANY($2) AND d.created_at >= $3"
        " ORDER BY (a.state = 'resolved'), d.created_at DESC, d.id DESC LIMIT 1",
        sender,
        list(STAFF_ROLES),
        since,
    )
    if row is None:
        return None
    return TextedAlert(
        row["alert_id"],
        row["resolved"],
        row["recipient_ref"],
        Language.parse(row["language"]),
        row["timezone"],
        row["home_id"],
        row["address"],
    )


async def language_of(conn: asyncpg.Connection, sender: str) -> Language:
    """The language of the latest message texted to `sender` (Chinese if none was)."""
    value = await conn.fetchval(
        "SELECT language FROM alert_deliveries WHERE channel = 'sms' AND address = $1"
        " ORDER BY created_at DESC, id DESC LIMIT 1",
        sender,
    )
    return Language.parse(value)


async def save_reply(
    conn: asyncpg.Connection,
    message_id: str,
    sender: str,
    body: str,
    at: datetime,
    alert_id: int | None,
    actor: str | None,
    outcome: str,
    reply: str,
) -> None:
    """Record a handled reply."""
    await conn.execute(
        "INSERT INTO sms_replies (message_id, sender, body, received_at, alert_id, actor,"
        " outcome, reply) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING",
        message_id,
        sender,
        body,
        at,
        alert_id,
        actor,
        outcome,
        reply,
    )


async def display_name(conn: asyncpg.Connection, person_ref: str) -> str:
    """A user's name as people know it; the reference itself for someone not a user."""
    name = await conn.fetchval("SELECT display_name FROM users WHERE username = $1", person_ref)
    return str(name) if name else person_ref
