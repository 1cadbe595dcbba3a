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
  SELECT a.*, h.street, pa.person_ref AS advisor,
    date_trunc('week', a.opened_at AT TIME ZONE h.timezone)::date AS week_start
  FROM alerts a JOIN homes h ON h.id = a.home_id
  -- the home's primary advisor: the first by position
  LEFT JOIN (SELECT DISTINCT ON (home_id) home_id, person_ref FROM alert_contacts
             WHERE role = 'primary_advisor' AND {contact_cond}
             ORDER BY home_id, position) pa
    ON pa.home_id = a.home_id
  -- the first condition is the index's; the second the exact local-week edge
  WHERE a.opened_at > $1::timestamptz - ($2::int * 7 + 2) * interval '1 day'
    AND a.opened_at <= $1
    AND a.opened_at AT TIME ZONE h.timezone
        >= date_trunc('week', $1 AT TIME ZONE h.timezone) - ($2::int - 1) * interval '1 week'
    AND {cond}
)
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
            WHEN GROUPING(kind) = 0 THEN 'kind' ELSE 'week' END AS grouping_set,
  week_start, category, street, advisor, kind, count(*)::int AS alerts,
  {_pct(0.5, "acknowledged_at")} AS ack_p50_min,
  {_pct(0.9, "acknowledged_at")} AS ack_p90_min,
  {_pct(0.5, "arrived_at")} AS arrive_p50_min,
  {_pct(0.9, "arrived_at")} AS arrive_p90_min,
  {_pct(0.5, "resolved_at", "outcome <> 'condition_cleared'")} AS resolve_p50_min,
  {_pct(0.9, "resolved_at", "outcome <> 'condition_cleared'")} AS resolve_p90_min,
  (count(*) FILTER (WHERE coalesce(acknowledged_at,
       CASE WHEN outcome <> 'condition_cleared' THEN resolved_at END)
     <= opened_at + interval '{ACK_TARGET_MINUTES} minutes'))::float
  / nullif(count(*) FILTER (WHERE acknowledged_at IS NOT NULL
       OR (outcome IS DISTINCT FROM 'condition_cleared'
           AND (state = 'resolved'
                OR opened_at <= $1::timestamptz - interval '{ACK_TARGET_MINUTES} minutes'))), 0)
    AS ack_within_target,
  (count(*) FILTER (WHERE state = 'resolved' AND outcome <> 'condition_cleared'))::int
    AS resolved,
  (count(*) FILTER (WHERE outcome = 'false_alarm'))::int AS false_alarms
FROM win GROUP BY GROUPING SETS ((week_start, category), (street), (advisor), (kind))
ORDER BY grouping_set, week_start, category, street, advisor, kind
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
