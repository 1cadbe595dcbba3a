"""Per-home summaries of what has been stored (the demo's report, later the console's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class HomeSummary:
    """How much a home has reported, by kind, and its latest signs."""

    home_id: str
    readings: int
    water: int
    motion: int
    smoke: int
    status: int
    last_seen: datetime | None
    meter_index_l: float | None


async def home_summaries(conn: asyncpg.Connection) -> list[HomeSummary]:
    """One summary per registered home, in id order."""
    rows = await conn.fetch(
        """
        SELECT h.id AS home_id,
               count(r.*) AS readings,
               count(r.*) FILTER (WHERE r.volume_l IS NOT NULL) AS water,
               count(r.*) FILTER (WHERE r.motion) AS motion,
               count(r.*) FILTER (WHERE r.alarm IS NOT NULL OR r.test) AS smoke,
               count(r.*) FILTER (WHERE r.channel = 'status') AS status,
               max(r.ts) AS last_seen,
               (SELECT volume_l FROM readings w WHERE w.home_id = h.id AND w.volume_l IS NOT NULL
                ORDER BY w.ts DESC, w.seq DESC LIMIT 1) AS meter_index_l
        FROM homes h LEFT JOIN readings r ON r.home_id = h.id
        GROUP BY h.id ORDER BY h.id
        """
    )
    return [HomeSummary(**dict(row)) for row in rows]
