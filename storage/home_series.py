"""A home's recent readings as time buckets: litres of water and motion per room.

The console's 48 h chart. Both queries walk one home's slice of the (home_id, ts) index,
so they cost the same however many other homes share the table. Buckets come from
storage/backend.py: time_bucket on TimescaleDB, date_bin on plain PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from storage.backend import Backend
from storage.scope import HomeScope, scope_condition

# Litres come from differences of the cumulative meter index, so each meter needs its
# report before the window; meters report every 15 minutes, so this is ample.
METER_ANCHOR = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class WaterPoint:
    t: datetime
    litres: float


@dataclass(frozen=True, slots=True)
class MotionPoint:
    t: datetime
    room: str | None
    events: int


@dataclass(frozen=True, slots=True)
class HomeSeries:
    water: list[WaterPoint]  # every bucket of the window, zero where nothing ran
    motion: list[MotionPoint]  # only buckets and rooms with motion


def _gate(scope: HomeScope, param: int) -> tuple[str, list[str]]:
    """The scope as one check on the home, evaluated once per query, not per row."""
    cond, args = scope_condition(scope, "h.id", param)
    return f"EXISTS (SELECT 1 FROM homes h WHERE h.id = $1 AND {cond})", args


async def home_series(
    conn: asyncpg.Connection,
    backend: Backend,
    scope: HomeScope,
    home_id: str,
    start: datetime,
    end: datetime,
    bucket: timedelta,
) -> HomeSeries:
    """Water litres and motion events per bucket in [start, end] (empty when the home is
    not in the scope; the caller checks visibility to answer 404)."""
    gate, args = _gate(scope, 6)
    in_bucket = backend.bucket_sql("$4::interval", "{column}")
    # Negative differences are meter replacements, not water: they are dropped.
    water = await conn.fetch(
        f"""
        WITH used AS (
          SELECT r.ts, r.volume_l - lag(r.volume_l) OVER (
                   PARTITION BY r.device_id ORDER BY r.ts, r.seq) AS litres
          FROM readings r
          WHERE r.home_id = $1 AND r.ts > $2::timestamptz - $5::interval AND r.ts <= $3
            AND r.volume_l IS NOT NULL AND {gate}
        ), per_bucket AS (
          SELECT {in_bucket.format(column="ts")} AS t, sum(litres) AS litres
          FROM used WHERE ts >= $2 AND litres > 0 GROUP BY 1
        )
        SELECT s.t, coalesce(p.litres, 0) AS litres
        FROM generate_series({in_bucket.format(column="$2::timestamptz")}, $3,
                             $4::interval) AS s(t)
        LEFT JOIN per_bucket p ON p.t = s.t
        WHERE {gate}
        ORDER BY s.t
        """,
        home_id, start, end, bucket, METER_ANCHOR, *args,
    )  # fmt: skip
    gate, args = _gate(scope, 5)
    motion = await conn.fetch(
        f"""
        SELECT {in_bucket.format(column="r.ts")} AS t, coalesce(r.room, d.room) AS room,
               count(*)::int AS events
        FROM readings r LEFT JOIN devices d ON d.id = r.device_id
        WHERE r.home_id = $1 AND r.ts >= $2 AND r.ts <= $3 AND r.motion IS TRUE AND {gate}
        GROUP BY 1, 2 ORDER BY 1, 2
        """,
        home_id, start, end, bucket, *args,
    )  # fmt: skip
    return HomeSeries(
        water=[WaterPoint(r["t"], round(r["litres"], 2)) for r in water],
        motion=[MotionPoint(r["t"], r["room"], r["events"]) for r in motion],
    )
