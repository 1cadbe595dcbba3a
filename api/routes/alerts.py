"""Alerts: the console's list, an alert's detail, people's actions, the live stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

import pydantic
import pydantic_core
from aiohttp import web

from alerts.service import AlertService
from api.context import ALERT_HUB
from api.errors import ApiError, invalid, not_found
from api.principal import STAFF
from api.routes.duty import OnDutyPair, street_on_duty
from api.routing import Call, NoModel, Route
from core.alerts import AlertNotFound, AlertState, IllegalTransition, InvalidCommand, Outcome
from core.kinds import Category, Severity
from storage.alert_views import AlertFilter, StateFilter, alert_detail, alert_view, list_alert_views

# Comment lines keep proxies and the browser from closing an idle stream.
HEARTBEAT_SECONDS = 15.0
MAX_ID = 2**63 - 1
MAX_NOTE_CHARS = 4000
STREAM_AUDIT = "alerts.stream"


class AlertJson(pydantic.BaseModel):
    """An alert with its home, as the console shows it."""

    id: int
    home_id: str
    home_address: str | None
    street: str | None
    timezone: str | None = pydantic.Field(description="the home's IANA time zone")
    resident_name: str | None
    category: Category
    kind: str
    severity: Severity
    state: AlertState
    explanation: str
    first_seen_at: datetime
    last_seen_at: datetime
    occurrences: int
    opened_at: datetime
    reopened_from: int | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    claimed_at: datetime | None
    claimed_by: str | None
    expected_arrival_at: datetime | None
    arrived_at: datetime | None
    arrived_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    outcome: Outcome | None
    resolution_note: str | None
    escalation_step: int
    params: dict[str, Any] = pydantic.Field(
        description="the figures behind the explanation, per kind (for any language)"
    )
    condition_cleared_at: datetime | None = pydantic.Field(
        description="when the device said the condition ended (the alert may still wait)"
    )
    checkin_result: str | None = pydantic.Field(
        description="the resident's answer to the check-in call: fine, help, no_answer"
    )
    checkin_at: datetime | None
    names: dict[str, str] = pydantic.Field(description="display names of the users named")


class AlertList(pydantic.BaseModel):
    alerts: list[AlertJson]
    next_before_id: int | None = pydantic.Field(description="pass as before_id for the next page")


class OneAlert(pydantic.BaseModel):
    alert: AlertJson


class HistoryJson(pydantic.BaseModel):
    at: datetime
    actor: str
    action: str
    from_state: AlertState | None
    to_state: AlertState | None
    detail: dict[str, Any]


class DeliveryJson(pydantic.BaseModel):
    id: int
    purpose: str
    channel: str
    recipient_role: str
    recipient_ref: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
    last_error: str | None
    reply: str | None
    recipient_name: str | None


class AlertDetail(pydantic.BaseModel):
    alert: AlertJson
    history: list[HistoryJson]
    deliveries: list[DeliveryJson]
    on_duty: OnDutyPair | None = pydantic.Field(
        description="who is on duty now for the home's street (null: the home has none)"
    )


class AlertPath(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    alert_id: int = pydantic.Field(ge=1, le=MAX_ID)


class AlertQuery(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    state: StateFilter = StateFilter.ACTIVE
    severity: Severity | None = None
    category: Category | None = None
    home_id: str | None = pydantic.Field(default=None, min_length=1, max_length=64)
    limit: int = pydantic.Field(default=100, ge=1, le=500)
    before_id: int | None = pydantic.Field(default=None, ge=1, le=MAX_ID)
    mine: bool = pydantic.Field(default=False, description="only alerts you acted on")
    unclaimed: bool = pydantic.Field(default=False, description="only alerts nobody claimed")
    street: str | None = pydantic.Field(default=None, min_length=1, max_length=200)


class Claim(pydantic.BaseModel):
    """A claim ("I am going"): arriving in `eta_minutes`, or by `expected_arrival_at`."""

    model_config = pydantic.ConfigDict(extra="forbid")

    eta_minutes: int | None = pydantic.Field(default=None, ge=1, le=720)
    expected_arrival_at: pydantic.AwareDatetime | None = None

    @pydantic.model_validator(mode="after")
    def _one_of(self) -> Claim:
        if (self.eta_minutes is None) == (self.expected_arrival_at is None):
            raise ValueError("give eta_minutes or expected_arrival_at (one of them)")
        return self


class Comment(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    text: str = pydantic.Field(min_length=1, max_length=MAX_NOTE_CHARS)


# What a person may record; `condition_cleared` is the system's own.
PersonOutcome = Literal[
    "resident_ok", "assisted", "emergency_services", "false_alarm", "device_fault", "away",
    "other",
]  # fmt: skip


class Resolve(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    outcome: PersonOutcome
    note: str | None = pydantic.Field(default=None, max_length=MAX_NOTE_CHARS)


async def list_alerts(call: Call[Any]) -> Mapping[str, Any]:
    """A page of the caller's alerts: live ones most severe and oldest first."""
    q: AlertQuery = call.query
    wanted = AlertFilter(
        state=q.state,
        severity=q.severity.value if q.severity else None,
        category=q.category.value if q.category else None,
        home_id=q.home_id,
        limit=q.limit,
        before_id=q.before_id,
        mine=call.user.username if q.mine else None,
        unclaimed=q.unclaimed,
        street=q.street,
    )
    async with call.ctx.pool.acquire() as conn:
        page = await list_alert_views(conn, call.user.scope, wanted)
    call.audit_homes(a["home_id"] for a in page.alerts)
    return {"alerts": page.alerts, "next_before_id": page.next_before_id}


