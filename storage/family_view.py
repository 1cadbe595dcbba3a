"""What a family member may see of their relative: figures, never the sensor feed.

Scoped to the homes where the user is a `family` contact. The words are the API's job;
this module returns today's totals, the open alerts and the notification preferences.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

import asyncpg

from storage.home_series import METER_ANCHOR
from storage.homes_view import SIGN_OF_LIFE
from storage.scope import HomeScope, ScopeKind, scope_condition


def family_scope(username: str) -> HomeScope:
    return HomeScope(ScopeKind.FAMILY, username)


@dataclass(frozen=True, slots=True)
class OpenAlert:
    id: int
    home_id: str
    category: str
    kind: str
    severity: str
    opened_at: datetime
    first_seen_at: datetime | None = None
    acknowledged_at: datetime | None = None
    claimed_at: datetime | None = None
    expected_arrival_at: datetime | None = None
    arrived_at: datetime | None = None
    # The display name of whoever is furthest along (arrived, on the way, acknowledged).
    helper_name: str | None = None


@dataclass(frozen=True, slots=True)
class HourlyActivity:
    """Motion events per local hour: today so far, and a usual day (the mean of the
    previous days that had any readings)."""

    today: list[int]
    usual: list[float]


@dataclass(frozen=True, slots=True)
class DaySoFar:
    """A home's day from local midnight until now."""

    water_litres: float
    motion_events: int
    first_activity_at: datetime | None
    last_activity_at: datetime | None
    # The room of the latest sign of life if it was motion ('' unnamed); None after water.
    last_motion_room: str | None


@dataclass(frozen=True, slots=True)
class Preferences:
    sms: str | None
    email: str | None
    quiet_start: time | None
    quiet_end: time | None
    language: str


async def open_alerts(
    conn: asyncpg.Connection, scope: HomeScope, home_ids: list[str]
) -> list[OpenAlert]:
    """Active alerts of these homes (in the scope), most severe first, then oldest."""
    cond, args = scope_condition(scope, "a.home_id", 2)
    rows = await conn.fetch(
        "SELECT a.id, a.home_id, a.category, a.kind, a.severity, a.opened_at, a.first_seen_at,"
        " a.acknowledged_at, a.claimed_at, a.expected_arrival_at, a.arrived_at,"
        " (SELECT u.display_name FROM users u WHERE u.username ="
        "   coalesce(a.arrived_by, a.claimed_by, a.acknowledged_by)) AS helper_name"
        " FROM alerts a"
        f" WHERE a.home_id = ANY($1::text[]) AND a.state <> 'resolved' AND {cond}"
        " ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1"
        " WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END, a.opened_at",
        home_ids,
        *args,
    )
    return [OpenAlert(**dict(r)) for r in rows]


async def day_so_far(
    conn: asyncpg.Connection, scope: HomeScope, home_id: str, since: datetime, now: datetime
) -> DaySoFar:
    """Water used, motion events and first/last activity in [since, now]."""
    cond, args = scope_condition(scope, "h.id", 5)
    gate = f"EXISTS (SELECT 1 FROM homes h WHERE h.id = $1 AND {cond})"
    row = await conn.fetchrow(
        f"""
        WITH used AS (
          SELECT r.ts, r.volume_l - lag(r.volume_l) OVER (
                   PARTITION BY r.device_id ORDER BY r.ts, r.seq) AS litres
          FROM readings r
          WHERE r.home_id = $1 AND r.ts > $2::timestamptz - $4::interval AND r.ts <= $3
            AND r.volume_l IS NOT NULL AND {gate}
        )
        SELECT
          (SELECT coalesce(sum(litres), 0) FROM used WHERE ts >= $2 AND litres > 0) AS water,
          (SELECT count(*) FROM readings x WHERE x.home_id = $1 AND x.ts >= $2
             AND x.ts <= $3 AND x.motion IS TRUE AND {gate}) AS motion,
          (SELECT min(x.ts) FROM readings x WHERE x.home_id = $1 AND x.ts >= $2
             AND x.ts <= $3 AND {SIGN_OF_LIFE} AND {gate}) AS first_at,
          (SELECT max(x.ts) FROM readings x WHERE x.home_id = $1 AND x.ts <= $3
             AND {SIGN_OF_LIFE} AND {gate}) AS last_at,
          -- The room of the latest sign of life when it was motion; NULL after water.
          (SELECT CASE WHEN x.motion IS TRUE THEN coalesce(x.room, d.room, '') END
           FROM readings x LEFT JOIN devices d ON d.id = x.device_id
           WHERE x.home_id = $1 AND x.ts <= $3 AND {SIGN_OF_LIFE} AND {gate}
           ORDER BY x.ts DESC LIMIT 1) AS last_motion_room
        """,
        home_id, since, now, METER_ANCHOR, *args,
    )  # fmt: skip
    assert row is not None
    return DaySoFar(
        water_litres=round(float(row["water"]), 1),
        motion_events=int(row["motion"]),
        first_activity_at=row["first_at"],
        last_activity_at=row["last_at"],
        last_motion_room=row["last_motion_room"],
    )


