"""The district dashboard (supervisors: their street; admins: everything) and its CSV."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pydantic
from aiohttp import web

from api.principal import MANAGERS
from api.routes.homes import Forbid
from api.routing import Call, Route
from core.csv_cells import csv_writer
from storage.dashboard import Dashboard, Response, dashboard, right_now


class DashboardQuery(Forbid):
    weeks: int = pydantic.Field(default=8, ge=1, le=52)


class ResponseTimes(pydantic.BaseModel):
    """Minutes to acknowledge, arrive and resolve; the share acknowledged in time."""

    alerts: int
    ack_p50_min: float | None
    ack_p90_min: float | None
    arrive_p50_min: float | None
    arrive_p90_min: float | None
    resolve_p50_min: float | None
    resolve_p90_min: float | None
    ack_within_target: float | None


class StreetResponse(ResponseTimes):
    street: str | None


class AdvisorResponse(ResponseTimes):
    advisor: str | None


class WeekJson(pydantic.BaseModel):
    week_start: str
    category: str
    count: int


class FalseAlarmJson(pydantic.BaseModel):
    kind: str
    resolved: int
    false_alarms: int
    share: float


class DashboardJson(pydantic.BaseModel):
    homes_monitored: int
    devices_total: int
    devices_online: int
    devices_never_seen: int
    alerts_by_week: list[WeekJson]
    response_by_street: list[StreetResponse]
    response_by_advisor: list[AdvisorResponse]
    false_alarm_share: list[FalseAlarmJson]
    ack_target_minutes: int


def _response(r: Response, key: str) -> dict[str, Any]:
    out = dataclasses.asdict(r)
    out[key] = out.pop("key")
    return out


def dashboard_json(d: Dashboard) -> dict[str, Any]:
    return {
        "homes_monitored": d.homes_monitored,
        "devices_total": d.devices_total,
        "devices_online": d.devices_online,
        "devices_never_seen": d.devices_never_seen,
        "alerts_by_week": [dataclasses.asdict(w) for w in d.alerts_by_week],
        "response_by_street": [_response(r, "street") for r in d.response_by_street],
        "response_by_advisor": [_response(r, "advisor") for r in d.response_by_advisor],
        "false_alarm_share": [dataclasses.asdict(f) for f in d.false_alarm_share],
        "ack_target_minutes": d.ack_target_minutes,
    }


async def _figures(call: Call[Any]) -> Dashboard:
    async with call.ctx.pool.acquire() as conn:
        return await dashboard(conn, call.user.scope, call.ctx.clock.now(), call.query.weeks)


async def dashboard_get(call: Call[Any]) -> Mapping[str, Any]:
    return dashboard_json(await _figures(call))


CSV_COLUMNS = (
    "group", "name", "alerts", "ack_p50_min", "ack_p90_min", "arrive_p50_min",
    "arrive_p90_min", "resolve_p50_min", "resolve_p90_min", "ack_within_15_min_pct",
)  # fmt: skip


def dashboard_csv(d: Dashboard) -> str:
    """One row per street and per advisor, a column per figure: a table to open as is."""
    out = io.StringIO()
    writer = csv_writer(out, lineterminator="\r\n")  # street names are typed by people
    writer.writerow(CSV_COLUMNS)
    for group, rows in (("street", d.response_by_street), ("advisor", d.response_by_advisor)):
        for r in rows:
            share = None if r.ack_within_target is None else round(r.ack_within_target * 100, 1)
            cells = [group, r.key or "", r.alerts, r.ack_p50_min, r.ack_p90_min,
                     r.arrive_p50_min, r.arrive_p90_min, r.resolve_p50_min, r.resolve_p90_min,
                     share]  # fmt: skip
            writer.writerow(["" if c is None else c for c in cells])
    return out.getvalue()


async def dashboard_csv_get(call: Call[Any]) -> web.StreamResponse:
    # The byte-order mark makes spreadsheet programs read the Chinese street names right.
    body = "\ufeff" + dashboard_csv(await _figures(call))
    return web.Response(
        text=body,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="dashboard.csv"'},
    )


class NowItemJson(pydantic.BaseModel):
    alert_id: int | None
    home_id: str
    resident_name: str | None
    kind: str | None
    category: str | None
    since: datetime | None
    who: str | None


class RightNowJson(pydantic.BaseModel):
    unacknowledged: list[NowItemJson]
    overdue_arrivals: list[NowItemJson]
    homes_offline: list[NowItemJson]
    ack_target_minutes: int


async def now_get(call: Call[Any]) -> Mapping[str, Any]:
    """Alerts unacknowledged past the target, overdue arrivals, homes offline."""
    async with call.ctx.pool.acquire() as conn:
        now = await right_now(conn, call.user.scope, call.ctx.clock.now())
    items = [*now.unacknowledged, *now.overdue_arrivals, *now.homes_offline]
    call.audit_homes(dict.fromkeys(item.home_id for item in items))  # residents are named
    return dataclasses.asdict(now) | {"ack_target_minutes": 15}


def routes() -> list[Route]:
    return [
        Route("GET", "/api/v1/dashboard/now", now_get,
              "Right now: unacknowledged alerts, overdue arrivals, homes offline",
              "dashboard", MANAGERS, response_model=RightNowJson, errors=(401, 403),
              audit="dashboard.now"),
        Route("GET", "/api/v1/dashboard", dashboard_get,
              "Coverage, alerts per week, response times, false alarms", "dashboard",
              MANAGERS, query_model=DashboardQuery, response_model=DashboardJson),
        Route("GET", "/api/v1/dashboard.csv", dashboard_csv_get, "The dashboard as CSV",
              "dashboard", MANAGERS, query_model=DashboardQuery, content_type="text/csv"),
    ]  # fmt: skip
