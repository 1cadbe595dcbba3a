"""The district dashboard's figures: coverage, alerts per week, response times, false alarms.

Weeks are the homes' local weeks (Monday first), the current one included, so a
supervisor's "this week" matches the calendar on their wall. Times are minutes from the
alert's opening. System alerts (our own pipeline) are not the street's response work and
have no home, so the join to homes leaves them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from storage.homes_view import ONLINE_SQL
from storage.scope import HomeScope, scope_condition

ACK_TARGET_MINUTES = 15


@dataclass(frozen=True, slots=True)
class WeekCount:
    week_start: date
    category: str
    count: int


@dataclass(frozen=True, slots=True)
class Response:
    """Response times of one group (a street or an advisor), in minutes."""

    key: str | None
    alerts: int
    ack_p50_min: float | None
    ack_p90_min: float | None
    arrive_p50_min: float | None
    arrive_p90_min: float | None
    resolve_p50_min: float | None
    resolve_p90_min: float | None
    ack_within_target: float | None  # share 0..1; None when no alert counts yet


@dataclass(frozen=True, slots=True)
class FalseAlarms:
    kind: str
    resolved: int
    false_alarms: int
    share: float


@dataclass(frozen=True, slots=True)
class Dashboard:
    homes_monitored: int
    devices_total: int
    devices_online: int
    devices_never_seen: int
    alerts_by_week: list[WeekCount]
    response_by_street: list[Response]
    response_by_advisor: list[Response]
    false_alarm_share: list[FalseAlarms]
    ack_target_minutes: int = ACK_TARGET_MINUTES


# The alerts of the window with their street and the home's primary advisor.
_WINDOW = """
WITH win AS (
  SELECT a.*, h.street, coalesce(pu.display_name, pa.person_ref) AS advisor,
    date_trunc('week', a.opened_at AT TIME ZONE h.timezone)::date AS week_start
  FROM alerts a JOIN homes h ON h.id = a.home_id
  -- the home's primary advisor: the first by position
  LEFT JOIN (SELECT DISTINCT ON (home_id) home_id, person_ref FROM alert_contacts
             WHERE role = 'primary_advisor' AND {contact_cond}
             ORDER BY home_id, position) pa
    ON pa.home_id = a.home_id
  LEFT JOIN users pu ON pu.username = pa.person_ref
  -- the first condition is the index's; the second the exact local-week edge
  WHERE a.opened_at > $1::timestamptz - ($2::int * 7 + 2) * interval '1 day'
    AND a.opened_at <= $1
    AND a.opened_at AT TIME ZONE h.timezone
        >= date_trunc('week', $1 AT TIME ZONE h.timezone) - ($2::int - 1) * interval '1 week'
    AND {cond}
)
"""


# When someone first showed they were on it: an acknowledgement, or a person resolving it
# (a check-in answer of "fine" ends an alert without one). The percentiles and the share
# within the target use this same moment, so the two figures of a row agree.
ACK_AT = "coalesce(acknowledged_at, CASE WHEN outcome <> 'condition_cleared' THEN resolved_at END)"


# Alerts per local week and category, with what the detectors noticed but never alerted
# (the history recorded before a home went live, e.g. the demo's backfilled weeks, or a
# replay after an outage: found and kept, not paged): each home and kind once a day, so
# an alert and the findings behind it count once.
_NOTICED_BY_WEEK = """
WITH noticed AS (
  SELECT a.home_id, a.kind, a.category, a.opened_at AS at FROM alerts a
  WHERE a.opened_at > $1::timestamptz - ($2::int * 7 + 2) * interval '1 day'
    AND a.opened_at <= $1
  UNION ALL
  SELECT f.home_id, f.kind, f.category, f.at FROM findings f
  WHERE f.at > $1::timestamptz - ($2::int * 7 + 2) * interval '1 day' AND f.at <= $1
    AND NOT f.clears AND f.severity <> 'info'
)
SELECT week_start, category, count(*)::int AS alerts FROM (
  SELECT DISTINCT n.home_id, n.kind, n.category, (n.at AT TIME ZONE h.timezone)::date AS day,
    date_trunc('week', n.at AT TIME ZONE h.timezone)::date AS week_start
  FROM noticed n JOIN homes h ON h.id = n.home_id
  WHERE n.at AT TIME ZONE h.timezone
        >= date_trunc('week', $1 AT TIME ZONE h.timezone) - ($2::int - 1) * interval '1 week'
    AND {cond}
) per_day GROUP BY week_start, category ORDER BY week_start, category
"""


def _minutes(column: str) -> str:
    return f"extract(epoch FROM {column} - opened_at) / 60"


def _pct(p: float, column: str, where: str = "TRUE") -> str:
    return (
        f"percentile_cont({p}) WITHIN GROUP (ORDER BY {_minutes(column)})"
        f" FILTER (WHERE {column} IS NOT NULL AND {where})"
    )


# One pass over the window: counts per (week, category), response times per street and
# per advisor, and resolutions per kind, told apart by which grouping set a row is of.
#
# Resolution times leave out alerts that cleared by themselves (nobody resolved them).
# The acknowledgement target counts an alert once someone had to act on it: it was
# acknowledged, resolved by a person, or has waited past the target; alerts whose
# condition cleared before anyone acknowledged them are left out. Resolving counts as
# acknowledging (a check-in answer of "fine" ends an alert without one).
_FIGURES = f"""
SELECT CASE WHEN GROUPING(street) = 0 THEN 'street' WHEN GROUPING(advisor) = 0 THEN 'advisor'
            ELSE 'kind' END AS grouping_set,
  street, advisor, kind, count(*)::int AS alerts,
  {_pct(0.5, ACK_AT)} AS ack_p50_min,
  {_pct(0.9, ACK_AT)} AS ack_p90_min,
  {_pct(0.5, "arrived_at")} AS arrive_p50_min,
  {_pct(0.9, "arrived_at")} AS arrive_p90_min,
  {_pct(0.5, "resolved_at", "outcome <> 'condition_cleared'")} AS resolve_p50_min,
  {_pct(0.9, "resolved_at", "outcome <> 'condition_cleared'")} AS resolve_p90_min,
  (count(*) FILTER (WHERE {ACK_AT} <= opened_at + interval '{ACK_TARGET_MINUTES} minutes'))::float
  / nullif(count(*) FILTER (WHERE acknowledged_at IS NOT NULL
       OR (outcome IS DISTINCT FROM 'condition_cleared'
           AND (state = 'resolved'
                OR opened_at <= $1::timestamptz - interval '{ACK_TARGET_MINUTES} minutes'))), 0)
    AS ack_within_target,
  (count(*) FILTER (WHERE state = 'resolved' AND outcome <> 'condition_cleared'))::int
    AS resolved,
  (count(*) FILTER (WHERE outcome = 'false_alarm'))::int AS false_alarms