async def get_alert(call: Call[Any]) -> Mapping[str, Any]:
    """One alert with its history and deliveries."""
    async with call.ctx.pool.acquire() as conn:
        detail = await alert_detail(conn, call.user.scope, call.path.alert_id)
    if detail is None:
        raise not_found("alert")
    call.audit_home(detail["alert"]["home_id"])
    return {**detail, "on_duty": await street_on_duty(call, detail["alert"]["street"])}


Action = Callable[[AlertService, int, str], Awaitable[object]]


async def _act(call: Call[Any], action: Action) -> Mapping[str, Any]:
    """Run a command on an alert the caller may see; answer with the alert after it."""
    alert_id, scope = call.path.alert_id, call.user.scope
    async with call.ctx.pool.acquire() as conn:
        if await alert_view(conn, scope, alert_id) is None:
            raise not_found("alert")
    try:
        await action(call.ctx.alerts, alert_id, call.user.username)
    except IllegalTransition as error:
        raise ApiError(409, "illegal_transition", str(error)) from None
    except InvalidCommand as error:
        raise invalid(str(error)) from None
    except AlertNotFound:
        raise not_found("alert") from None
    async with call.ctx.pool.acquire() as conn:
        view = await alert_view(conn, scope, alert_id)
    if view is None:  # reassigned in the meantime
        raise not_found("alert")
    call.audit_home(view["home_id"])
    return {"alert": view}


async def claim(call: Call[Claim]) -> Mapping[str, Any]:
    """The caller takes the visit ("I am going"), with an expected arrival."""
    body = call.body
    if body.expected_arrival_at is not None:
        arrival = body.expected_arrival_at
    else:
        assert body.eta_minutes is not None
        arrival = call.ctx.clock.now() + timedelta(minutes=body.eta_minutes)
    return await _act(call, lambda s, i, who: s.claim(i, who, arrival))


async def arrive(call: Call[Any]) -> Mapping[str, Any]:
    """The helper who claimed the alert has arrived."""
    return await _act(call, lambda s, i, who: s.arrive(i, who))


async def acknowledge(call: Call[Any]) -> Mapping[str, Any]:
    """Acknowledge: someone is on it; escalation pauses."""
    return await _act(call, lambda s, i, who: s.acknowledge(i, who))


