"""Writing decided messages into the outbox, inside the caller's transaction.

The rate limit is applied here because it needs the count of recent messages; the count
and the insert happen under a per-(address, home) lock so two transactions cannot both
take the last message allowed this hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import asyncpg

from alerts.config import AlertConfig
from alerts.escalation import FiredStep
from alerts.model import Alert
from alerts.outbox import HELD_RATE_LIMIT, OutboxMessage, plan_alert_messages, plan_notes
from alerts.routing import Role
from alerts.throttle import RATE_WINDOW_S, over_rate_limit
from storage.alerts_outbox import insert_delivery, lock_recipients, recent_count
from storage.alerts_routing import home_routing


async def write_messages(
    conn: asyncpg.Connection, messages: Sequence[OutboxMessage], now: datetime, config: AlertConfig
) -> list[int]:
    """Insert messages, turning those over the hourly limit into digest lines."""
    limited = [(m.address, m.home_id) for m in messages if m.rate_limited]
    await lock_recipients(conn, limited)
    since = now - timedelta(seconds=RATE_WINDOW_S)
    ids = []
    for message in messages:
        if message.rate_limited:
            sent = await recent_count(conn, message.address, message.home_id, since)
            if over_rate_limit(sent, message.severity, config.throttle):
                message = message.into_digest(HELD_RATE_LIMIT)
        ids.append(await insert_delivery(conn, message))
    return ids


async def notify_fired(
    conn: asyncpg.Connection,
    alert: Alert,
    fired: Sequence[FiredStep],
    now: datetime,
    config: AlertConfig,
) -> list[int]:
    """Write the messages for escalation steps just fired; returns the delivery ids."""
    if not fired:
        return []
    routing = await home_routing(conn, alert.home_id, config.default_timezone)
    messages = plan_alert_messages(alert, routing, fired, now, config.retry.max_attempts)
    return await write_messages(conn, messages, now, config)


async def note_checkin_fine(
    conn: asyncpg.Connection,
    alert: Alert,
    roles: Iterable[Role],
    now: datetime,
    config: AlertConfig,
) -> list[int]:
    """Put "the resident answered fine" into the next digest of the given roles."""
    routing = await home_routing(conn, alert.home_id, config.default_timezone)
    messages = plan_notes(alert, routing, roles, now, config.retry.max_attempts)
    return await write_messages(conn, messages, now, config)
