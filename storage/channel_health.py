"""Is a notification channel working? Recent failures and the last success per channel,
for the operations banner and for routing a delivery_failed alert around the gateway
that failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

# Failures older than this no longer make a channel "failing" on their own.
FAILURE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """One channel's recent record."""

    channel: str
    failed: int  # deliveries given up within the window
    retrying: int  # deliveries waiting for another attempt after a failed one
    last_failed_at: datetime | None
    last_sent_at: datetime | None

    @property
    def failing(self) -> bool:
        """Its latest outcome within the window is a failure, and nothing went out since."""
        if self.last_failed_at is None:
            return False
        return self.last_sent_at is None or self.last_sent_at < self.last_failed_at


async def channel_health(conn: asyncpg.Connection, now: datetime) -> list[ChannelHealth]:
    """Channels with failures in the last FAILURE_WINDOW or deliveries being retried."""
    rows = await conn.fetch(
        """
        WITH failed AS (
            SELECT channel, count(*) AS failed, max(failed_at) AS last_failed_at
            FROM alert_deliveries
            WHERE status = 'failed' AND failed_at > $1 AND failed_at <= $2
            GROUP BY channel),
        retrying AS (
            SELECT channel, count(*) AS retrying FROM alert_deliveries
            WHERE status IN ('pending', 'sending') AND attempts > 0 AND last_error IS NOT NULL
            GROUP BY channel)
        SELECT channel, coalesce(f.failed, 0) AS failed, coalesce(r.retrying, 0) AS retrying,
               f.last_failed_at,
               (SELECT max(sent_at) FROM alert_deliveries d
                WHERE d.channel = c.channel AND d.status = 'sent') AS last_sent_at
        FROM (SELECT channel FROM failed UNION SELECT channel FROM retrying) c
        LEFT JOIN failed f USING (channel) LEFT JOIN retrying r USING (channel)
        ORDER BY channel
        """,
        now - FAILURE_WINDOW,
        now,
    )
    return [ChannelHealth(**dict(r)) for r in rows]


async def failing_channels(conn: asyncpg.Connection, now: datetime) -> frozenset[str]:
    """The channels whose latest recent delivery failed with no success since."""
    return frozenset(h.channel for h in await channel_health(conn, now) if h.failing)
