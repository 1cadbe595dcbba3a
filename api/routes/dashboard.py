"""The district dashboard (supervisors: their street; admins: everything) and its CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Mapping
from typing import Any

import pydantic
from aiohttp import web

from api.principal import MANAGERS
from api.routes.homes import Forbid
from api.routing import Call, Route
from storage.dashboard import Dashboard, Response, dashboard


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


def dashboard_csv(d: Dashboard) -> str:
    """One long table, `section,key,metric,value`, that a spreadsheet can pivot."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "key", "metric", "value"])
    for name in ("homes_monitored", "devices_total", "devices_online", "devices_never_seen",
                 "ack_target_minutes"):  # fmt: skip
        writer.writerow(["coverage", "", name, getattr(d, name)])
    for w in d.alerts_by_week:
        writer.writerow(["alerts_by_week", w.week_start.isoformat(), w.category, w.count])
    for section, rows in (("response_by_street", d.response_by_street),
                          ("response_by_advisor", d.response_by_advisor)):  # fmt: skip
        for r in rows:
            for metric, value in dataclasses.asdict(r).items():
                if metric != "key":
                    writer.writerow([section, r.key or "", metric, "" if value is None else value])
    for f in d.false_alarm_share:
        for metric in ("resolved", "false_alarms", "share"):
            writer.writerow(["false_alarm_share", f.kind, metric, getattr(f, metric)])
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


def routes() -> list[Route]:
    return [
        Route("GET", "/api/v1/dashboard", dashboard_get,
              "Coverage, alerts per week, response times, false alarms", "dashboard",
              MANAGERS, query_model=DashboardQuery, response_model=DashboardJson),
        Route("GET", "/api/v1/dashboard.csv", dashboard_csv_get, "The dashboard as CSV",
              "dashboard", MANAGERS, query_model=DashboardQuery, content_type="text/csv"),
    ]  # fmt: skip