FROM win GROUP BY GROUPING SETS ((street), (advisor), (kind))
ORDER BY grouping_set, street, advisor, kind
"""


async def dashboard(
    conn: asyncpg.Connection, scope: HomeScope, now: datetime, weeks: int
) -> Dashboard:
    """The dashboard over the scope's homes and the last `weeks` local weeks."""
    home_cond, home_args = scope_condition(scope, "h.id", 2)
    coverage = await conn.fetchrow(
        f"""
        SELECT count(DISTINCT d.home_id)::int AS homes_monitored,
               count(*)::int AS devices_total,
               (count(*) FILTER (WHERE {ONLINE_SQL.format(now="$1")}))::int AS devices_online,
               (count(*) FILTER (WHERE s.device_id IS NULL))::int AS devices_never_seen
        FROM devices d JOIN homes h ON h.id = d.home_id
        LEFT JOIN device_state s ON s.device_id = d.id
        WHERE d.active AND {home_cond}
        """,
        now,
        *home_args,
    )
    assert coverage is not None
    cond, args = scope_condition(scope, "h.id", 3)
    contact_cond, _ = scope_condition(scope, "home_id", 3)  # the same $3
    rows = await conn.fetch(
        _WINDOW.format(cond=cond, contact_cond=contact_cond) + _FIGURES, now, weeks, *args
    )
    sets: dict[str, list[asyncpg.Record]] = {"week": [], "street": [], "advisor": [], "kind": []}
    for row in rows:
        sets[row["grouping_set"]].append(row)
    weeks_sql = _NOTICED_BY_WEEK.format(cond=cond)
    sets["week"] = list(await conn.fetch(weeks_sql, now, weeks, *args))
    return Dashboard(
        homes_monitored=coverage["homes_monitored"],
        devices_total=coverage["devices_total"],
        devices_online=coverage["devices_online"],
        devices_never_seen=coverage["devices_never_seen"],
        alerts_by_week=[
            WeekCount(r["week_start"], r["category"], r["alerts"]) for r in sets["week"]
        ],
        response_by_street=[_response(r, "street") for r in sets["street"]],
        response_by_advisor=[_response(r, "advisor") for r in sets["advisor"]],
        false_alarm_share=[
            FalseAlarms(
                r["kind"],
                r["resolved"],
                r["false_alarms"],
                round(r["false_alarms"] / r["resolved"], 4),
            )
            for r in sets["kind"]
            if r["resolved"]
        ],
    )


