"""Alerts as the console shows them: with their home and resident, scoped to the caller.

Every query takes a HomeScope and puts its condition in the WHERE clause, so an alert of
a home outside the caller's scope is simply not found.
"""

from __future__ import annotations

import enum
import json
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
    # Only alerts this user acknowledged, claimed or arrived at.
    mine: str | None = None
    unclaimed: bool = False  # only alerts nobody has claimed
    street: str | None = None


# The AlertJson fields, in the contract's order.
_VIEW = (
    "a.id, a.home_id, h.address AS home_address, h.street, h.timezone,"
    " (SELECT r.display_name FROM residents r WHERE r.home_id = a.home_id"
    "  ORDER BY r.id LIMIT 1) AS resident_name,"
    " a.category, a.kind, a.severity, a.state, a.explanation, a.first_seen_at,"
    " a.last_seen_at, a.occurrences, a.opened_at, a.reopened_from, a.acknowledged_at,"
    " a.acknowledged_by, a.claimed_at, a.claimed_by, a.expected_arrival_at, a.arrived_at,"
    " a.arrived_by, a.resolved_at, a.resolved_by, a.outcome, a.resolution_note,"
    " a.escalation_step, a.params, a.condition_cleared_at,"
    # The resident's answer to the check-in call, if any (the latest).
    " (SELECT ch.detail->>'result' FROM alert_history ch WHERE ch.alert_id = a.id"
    "  AND ch.action = 'checkin_answered' ORDER BY ch.id DESC LIMIT 1) AS checkin_result,"
    " (SELECT ch.at FROM alert_history ch WHERE ch.alert_id = a.id"
    "  AND ch.action = 'checkin_answered' ORDER BY ch.id DESC LIMIT 1) AS checkin_at,"
    # People's names for the user names on the alert: 张顾问, not advisor.zhang.
    " (SELECT coalesce(jsonb_object_agg(u.username, u.display_name), '{}') FROM users u"
    "  WHERE u.username IN (a.acknowledged_by, a.claimed_by, a.arrived_by, a.resolved_by))"
    "  AS names"
)


def _view(row: asyncpg.Record) -> dict[str, Any]:
    """A row of _VIEW as the API's AlertJson (jsonb columns come as text)."""
    view = dict(row)
    for key in ("params", "names"):
        value = view.get(key)
        view[key] = json.loads(value) if isinstance(value, str) else (value or {})
    return view


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
    if wanted.mine is not None:
        me = param(wanted.mine)
        conditions.append(f"{me} IN (a.acknowledged_by, a.claimed_by, a.arrived_by)")
    if wanted.unclaimed:
        conditions.append("a.claimed_by IS NULL AND a.state <> 'resolved'")
    if wanted.street is not None:
        conditions.append(
            f"EXISTS (SELECT 1 FROM homes s WHERE s.id = a.home_id"
            f" AND s.street = {param(wanted.street)})"
        )
    if wanted.state.urgent_first:
        order = _URGENT_ORDER
        if wanted.before_id is not None:
            # Keyset: everything after the cursor's place in the order, even if the
            # cursor alert has changed state since. The cursor must be in the scope too:
            # another home's alert id is treated like a missing one (an empty page), so
            # the cursor cannot tell whether that alert exists.
            cursor_scope, cursor_args = scope_condition(scope, "c.home_id", len(params) + 1)
            params.extend(cursor_args)
            conditions.append(
                f"({_URGENT_ORDER}) > (SELECT severity_rank(c.severity), c.opened_at, c.id"
                f" FROM alerts c WHERE c.id = {param(wanted.before_id)} AND {cursor_scope})"
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
    views = [_view(r) for r in rows[: wanted.limit]]
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
    return _view(row) if row else None


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
    # Recipients by name: a user's display name, or the resident's for `resident:N`.
    deliveries = await conn.fetch(
        "SELECT d.id, d.purpose, d.channel, d.recipient_role, d.recipient_ref, d.status,"
        " d.attempts, d.created_at, d.sent_at, d.failed_at, d.last_error, d.reply,"
        " coalesce(u.display_name, r.display_name) AS recipient_name"
        " FROM alert_deliveries d LEFT JOIN users u ON u.username = d.recipient_ref"
        " LEFT JOIN residents r ON d.recipient_ref = 'resident:' || r.id::text"
        " WHERE d.alert_id = $1 ORDER BY d.id",
        alert_id,
    )
    actors = sorted({entry["actor"] for entry in history})
    names = await conn.fetch(
        "SELECT username, display_name FROM users WHERE username = ANY($1::text[])", actors
    )
    view["names"] = {**view["names"], **{r["username"]: r["display_name"] for r in names}}
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
