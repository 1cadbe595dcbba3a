"""The family view: their relative's status in plain words, and their own notification
preferences. Scoped to the homes where the user is a family contact; nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

import asyncpg
import pydantic

from api.errors import invalid, not_found
from api.family_text import alert_text, out_of_home, status_text
from api.fields import EmailAddress, LocalTime, PhoneNumber
from api.principal import Role
from api.routes.homes import Forbid, HomeId
from api.routing import Call, Route
from core.contacts import Language
from storage.family_view import (
    Preferences,
    day_so_far,
    family_scope,
    get_preferences,
    hourly_activity,
    open_alerts,
    set_preferences,
)
from storage.homes_view import AwayView, list_away_periods, list_homes
from storage.resident_profile import get_profile

FAMILY = frozenset({Role.FAMILY})
MAX_RELATIVES = 20  # a family member follows a handful of homes, not a district


class FamilyAlert(pydantic.BaseModel):
    id: int
    category: str
    kind: str
    severity: str
    opened_at: datetime
    first_seen_at: datetime | None
    text: str
    acknowledged_at: datetime | None
    claimed_at: datetime | None
    expected_arrival_at: datetime | None
    arrived_at: datetime | None
    helper_name: str | None = pydantic.Field(description="who is furthest along with it")


class Hourly(pydantic.BaseModel):
    """Motion events per local hour: today, and a usual day of the last two weeks."""

    today: list[int]
    usual: list[float]


class Advisor(pydantic.BaseModel):
    name: str | None
    phone: str | None


class Today(pydantic.BaseModel):
    water_litres: float
    motion_events: int
    first_activity_at: datetime | None
    out_of_home: bool


class Relative(pydantic.BaseModel):
    home_id: str
    resident_name: str | None
    timezone: str
    status_text: str
    status: str
    last_sign_of_life_at: datetime | None
    open_alerts: list[FamilyAlert]
    today: Today
    away_periods: list[AwayView]
    hourly: Hourly
    advisor: Advisor


class Relatives(pydantic.BaseModel):
    relatives: list[Relative]


class Channels(Forbid):
    sms: PhoneNumber | None = None
    email: EmailAddress | None = None


class PreferencesBody(Forbid):
    channels: Channels
    quiet_start: LocalTime | None = None
    quiet_end: LocalTime | None = None
    language: Literal["zh-CN", "en"] = "zh-CN"


class HomePath(Forbid):
    home_id: HomeId


async def relatives(call: Call[Any]) -> Mapping[str, Any]:
    user = call.user
    scope, now = family_scope(user.username), call.ctx.clock.now()
    language = Language.parse(user.language)
    out = []
    async with call.ctx.pool.acquire() as conn:
        homes = await list_homes(conn, scope, now, limit=MAX_RELATIVES)
        call.audit_homes(h.id for h in homes)  # the path names none: every relative's home
        alerts = await open_alerts(conn, scope, [h.id for h in homes])
        for home in homes:
            zone = ZoneInfo(home.timezone)
            midnight = datetime.combine(now.astimezone(zone).date(), time(), zone)
            day = await day_so_far(conn, scope, home.id, midnight, now)
            away = await list_away_periods(conn, scope, home.id, now)
            hourly = await hourly_activity(conn, scope, home.id, midnight, now, home.timezone)
            profile = await get_profile(conn, scope, home.id)
            out.append(
                {
                    "home_id": home.id,
                    "resident_name": home.resident_name,
                    "timezone": home.timezone,
                    "status_text": status_text(
                        language,
                        home.status,
                        home.last_sign_of_life_at,
                        home.away_until,
                        home.timezone,
                        now,
                    ),
                    "status": home.status,
                    "last_sign_of_life_at": home.last_sign_of_life_at,
                    "open_alerts": [
                        {
                            "id": a.id,
                            "category": a.category,
                            "severity": a.severity,
                            "kind": a.kind,
                            "opened_at": a.opened_at,
                            "first_seen_at": a.first_seen_at,
                            "acknowledged_at": a.acknowledged_at,
                            "claimed_at": a.claimed_at,
                            "expected_arrival_at": a.expected_arrival_at,
                            "arrived_at": a.arrived_at,
                            "helper_name": a.helper_name,
                            "text": alert_text(
                                language, a.category, a.kind, a.opened_at, home.timezone, now
                            ),
                        }
                        for a in alerts
                        if a.home_id == home.id
                    ],
                    "today": {
                        "water_litres": day.water_litres,
                        "motion_events": day.motion_events,
                        "first_activity_at": day.first_activity_at,
                        "out_of_home": out_of_home(
                            home.away_until, day.last_motion_room, day.last_activity_at, now
                        ),
                    },
                    "away_periods": [p for p in away if p.ends_at > now],
                    "hourly": {"today": hourly.today, "usual": hourly.usual},
                    "advisor": {
                        "name": profile.advisor_name if profile else None,
                        "phone": profile.advisor_phone if profile else None,
                    },
                }
            )
    call.audit_homes(h.id for h in homes)  # the path names none: every relative's home
    return {"relatives": out}


def _prefs_json(prefs: Preferences) -> dict[str, Any]:
    return {
        "channels": {"sms": prefs.sms, "email": prefs.email},
        "quiet_start": prefs.quiet_start,
        "quiet_end": prefs.quiet_end,
        "language": prefs.language,
    }


async def preferences_get(call: Call[Any]) -> Mapping[str, Any]:
    async with call.ctx.pool.acquire() as conn:
        prefs = await get_preferences(conn, call.user.username, call.path.home_id)
    if prefs is None:
        raise not_found("home")
    return _prefs_json(prefs)


async def preferences_put(call: Call[PreferencesBody]) -> Mapping[str, Any]:
    body = call.body
    if (body.quiet_start is None) != (body.quiet_end is None):
        missing = "quiet_end" if body.quiet_end is None else "quiet_start"
        raise invalid("give both quiet_start and quiet_end, or neither", missing)
    if body.quiet_start is not None and body.quiet_start == body.quiet_end:
        raise invalid("quiet_end must differ from quiet_start", "quiet_end")
    prefs = Preferences(
        body.channels.sms, body.channels.email, body.quiet_start, body.quiet_end, body.language
    )
    async with call.ctx.pool.acquire() as conn:
        try:
            changed = await set_preferences(conn, call.user.username, call.path.home_id, prefs)
        except asyncpg.CheckViolationError:
            # The row would have no way left to reach them.
            raise invalid("keep at least one channel (sms or email)", "channels") from None
        if not changed:
            raise not_found("home")
        stored = await get_preferences(conn, call.user.username, call.path.home_id)
    assert stored is not None
    return _prefs_json(stored)


class PreferencesJson(pydantic.BaseModel):
    channels: Channels
    quiet_start: time | None
    quiet_end: time | None
    language: str


def routes() -> list[Route]:
    prefs = "/api/v1/family/preferences/{home_id}"
    return [
        Route("GET", "/api/v1/family", relatives,
              "Your relatives' status in plain words, today's summary, open alerts",
              "family", FAMILY, response_model=Relatives, audit="family.summary"),
        Route("GET", prefs, preferences_get, "Your notification preferences for a home",
              "family", FAMILY, path_model=HomePath, response_model=PreferencesJson),
        Route("PUT", prefs, preferences_put, "Change your channels, quiet hours, language",
              "family", FAMILY, path_model=HomePath, body_model=PreferencesBody,
              response_model=PreferencesJson),
    ]  # fmt: skip