async def comment(call: Call[Comment]) -> Mapping[str, Any]:
    """Add a comment to the alert's history."""
    text = call.body.text
    return await _act(call, lambda s, i, who: s.comment(i, who, text))


async def resolve(call: Call[Resolve]) -> Mapping[str, Any]:
    """Resolve with what was found, and an optional note."""
    outcome, note = Outcome(call.body.outcome), call.body.note
    return await _act(call, lambda s, i, who: s.resolve(i, who, outcome, note))


def _event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + pydantic_core.to_json(data) + b"\n\n"


async def stream(call: Call[Any]) -> web.StreamResponse:
    """Server-sent events: `hello`, then `alert` for each change in the caller's homes."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # a proxy must not hold events back
        }
    )
    hub = call.request.app[ALERT_HUB]
    # Subscribed before `hello`: nothing that changes after the client sees it is missed.
    with hub.subscribe(call.user.scope) as subscription:
        await response.prepare(call.request)
        await call.record_read(STREAM_AUDIT)  # who opened a stream, and when
        with contextlib.suppress(ConnectionResetError):
            hello = {"username": call.user.username, "heartbeat_seconds": HEARTBEAT_SECONDS}
            await response.write(_event("hello", hello))
            while True:
                try:
                    async with asyncio.timeout(HEARTBEAT_SECONDS):  # wait_for may lose a stop
                        alert = await subscription.queue.get()
                except TimeoutError:
                    await response.write(b": heartbeat\n\n")
                    continue
                if alert is None:
                    break
                # Each alert pushed is a read of that home's data.
                await call.record_read(f"{STREAM_AUDIT}.push", alert["home_id"])
                await response.write(_event("alert", alert))
    return response


def routes() -> list[Route]:
    """The alert routes (staff only: family members see alerts through /family)."""
    path, actions = AlertPath, (400, 401, 403, 404, 409, 422)
    return [
        Route("GET", "/api/v1/alerts", list_alerts, "List alerts", "alerts", STAFF,
              query_model=AlertQuery, response_model=AlertList, errors=(401, 403, 422),
              audit="alerts.list"),
        Route("GET", "/api/v1/alerts/stream", stream, "Live alert changes (SSE)", "alerts",
              STAFF, errors=(401, 403), content_type="text/event-stream",
              audit=STREAM_AUDIT),
        Route("GET", "/api/v1/alerts/{alert_id}", get_alert, "An alert with its history",
              "alerts", STAFF, path_model=path, response_model=AlertDetail,
              errors=(401, 403, 404, 422), audit="alert.read"),
        Route("POST", "/api/v1/alerts/{alert_id}/claim", claim, "Claim: I am going",
              "alerts", STAFF, path_model=path, body_model=Claim, response_model=OneAlert,
              errors=actions, audit="alert.claim"),
        Route("POST", "/api/v1/alerts/{alert_id}/arrive", arrive, "Arrived at the home",
              "alerts", STAFF, path_model=path, body_model=NoModel, response_model=OneAlert,
              errors=actions, audit="alert.arrive"),
        Route("POST", "/api/v1/alerts/{alert_id}/acknowledge", acknowledge, "Acknowledge",
              "alerts", STAFF, path_model=path, body_model=NoModel, response_model=OneAlert,
              errors=actions, audit="alert.acknowledge"),
        Route("POST", "/api/v1/alerts/{alert_id}/comment", comment, "Comment", "alerts",
              STAFF, path_model=path, body_model=Comment, response_model=OneAlert,
              errors=actions, audit="alert.comment"),
        Route("POST", "/api/v1/alerts/{alert_id}/resolve", resolve,
              "Resolve with an outcome", "alerts", STAFF, path_model=path,
              body_model=Resolve, response_model=OneAlert, errors=actions,
              audit="alert.resolve"),
    ]  # fmt: skip