def _response(row: asyncpg.Record, key: str) -> Response:
    def rounded(name: str) -> float | None:
        value = row[name]
        return None if value is None else round(float(value), 1)

    share = row["ack_within_target"]
    return Response(
        key=row[key],
        alerts=row["alerts"],
        ack_p50_min=rounded("ack_p50_min"),
        ack_p90_min=rounded("ack_p90_min"),
        arrive_p50_min=rounded("arrive_p50_min"),
        arrive_p90_min=rounded("arrive_p90_min"),
        resolve_p50_min=rounded("resolve_p50_min"),
        resolve_p90_min=rounded("resolve_p90_min"),
        ack_within_target=None if share is None else round(share, 4),
    )


@dataclass(frozen=True, slots=True)
class NowItem:
    """One thing that needs a supervisor's look right now."""

    alert_id: int | None
    home_id: str
    resident_name: str | None
    kind: str | None
    category: str | None
    since: datetime | None  # opened (unacknowledged), expected arrival (overdue), last heard
    who: str | None = None  # who claimed it (overdue arrivals)


@dataclass(frozen=True, slots=True)
class RightNow:
    unacknowledged: list[NowItem]
    overdue_arrivals: list[NowItem]
    homes_offline: list[NowItem]


_RESIDENT = (
    "(SELECT r.display_name FROM residents r WHERE r.home_id = a.home_id ORDER BY r.id LIMIT 1)"
)


async def right_now(
    conn: asyncpg.Connection, scope: HomeScope, now: datetime, limit: int = 50
) -> RightNow:
    """Alerts unacknowledged past the target, arrivals overdue, homes with every device
    offline: what a supervisor should look at now."""
    cond, args = scope_condition(scope, "a.home_id", 3)
    unacked = await conn.fetch(
        f"SELECT a.id, a.home_id, {_RESIDENT} AS resident_name, a.kind, a.category,"
        " a.opened_at AS since, NULL AS who FROM alerts a"
        " WHERE a.state = 'open'"
        f" AND a.opened_at <= $1::timestamptz - interval '{ACK_TARGET_MINUTES} minutes'"
        f" AND {cond} ORDER BY a.opened_at LIMIT $2",
        now, limit, *args,
    )  # fmt: skip
    overdue = await conn.fetch(
        f"SELECT a.id, a.home_id, {_RESIDENT} AS resident_name, a.kind, a.category,"
        " a.expected_arrival_at AS since,"
        " coalesce((SELECT u.display_name FROM users u WHERE u.username = a.claimed_by),"
        "  a.claimed_by) AS who FROM alerts a"
        " WHERE a.state <> 'resolved' AND a.claimed_at IS NOT NULL AND a.arrived_at IS NULL"
        f" AND a.expected_arrival_at < $1::timestamptz AND {cond}"
        " ORDER BY a.expected_arrival_at LIMIT $2",
        now, limit, *args,
    )  # fmt: skip
    home_cond, home_args = scope_condition(scope, "h.id", 3)
    offline = await conn.fetch(
        f"""
        SELECT h.id AS home_id,
          (SELECT r.display_name FROM residents r WHERE r.home_id = h.id ORDER BY r.id LIMIT 1)
            AS resident_name, max(s.last_seen_at) AS since
        FROM homes h JOIN devices d ON d.home_id = h.id AND d.active
        LEFT JOIN device_state s ON s.device_id = d.id
        WHERE {home_cond}
        GROUP BY h.id
        HAVING count(*) FILTER (WHERE {ONLINE_SQL.format(now="$1")}) = 0
        ORDER BY h.id LIMIT $2
        """,
        now, limit, *home_args,
    )  # fmt: skip

    def item(r: asyncpg.Record) -> NowItem:
        return NowItem(r["id"], r["home_id"], r["resident_name"], r["kind"], r["category"],
                       r["since"], r["who"])  # fmt: skip

    return RightNow(
        [item(r) for r in unacked],
        [item(r) for r in overdue],
        [NowItem(None, r["home_id"], r["resident_name"], None, None, r["since"]) for r in offline],
    )
