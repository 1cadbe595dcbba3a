"""The console's view of homes: status and colour, last sign of life, devices online.

Every query takes a HomeScope and puts its condition in the SQL, so a home outside the
caller's scope is simply not found. Figures come from small per-home lookups (active
alerts, device_state, a partial index of signs of life), never from scanning readings,
so a page of homes costs the same with 10 million readings as with ten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from storage.scope import HomeScope, scope_condition

# A device is online when it said nothing to the contrary (its last will sets online =
# false) and was heard within three of its reporting intervals (detectors/settings.py:
# meters report every 15 minutes; battery sensors check in daily).
ONLINE_SQL = (
    "(s.device_id IS NOT NULL AND s.online IS NOT FALSE AND s.last_seen_at > {now}::timestamptz"
    " - CASE d.type WHEN 'water_meter' THEN interval '45 minutes'"
    " ELSE interval '75 hours' END)"
)
BATTERY_LOW_PCT = 20.0  # the detectors' battery_low threshold
# Motion, or a meter report with water flowing. Must match 005_views.sql's partial index
# (so the planner can use it); `x` is the readings alias.
SIGN_OF_LIFE = "(x.motion IS TRUE OR x.flow_lpm > 0)"
SEVERITY_RANK = (
    "CASE severity WHEN 'critical' THEN 5 WHEN 'high' THEN 4 WHEN 'medium' THEN 3"
    " WHEN 'low' THEN 2 ELSE 1 END"
)
STATUS_COLOURS = {
    "alert": "red",
    "attention": "amber",
    "ok": "green",
    "offline": "grey",
    "away": "blue",
}


@dataclass(frozen=True, slots=True)
class HomeView:
    """One home as the homes list shows it."""

    id: str
    address: str | None
    street: str | None
    district: str | None
    timezone: str
    resident_name: str | None
    status: str
    colour: str
    open_alerts: int
    highest_severity: str | None
    last_sign_of_life_at: datetime | None
    devices_total: int
    devices_online: int
    away_until: datetime | None


@dataclass(frozen=True, slots=True)
class DeviceView:
    """A device and what its latest messages said."""

    id: str
    home_id: str
    type: str
    room: str | None
    active: bool
    online: bool
    last_seen_at: datetime | None
    battery_pct: float | None
    rssi_dbm: float | None
    fw: str | None


@dataclass(frozen=True, slots=True)
class ResidentView:
    id: int
    home_id: str
    display_name: str
    birth_year: int | None
    language: str


@dataclass(frozen=True, slots=True)
class AwayView:
    id: int
    home_id: str
    starts_at: datetime
    ends_at: datetime
    note: str | None
    declared_by: str | None


# The status rule: an urgent alert first; any other active alert; then a declared
# absence (quiet devices and an empty home are expected); every device silent; a device
# offline or low on battery; else all is well.
_HOMES_SQL = f"""
SELECT * FROM (
  SELECT h.id, h.address, h.street, h.district, h.timezone,
    (SELECT r.display_name FROM residents r WHERE r.home_id = h.id ORDER BY r.id LIMIT 1)
      AS resident_name,
    al.open_alerts, al.highest_severity,
    dv.devices_total, dv.devices_online,
    (SELECT max(x.ts) FROM readings x WHERE x.home_id = h.id AND x.ts <= $1
       AND {SIGN_OF_LIFE})
      AS last_sign_of_life_at,
    aw.away_until,
    CASE WHEN al.urgent THEN 'alert'
         WHEN al.open_alerts > 0 THEN 'attention'
         WHEN aw.away_until IS NOT NULL THEN 'away'
         WHEN dv.devices_online = 0 THEN 'offline'
         WHEN dv.devices_online < dv.devices_total OR dv.battery_low > 0 THEN 'attention'
         ELSE 'ok' END AS status
  FROM homes h
  CROSS JOIN LATERAL (
    SELECT count(*)::int AS open_alerts,
           coalesce(bool_or(severity IN ('critical', 'high')), false) AS urgent,
           (array_agg(severity ORDER BY {SEVERITY_RANK} DESC))[1] AS highest_severity
    FROM alerts a WHERE a.home_id = h.id AND a.state <> 'resolved') al
  CROSS JOIN LATERAL (
    SELECT count(*)::int AS devices_total,
           (count(*) FILTER (WHERE {ONLINE_SQL.format(now="$1")}))::int AS devices_online,
           count(*) FILTER (WHERE s.battery_pct < {BATTERY_LOW_PCT}) AS battery_low
    FROM devices d LEFT JOIN device_state s ON s.device_id = d.id
    WHERE d.home_id = h.id AND d.active) dv
  LEFT JOIN LATERAL (
    SELECT max(p.ends_at) AS away_until FROM away_periods p
    WHERE p.home_id = h.id AND p.starts_at <= $1 AND p.ends_at > $1) aw ON true
  WHERE {{where}}
) v
"""


# Rare statuses are found from their own small tables rather than by rating every home
# (the status itself is still decided by the rule above).
_STATUS_PREFILTER = {
    "alert": "h.id IN (SELECT home_id FROM alerts WHERE state <> 'resolved'"
    " AND severity IN ('critical', 'high'))",
    "away": "h.id IN (SELECT home_id FROM away_periods WHERE starts_at <= $1 AND ends_at > $1)",
}


def _home(row: asyncpg.Record) -> HomeView:
    return HomeView(colour=STATUS_COLOURS[row["status"]], **dict(row))


async def list_homes(
    conn: asyncpg.Connection,
    scope: HomeScope,
    now: datetime,
    *,
    street: str | None = None,
    status: str | None = None,
    limit: int = 100,
    after_id: str | None = None,
) -> list[HomeView]:
    """A page of the caller's homes in id order, after `after_id`."""
    cond, args = scope_condition(scope, "h.id", 6)
    sql = _HOMES_SQL.format(
        where=f"{cond} AND ($2::text IS NULL OR h.street = $2)"
        f" AND ($4::text IS NULL OR h.id > $4) AND {_STATUS_PREFILTER.get(status or '', 'TRUE')}"
    )
    sql += " WHERE ($3::text IS NULL OR v.status = $3) ORDER BY v.id LIMIT $5"
    rows = await conn.fetch(sql, now, street, status, after_id, limit, *args)
    return [_home(r) for r in rows]


