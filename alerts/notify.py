"""Writing decided messages into the outbox, inside the caller's transaction.

The rate limit is applied here because it needs the count of recent messages; the count
and the insert happen under a per-(address, home) lock so two transactions cannot both
take the last message allowed this hour.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import asyncpg

from alerts.config import AlertConfig
from alerts.escalation import FiredStep
from alerts.outbox import plan_alert_messages, plan_notes
from alerts.throttle import RATE_WINDOW_S, over_rate_limit
from core.alerts import Alert
from core.contacts import ChannelKind, Role
from core.logs import kv
from core.outbox import HELD_RATE_LIMIT, OutboxMessage
from storage.alerts_outbox import insert_delivery, lock_recipients, recent_count
from storage.alerts_routing import home_routing

log = logging.getLogger("eldercare.alerts")


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
    *,
    avoid: frozenset[ChannelKind] = frozenset(),
) -> list[int]:
    """Write the messages for escalation steps just fired; returns the delivery ids.

    Channels in `avoid` (a gateway that is failing) are left out while another endpoint
    reaches someone; when none does, the messages go as usual and wait for the gateway
    (the console's operations banner shows the failing channel meanwhile).
    """
    if not fired:
        return []
    routing = await home_routing(conn, alert.home_id, config.default_timezone, now)
    max_attempts = config.retry.max_attempts
    messages = []
    if avoid:
        spared = routing.without_channels(avoid)
        messages = plan_alert_messages(alert, spared, fired, now, max_attempts)
        if messages:
            log.info(kv("alert_rerouted", alert_id=alert.id,
                        avoided=",".join(sorted(c.value for c in avoid))))  # fmt: skip
    if not messages:
        messages = plan_alert_messages(alert, routing, fired, now, max_attempts)
    return await write_messages(conn, messages, now, config)


async def note_checkin_fine(
    conn: asyncpg.Connection,
    alert: Alert,
    roles: Iterable[Role],
    now: datetime,
    config: AlertConfig,
) -> list[int]:
    """Put "the resident answered fine" into the next digest of the given roles."""
    routing = await home_routing(conn, alert.home_id, config.default_timezone, now)
    messages = plan_notes(alert, routing, roles, now, config.retry.max_attempts)
    return await write_messages(conn, messages, now, config)
