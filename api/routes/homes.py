"""Homes, devices, residents, settings and away periods.

Every query is scoped to the caller's homes, so a home that is not theirs answers 404
exactly like a home that does not exist.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import pydantic

from api.context import BACKEND
from api.errors import invalid, not_found
from api.principal import ALL_ROLES, MANAGERS, STAFF
from api.routing import Call, Route
from storage.home_admin import HomeSettings, get_settings, list_contacts, update_settings
from storage.home_series import HomeSeries, MotionPoint, WaterPoint, home_series
from storage.homes_view import (
    AwayView,
    DeviceView,
    HomeView,
    ResidentView,
    add_away_period,
    get_home,
    home_visible,
    list_away_periods,
    list_devices,
    list_homes,
    list_residents,
)

HOME_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
HomeId = Annotated[str, pydantic.Field(pattern=HOME_ID_PATTERN, examples=["home-0001"])]
Status = Literal["alert", "attention", "ok", "offline", "away"]
# Read once at import: validating a time zone must not touch the disk per request.
TIMEZONES = frozenset(zoneinfo.available_timezones())
MAX_AWAY = timedelta(days=180)


class Forbid(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class HomePath(Forbid):
    home_id: HomeId


# ---- models (they also write the OpenAPI schemas)


class HomeListQuery(Forbid):
    street: str | None = pydantic.Field(default=None, min_length=1, max_length=100)
    status: Status | None = None
    limit: int = pydantic.Field(default=100, ge=1, le=500)
    after_id: HomeId | None = None


class HomeList(pydantic.BaseModel):
    homes: list[HomeView]
    next_after_id: str | None


class ContactSummary(pydantic.BaseModel):
    role: str
    position: int
    person_ref: str
    display_name: str | None = None
    language: str


class HomeDetail(pydantic.BaseModel):
    home: HomeView
    residents: list[ResidentView]
    devices: list[DeviceView]
    away_periods: list[AwayView]
    contacts: list[ContactSummary]


class ReadingsQuery(Forbid):
    hours: int = pydantic.Field(default=48, ge=1, le=168)
    bucket_minutes: int = pydantic.Field(default=60, ge=5, le=1440)


class Readings(pydantic.BaseModel):
    home_id: str
    from_: datetime = pydantic.Field(alias="from")
    to: datetime
    bucket_minutes: int
    water: list[WaterPoint]
    motion: list[MotionPoint]
    devices: list[DeviceView]


class DeviceList(pydantic.BaseModel):
    devices: list[DeviceView]
    next_after_id: str | None = None


class DeviceQuery(Forbid):
    home_id: HomeId | None = None
    type: Literal["water_meter", "pir", "smoke"] | None = None
    online: bool | None = None
    limit: int = pydantic.Field(default=1000, ge=1, le=5000)
    after_id: str | None = pydantic.Field(default=None, max_length=64)


class ResidentQuery(Forbid):
    home_id: HomeId | None = None


class ResidentList(pydantic.BaseModel):
    residents: list[ResidentView]


class SettingsJson(pydantic.BaseModel):
    settings: HomeSettings


class SettingsChange(Forbid):
    """Only the fields given change; address, street and district may be set to null."""

    address: str | None = pydantic.Field(default=None, max_length=200)
    street: str | None = pydantic.Field(default=None, max_length=100)
    district: str | None = pydantic.Field(default=None, max_length=100)
    timezone: str | None = pydantic.Field(default=None, examples=["Asia/Shanghai"])

    @pydantic.field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("timezone cannot be null")
        if value not in TIMEZONES:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like Asia/Shanghai")
        return value


class AwayList(pydantic.BaseModel):
    away_periods: list[AwayView]


class NewAway(Forbid):
    starts_at: pydantic.AwareDatetime | None = pydantic.Field(
        default=None, description="defaults to now"
    )
    ends_at: pydantic.AwareDatetime
    note: str | None = pydantic.Field(default=None, max_length=500)


class AwayCreated(pydantic.BaseModel):
    away_period: AwayView


# ---- handlers


async def homes_list(call: Call[Any]) -> Mapping[str, Any]:
    q: HomeListQuery = call.query
    now = call.ctx.clock.now()
    async with call.ctx.pool.acquire() as conn:
        homes = await list_homes(
            conn, call.user.scope, now, street=q.street, status=q.status,
            limit=q.limit, after_id=q.after_id,
        )  # fmt: skip
    after = homes[-1].id if len(homes) == q.limit else None
    call.audit_homes(h.id for h in homes)
    return {"homes": homes, "next_after_id": after}


async def home_detail(call: Call[Any]) -> Mapping[str, Any]:
    home_id: str = call.path.home_id
    scope, now = call.user.scope, call.ctx.clock.now()
    async with call.ctx.pool.acquire() as conn:
        home = await get_home(conn, scope, home_id, now)
        if home is None:
            raise not_found("home")
        residents = await list_residents(conn, scope, home_id)
        devices = await list_devices(conn, scope, now, home_id=home_id)
        away = await list_away_periods(conn, scope, home_id, now)
        contacts = await list_contacts(conn, scope, home_id)
    return {
        "home": home,
        "residents": residents,
        "devices": devices,
        "away_periods": away,
        # Who is assigned, never their phone numbers or addresses.
        "contacts": [
            {
                "role": c.role,
                "position": c.position,
                "person_ref": c.person_ref,
                "display_name": c.display_name,
                "language": c.language,
            }
            for c in contacts
        ],
    }


async def home_readings(call: Call[Any]) -> Mapping[str, Any]:
    home_id: str = call.path.home_id
    q: ReadingsQuery = call.query
    scope, now = call.user.scope, call.ctx.clock.now()
    start = now - timedelta(hours=q.hours)
    async with call.ctx.pool.acquire() as conn:
        if not await home_visible(conn, scope, home_id):
            raise not_found("home")
        backend = await call.request.app[BACKEND].get(conn)
        series: HomeSeries = await home_series(
            conn, backend, scope, home_id, start, now, timedelta(minutes=q.bucket_minutes)
        )
        devices = await list_devices(conn, scope, now, home_id=home_id)
    return {
        "home_id": home_id,
        "from": start,
        "to": now,
        "bucket_minutes": q.bucket_minutes,
        "water": series.water,
        "motion": series.motion,
        "devices": devices,
    }


async def home_devices(call: Call[Any]) -> Mapping[str, Any]:
    home_id: str = call.path.home_id
    scope, now = call.user.scope, call.ctx.clock.now()
    async with call.ctx.pool.acquire() as conn:
        if not await home_visible(conn, scope, home_id):
            raise not_found("home")
        devices = await list_devices(conn, scope, now, home_id=home_id)
    return {"devices": devices}


async def devices_list(call: Call[Any]) -> Mapping[str, Any]:
    q: DeviceQuery = call.query
    async with call.ctx.pool.acquire() as conn:
        devices = await list_devices(
            conn, call.user.scope, call.ctx.clock.now(), home_id=q.home_id,
            device_type=q.type, online=q.online, limit=q.limit, after_id=q.after_id,
        )  # fmt: skip
    after = devices[-1].id if len(devices) == q.limit else None
    call.audit_homes(d.home_id for d in devices)
    return {"devices": devices, "next_after_id": after}


async def residents_list(call: Call[Any]) -> Mapping[str, Any]:
    q: ResidentQuery = call.query
    async with call.ctx.pool.acquire() as conn:
        residents = await list_residents(conn, call.user.scope, q.home_id)
    call.audit_homes(r.home_id for r in residents)
    return {"residents": residents}


async def settings_get(call: Call[Any]) -> Mapping[str, Any]:
    async with call.ctx.pool.acquire() as conn:
        settings = await get_settings(conn, call.user.scope, call.path.home_id)
    if settings is None:
        raise not_found("home")
    return {"settings": settings}


async def settings_put(call: Call[SettingsChange]) -> Mapping[str, Any]:
    changes = call.body.model_dump(exclude_unset=True)
    async with call.ctx.pool.acquire() as conn:
        settings = await update_settings(conn, call.user.scope, call.path.home_id, changes)
    if settings is None:
        raise not_found("home")
    return {"settings": settings}


async def away_list(call: Call[Any]) -> Mapping[str, Any]:
    home_id: str = call.path.home_id
    scope = call.user.scope
    async with call.ctx.pool.acquire() as conn:
        if not await home_visible(conn, scope, home_id):
            raise not_found("home")
        periods = await list_away_periods(conn, scope, home_id, call.ctx.clock.now())
    return {"away_periods": periods}


async def away_add(call: Call[NewAway]) -> Mapping[str, Any]:
    body, now = call.body, call.ctx.clock.now()
    starts_at = body.starts_at or now
    if body.ends_at <= starts_at:
        raise invalid("ends_at must be after starts_at", "ends_at")
    if body.ends_at <= now:
        raise invalid("ends_at must be in the future", "ends_at")
    if body.ends_at - starts_at > MAX_AWAY:
        raise invalid(f"an away period lasts at most {MAX_AWAY.days} days", "ends_at")
    async with call.ctx.pool.acquire() as conn:
        period = await add_away_period(
            conn, call.user.scope, call.path.home_id, starts_at, body.ends_at, body.note,
            call.user.username,
        )  # fmt: skip
    if period is None:
        raise not_found("home")
    return {"away_period": period}


def routes() -> list[Route]:
    home = "/api/v1/homes/{home_id}"
    tag = "homes"
    return [
        Route("GET", "/api/v1/homes", homes_list, "The caller's homes with status",
              tag, STAFF, query_model=HomeListQuery, response_model=HomeList,
              audit="homes.list"),
        Route("GET", home, home_detail, "A home with residents, devices, away periods",
              tag, STAFF, path_model=HomePath, response_model=HomeDetail, audit="home.detail"),
        Route("GET", f"{home}/readings", home_readings,
              "Water litres and motion per time bucket, and device state",
              tag, STAFF, path_model=HomePath, query_model=ReadingsQuery,
              response_model=Readings, audit="home.readings"),
        Route("GET", f"{home}/devices", home_devices, "A home's devices and their state",
              tag, STAFF, path_model=HomePath, response_model=DeviceList,
              audit="home.devices"),
        Route("GET", "/api/v1/devices", devices_list, "Devices of the caller's homes",
              "devices", STAFF, query_model=DeviceQuery, response_model=DeviceList,
              audit="devices.list"),
        Route("GET", "/api/v1/residents", residents_list, "Residents of the caller's homes",
              "residents", STAFF, query_model=ResidentQuery, response_model=ResidentList,
              audit="residents.list"),
        Route("GET", f"{home}/settings", settings_get, "A home's address, street, time zone",
              tag, STAFF, path_model=HomePath, response_model=SettingsJson,
              audit="home.settings"),
        Route("PUT", f"{home}/settings", settings_put, "Change a home's settings",
              tag, MANAGERS, path_model=HomePath, body_model=SettingsChange,
              response_model=SettingsJson, audit="home.settings.change"),
        Route("GET", f"{home}/away", away_list, "Current, future and recent away periods",
              tag, ALL_ROLES, path_model=HomePath, response_model=AwayList,
              audit="home.away"),
        Route("POST", f"{home}/away", away_add, "Declare that the resident is away",
              tag, ALL_ROLES, path_model=HomePath, body_model=NewAway,
              response_model=AwayCreated, status=201, audit="home.away.add"),
    ]  # fmt: skip