async def get_home(
    conn: asyncpg.Connection, scope: HomeScope, home_id: str, now: datetime
) -> HomeView | None:
    """One home, or None when it does not exist or is outside the scope."""
    cond, args = scope_condition(scope, "h.id", 3)
    row = await conn.fetchrow(_HOMES_SQL.format(where=f"h.id = $2 AND {cond}"), now, home_id, *args)
    return _home(row) if row else None


async def home_visible(conn: asyncpg.Connection, scope: HomeScope, home_id: str) -> bool:
    """True when the home exists and is inside the scope."""
    cond, args = scope_condition(scope, "h.id", 2)
    return bool(
        await conn.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM homes h WHERE h.id = $1 AND {cond})", home_id, *args
        )
    )


_DEVICES_SQL = f"""
SELECT d.id, d.home_id, d.type, d.room, d.active,
       {ONLINE_SQL.format(now="$1")} AS online,
       s.last_seen_at, s.battery_pct, s.rssi_dbm, s.fw
FROM devices d LEFT JOIN device_state s ON s.device_id = d.id
"""


async def list_devices(
    conn: asyncpg.Connection,
    scope: HomeScope,
    now: datetime,
    *,
    home_id: str | None = None,
    device_type: str | None = None,
    online: bool | None = None,
    limit: int = 1000,
    after_id: str | None = None,
) -> list[DeviceView]:
    """Devices of the caller's homes with their state, in id order after `after_id`."""
    cond, args = scope_condition(scope, "d.home_id", 7)
    rows = await conn.fetch(
        f"""{_DEVICES_SQL}
        WHERE {cond} AND ($2::text IS NULL OR d.home_id = $2)
          AND ($3::text IS NULL OR d.type = $3)
          AND ($4::boolean IS NULL OR {ONLINE_SQL.format(now="$1")} = $4)
          AND ($5::text IS NULL OR d.id > $5)
        ORDER BY d.id LIMIT $6""",
        now, home_id, device_type, online, after_id, limit, *args,
    )  # fmt: skip
    return [DeviceView(**dict(r)) for r in rows]


async def list_residents(
    conn: asyncpg.Connection, scope: HomeScope, home_id: str | None = None
) -> list[ResidentView]:
    """Residents of the caller's homes (never their phone numbers)."""
    cond, args = scope_condition(scope, "r.home_id", 2)
    rows = await conn.fetch(
        "SELECT r.id, r.home_id, r.display_name, r.birth_year, r.language FROM residents r"
        f" WHERE {cond} AND ($1::text IS NULL OR r.home_id = $1) ORDER BY r.home_id, r.id"
        " LIMIT 10000",
        home_id,
        *args,
    )
    return [ResidentView(**dict(r)) for r in rows]


# How far back the away list reaches: recent absences explain recent quiet days.
AWAY_HISTORY_DAYS = 30


async def list_away_periods(
    conn: asyncpg.Connection, scope: HomeScope, home_id: str, now: datetime
) -> list[AwayView]:
    """Current, future and recent away periods of a home, latest start first."""
    cond, args = scope_condition(scope, "p.home_id", 3)
    rows = await conn.fetch(
        "SELECT p.id, p.home_id, p.starts_at, p.ends_at, p.note, p.declared_by"
        f" FROM away_periods p WHERE p.home_id = $1 AND {cond}"
        f" AND p.ends_at > $2::timestamptz - interval '{AWAY_HISTORY_DAYS} days'"
        " ORDER BY p.starts_at DESC, p.id DESC",
        home_id,
        now,
        *args,
    )
    return [AwayView(**dict(r)) for r in rows]


async def add_away_period(
    conn: asyncpg.Connection,
    scope: HomeScope,
    home_id: str,
    starts_at: datetime,
    ends_at: datetime,
    note: str | None,
    declared_by: str,
) -> AwayView | None:
    """Declare an absence; None when the home is not the caller's to declare for."""
    cond, args = scope_condition(scope, "h.id", 6)
    row = await conn.fetchrow(
        "INSERT INTO away_periods (home_id, starts_at, ends_at, note, declared_by)"
        f" SELECT h.id, $2, $3, $4, $5 FROM homes h WHERE h.id = $1 AND {cond}"
        " RETURNING id, home_id, starts_at, ends_at, note, declared_by",
        home_id, starts_at, ends_at, note, declared_by, *args,
    )  # fmt: skip
    return AwayView(**dict(row)) if row else None