async def hourly_activity(
    conn: asyncpg.Connection,
    scope: HomeScope,
    home_id: str,
    midnight: datetime,
    now: datetime,
    timezone: str,
    days: int = 14,
) -> HourlyActivity:
    """Motion events per local hour today, and on a usual day of the last `days` days."""
    cond, args = scope_condition(scope, "h.id", 6)
    rows = await conn.fetch(
        f"""
        SELECT (r.ts >= $2) AS today,
               extract(hour FROM r.ts AT TIME ZONE $5)::int AS hour, count(*)::int AS events
        FROM readings r
        WHERE r.home_id = $1 AND r.ts >= $2::timestamptz - $4 * interval '1 day'
          AND r.ts <= $3 AND r.motion IS TRUE
          AND EXISTS (SELECT 1 FROM homes h WHERE h.id = $1 AND {cond})
        GROUP BY 1, 2
        """,
        home_id, midnight, now, days, timezone, *args,
    )  # fmt: skip
    past_cond, _ = scope_condition(scope, "h.id", 5)
    seen_days = await conn.fetchval(
        f"""
        SELECT count(DISTINCT (r.ts AT TIME ZONE $4)::date)::int FROM readings r
        WHERE r.home_id = $1 AND r.ts >= $2::timestamptz - $3 * interval '1 day' AND r.ts < $2
          AND EXISTS (SELECT 1 FROM homes h WHERE h.id = $1 AND {past_cond})
        """,
        home_id, midnight, days, timezone, *args,
    )  # fmt: skip
    today = [0] * 24
    usual = [0.0] * 24
    for row in rows:
        if row["today"]:
            today[row["hour"]] = row["events"]
        elif seen_days:
            usual[row["hour"]] = round(row["events"] / seen_days, 1)
    return HourlyActivity(today, usual)


async def get_preferences(
    conn: asyncpg.Connection, username: str, home_id: str
) -> Preferences | None:
    """The user's own family contact row for a home (the first, if listed twice)."""
    row = await conn.fetchrow(
        "SELECT sms, email, quiet_start, quiet_end, language FROM alert_contacts"
        " WHERE home_id = $1 AND role = 'family' AND person_ref = $2"
        " ORDER BY position LIMIT 1",
        home_id,
        username,
    )
    return Preferences(**dict(row)) if row else None


async def set_preferences(
    conn: asyncpg.Connection, username: str, home_id: str, prefs: Preferences
) -> bool:
    """Replace channels, quiet hours and language on the user's own family rows only;
    False when the user is not family of this home."""
    result = await conn.execute(
        "UPDATE alert_contacts SET sms = $3, email = $4, quiet_start = $5, quiet_end = $6,"
        " language = $7 WHERE home_id = $1 AND role = 'family' AND person_ref = $2",
        home_id, username, prefs.sms, prefs.email, prefs.quiet_start, prefs.quiet_end,
        prefs.language,
    )  # fmt: skip
    return result != "UPDATE 0"
