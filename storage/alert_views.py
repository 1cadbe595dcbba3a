"""Alerts as the console shows them: with their home and resident, scoped to the caller.

Every query takes a HomeScope and puts its condition in the WHERE clause, so an alert of
a home outside the caller's scope is simply not found.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import asyncpg

from storage.alerts import alert_history
from storage.scope import HomeScope, scope_condition


class StateFilter(enum.StrEnum):
    """Which alerts a list shows."""

    ACTIVE = "active"  # open or acknowledged
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    ALL = "all"

    @property
    def urgent_first(self) -> bool:
        """Lists of live alerts: most severe, then oldest first. Others: newest first."""
        return self in (StateFilter.ACTIVE, StateFilter.OPEN, StateFilter.ACKNOWLEDGED)


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """What a list asks for; `before_id` is the last alert of the previous page."""

    state: StateFilter = StateFilter.ACTIVE
    severity: str | None = None
    category: str | None = None
    home_id: str | None = None
    limit: int = 100
    before_id: int | None = None


# The AlertJson fields, in the contract's order.
_VIEW = (
    "a.id, a.home_id, h.address AS home_address, h.street, h.timezone,"
    " (SELECT r.display_name FROM residents r WHERE r.home_id = a.home_id"
    "  ORDER BY r.id LIMIT 1) AS resident_name,"
    " a.category, a.kind, a.severity, a.state, a.explanation, a.first_seen_at,"
    " a.last_seen_at, a.occurrences, a.opened_at, a.reopened_from, a.acknowledged_at,"
    " a.acknowledged_by, a.claimed_at, a.claimed_by, a.expected_arrival_at, a.arrived_at,"
    " a.arrived_by, a.resolved_at, a.resolved_by, a.outcome, a.resolution_note,"
    " a.escalation_step"
)
_URGENT_ORDER = "severity_rank(a.severity), a.opened_at, a.id"

_STATE_CONDITION = {
    StateFilter.ACTIVE: "a.state <> 'resolved'",
    StateFilter.OPEN: "a.state = 'open'",
    StateFilter.ACKNOWLEDGED: "a.state = 'acknowledged'",
    StateFilter.RESOLVED: "a.state = 'resolved'",
    StateFilter.ALL: "TRUE",
}


@dataclass(frozen=True, slots=True)
class AlertPage:
    """One page of a list, and the cursor of the next (None on the last page)."""

    alerts: list[dict[str, Any]]
    next_before_id: int | None


async def list_alert_views(
    conn: asyncpg.Connection, scope: HomeScope, wanted: AlertFilter
) -> AlertPage:
    """One page of alerts in the scope, in the console's order; one query."""
    scope_sql, args = scope_condition(scope, "a.home_id", 1)
    params: list[Any] = list(args)

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    conditions = [scope_sql, _STATE_CONDITION[wanted.state]]
    if wanted.severity is not None:
        conditions.append(f"a.severity = {param(wanted.severity)}")
    if wanted.category is not None:
        conditions.append(f"a.category = {param(wanted.category)}")
    if wanted.home_id is not None:
        conditions.append(f"a.home_id = {param(wanted.home_id)}")
    if wanted.state.urgent_first:
        order = _URGENT_ORDER
        if wanted.before_id is not None:
            # Keyset: everything after the cursor's place in the order, even if the
            # cursor alert has changed state since.
            conditions.append(
                f"({_URGENT_ORDER}) > (SELECT severity_rank(c.severity), c.opened_at, c.id"
                f" FROM alerts c WHERE c.id = {param(wanted.before_id)})"
            )
    else:
        order = "a.id DESC"
        if wanted.before_id is not None:
            conditions.append(f"a.id < {param(wanted.before_id)}")
    # One more than a page says whether there is a next one.
    limit = param(wanted.limit + 1)
    # The page is chosen from alerts alone (the index's top-N); homes and residents are
    # joined to that page only.
    sql = (
        f"SELECT {_VIEW} FROM (SELECT * FROM alerts a WHERE {' AND '.join(conditions)}"
        f" ORDER BY {order} LIMIT {limit}) a LEFT JOIN homes h ON h.id = a.home_id"
        f" ORDER BY {order}"
    )
    rows = await conn.fetch(sql, *params)
    views = [dict(r) for r in rows[: wanted.limit]]
    more = len(rows) > wanted.limit
    return AlertPage(views, views[-1]["id"] if more else None)


async def alert_view(
    conn: asyncpg.Connection, scope: HomeScope, alert_id: int
) -> dict[str, Any] | None:
    """One alert in the scope, or None (no such alert, or not the caller's)."""
    scope_sql, args = scope_condition(scope, "a.home_id", 2)
    row = await conn.fetchrow(
        f"SELECT {_VIEW} FROM alerts a LEFT JOIN homes h ON h.id = a.home_id"
        f" WHERE a.id = $1 AND {scope_sql}",
        alert_id,
        *args,
    )
    return dict(row) if row else None


async def alert_detail(
    conn: asyncpg.Connection, scope: HomeScope, alert_id: int
) -> dict[str, Any] | None:
    """An alert in the scope with its history and its deliveries, or None.

    Deliveries leave out addresses and message texts: who was told, how, and what
    happened is enough for the console.
    """
    view = await alert_view(conn, scope, alert_id)
    if view is None:
        return None
    history = await alert_history(conn, alert_id)
    deliveries = await conn.fetch(
        "SELECT id, purpose, channel, recipient_role, recipient_ref, status, attempts,"
        " created_at, sent_at, failed_at, last_error, reply"
        " FROM alert_deliveries WHERE alert_id = $1 ORDER BY id",
        alert_id,
    )
    return {"alert": view, "history": history, "deliveries": [dict(d) for d in deliveries]}


async def scopes_seeing_home(
    conn: asyncpg.Connection, home_id: str, scopes: list[HomeScope]
) -> list[HomeScope]:
    """Which of `scopes` include `home_id`, in one query (the live feed's filter)."""
    if not scopes:
        return []
    params: list[Any] = [home_id]
    columns = []
    for scope in scopes:
        sql, args = scope_condition(scope, "$1::text", len(params) + 1)
        params.extend(args)
        columns.append(f"({sql})")
    # $1 is named in the select list too: a lone ALL scope ("TRUE") would leave it unused.
    row = await conn.fetchrow(f"SELECT $1::text, ARRAY[{', '.join(columns)}]", *params)
    assert row is not None
    return [scope for scope, seen in zip(scopes, row[1], strict=True) if seen]
