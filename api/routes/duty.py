"""Who is on duty per street (supervisors: their street; admins: every street), and
overrides: someone covering a street for a while (leave, a swap)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from typing import Any

import asyncpg
import pydantic

from api.errors import forbidden, invalid, not_found
from api.principal import MANAGERS, Role
from api.routing import Call, Route
from core.duty import Override, Tier
from storage import duty as duty_rows
from storage.duty import UnknownPerson


class Forbid(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class OnDutyJson(pydantic.BaseModel):
    person: str = pydantic.Field(description="their user name")
    name: str = pydantic.Field(description="their display name")
    sms: str | None
    source: str = pydantic.Field(description="rotation or override")
    layer: str | None = pydantic.Field(description="the rotation's layer: day, night...")


class OnDutyPair(pydantic.BaseModel):
    primary: OnDutyJson | None = pydantic.Field(
        description="null: nobody scheduled; the home's own primary advisor is told"
    )
    backup: OnDutyJson | None


class OverrideJson(pydantic.BaseModel):
    id: int
    person: str
    name: str
    tier: Tier
    start: datetime
    end: datetime
    reason: str | None


class StreetDuty(pydantic.BaseModel):
    street: str
    primary: OnDutyJson | None = pydantic.Field(
        description="null: nobody scheduled; each home's own primary advisor is told"
    )
    backup: OnDutyJson | None
    overrides: list[OverrideJson] = pydantic.Field(description="those not yet over")


class DutyNow(pydantic.BaseModel):
    at: datetime
    streets: list[StreetDuty]


class Member(pydantic.BaseModel):
    person: str = pydantic.Field(description="their user name")
    name: str = pydantic.Field(description="their display name")


class RotationJson(pydantic.BaseModel):
    id: int
    layer: str = pydantic.Field(description="day, night, weekend...")
    tier: Tier
    members: list[Member] = pydantic.Field(description="in turn order")
    start: datetime = pydantic.Field(description="the first handoff")
    shift_s: int = pydantic.Field(description="shift length, seconds")
    timezone: str
    window_start: time | None = pydantic.Field(description="local; null: all day")
    window_end: time | None
    days: list[int] = pydantic.Field(description="ISO weekdays, 1 = Monday")
    priority: int = pydantic.Field(description="the highest covering rotation wins")


class Handoff(pydantic.BaseModel):
    at: datetime
    person: str | None = pydantic.Field(description="null: nobody scheduled from then")
    name: str | None


class StreetRota(StreetDuty):
    next_primary: Handoff | None = pydantic.Field(description="null: no change within 8 days")
    next_backup: Handoff | None
    rotations: list[RotationJson]


class DutyRota(pydantic.BaseModel):
    at: datetime
    streets: list[StreetRota]


class DutyQuery(Forbid):
    at: datetime | None = pydantic.Field(default=None, description="default: now")


class NewOverride(Forbid):
    street: str = pydantic.Field(min_length=1, max_length=200)
    person: str = pydantic.Field(min_length=1, max_length=64)
    start: datetime
    end: datetime
    tier: Tier = Tier.PRIMARY
    reason: str | None = pydantic.Field(default=None, max_length=200)


class OneOverride(pydantic.BaseModel):
    override: OverrideJson


MAX_ID = 2**63 - 1


class OverridePath(Forbid):
    override_id: int = pydantic.Field(ge=1, le=MAX_ID)


class RotationPath(Forbid):
    rotation_id: int = pydantic.Field(ge=1, le=MAX_ID)


class OneRotation(pydantic.BaseModel):
    rotation: RotationJson


async def street_on_duty(call: Call[Any], street: str | None) -> dict[str, Any] | None:
    """Who is on duty on `street` now ({primary, backup}); None for a home without one."""
    if street is None:
        return None
    async with call.ctx.pool.acquire() as conn:
        (row,) = await duty_rows.on_duty_view(conn, [street], call.ctx.clock.now())
    return {"primary": row["primary"], "backup": row["backup"]}


def _streets_of(call: Call[Any], wanted: list[str]) -> list[str]:
    if call.user.role is Role.ADMIN:
        return wanted
    return [s for s in wanted if s == call.user.street]


async def duty_now(call: Call[Any]) -> Mapping[str, Any]:
    """Who is on duty now (or at `at`) on each street the caller oversees."""
    at = call.query.at or call.ctx.clock.now()
    if at.tzinfo is None:
        raise invalid("query at: give a time zone offset", "at")
    async with call.ctx.pool.acquire() as conn:
        rows = await duty_rows.on_duty_view(conn, await _caller_streets(call, conn), at)
    return {"at": at, "streets": rows}


async def _caller_streets(call: Call[Any], conn: asyncpg.Connection) -> list[str]:
    """The streets the caller oversees: an admin every known street, a supervisor theirs."""
    streets = _streets_of(call, await duty_rows.known_streets(conn))
    if call.user.role is Role.SUPERVISOR and call.user.street and not streets:
        streets = [call.user.street]
    return streets


async def duty_rotations(call: Call[Any]) -> Mapping[str, Any]:
    """The rotations and overrides of each street the caller oversees, with who is on
    duty now and the next handoff."""
    at = call.ctx.clock.now()
    async with call.ctx.pool.acquire() as conn:
        rows = await duty_rows.rota_view(conn, await _caller_streets(call, conn), at)
    return {"at": at, "streets": rows}


async def add_override(call: Call[NewOverride]) -> Mapping[str, Any]:
    """Someone covers a street from `start` until `end` (wins over the rotations)."""
    body = call.body
    if call.user.role is not Role.ADMIN and body.street != call.user.street:
        raise forbidden("a supervisor sets overrides for their own street only")
    try:
        override = Override(0, body.street, body.person, body.start, body.end, body.tier,
                            body.reason)  # fmt: skip
    except ValueError as exc:
        raise invalid(f"body: {exc}") from None
    async with call.ctx.pool.acquire() as conn, conn.transaction():
        try:
            new_id = await duty_rows.add_override(conn, override, call.user.username,
                                                  call.ctx.clock.now())  # fmt: skip
        except UnknownPerson as exc:
            raise invalid(f"body person: {exc}", "person") from None
        name = await conn.fetchval(
            "SELECT display_name FROM users WHERE username = $1", body.person
        )
    return {"override": {"id": new_id, "person": body.person, "name": name or body.person,
                         "tier": body.tier, "start": body.start, "end": body.end,
                         "reason": body.reason}}  # fmt: skip


async def remove_override(call: Call[Any]) -> Mapping[str, Any]:
    """Take back an override not yet over (entered for the wrong person or dates): from
    now on the rotations decide again. Who may add it may remove it."""
    now = call.ctx.clock.now()
    async with call.ctx.pool.acquire() as conn, conn.transaction():
        found = await duty_rows.active_override(conn, call.path.override_id, now)
        if found is None:
            raise not_found("override")
        if call.user.role is not Role.ADMIN and found.street != call.user.street:
            raise forbidden("a supervisor removes overrides of their own street only")
        removed = await duty_rows.remove_override(conn, found.id, call.user.username, now)
        if removed is None:  # removed or over in the meantime
            raise not_found("override")
        name = await conn.fetchval(
            "SELECT display_name FROM users WHERE username = $1", removed.person
        )
    return {"override": {"id": removed.id, "person": removed.person,
                         "name": name or removed.person, "tier": removed.tier,
                         "start": removed.start, "end": removed.end,
                         "reason": removed.reason}}  # fmt: skip


async def remove_rotation(call: Call[Any]) -> Mapping[str, Any]:
    """Take back a rotation (set up wrong, or no longer wanted): from now on it no longer
    decides who is on duty; until now it did. Who may remove an override on the street
    may remove its rotations."""
    now = call.ctx.clock.now()
    async with call.ctx.pool.acquire() as conn, conn.transaction():
        found = await duty_rows.active_rotation(conn, call.path.rotation_id)
        if found is None:
            raise not_found("rotation")
        if call.user.role is not Role.ADMIN and found.street != call.user.street:
            raise forbidden("a supervisor removes rotations of their own street only")
        removed = await duty_rows.remove_rotation(conn, found.id, call.user.username, now)
        if removed is None:  # removed by someone else in the meantime
            raise not_found("rotation")
        names = {
            r["username"]: r["display_name"]
            for r in await conn.fetch(
                "SELECT username, display_name FROM users WHERE username = ANY($1)",
                list(removed.participants),
            )
        }
    return {"rotation": duty_rows.rotation_json(removed, names)}


def routes() -> list[Route]:
    return [
        Route("GET", "/api/v1/duty", duty_now, "Who is on duty per street", "duty", MANAGERS,
              query_model=DutyQuery, response_model=DutyNow, errors=(401, 403, 422)),
        Route("GET", "/api/v1/duty/rotations", duty_rotations,
              "Each street's rotations and overrides, who is on duty and the next handoff",
              "duty", MANAGERS, response_model=DutyRota, errors=(401, 403)),
        Route("POST", "/api/v1/duty/overrides", add_override,
              "Cover a street for a while (an override)", "duty", MANAGERS,
              body_model=NewOverride, response_model=OneOverride, status=201,
              errors=(400, 401, 403, 422)),
        Route("DELETE", "/api/v1/duty/overrides/{override_id}", remove_override,
              "Take back an override not yet over", "duty", MANAGERS,
              path_model=OverridePath, response_model=OneOverride,
              errors=(401, 403, 404, 422)),
        Route("DELETE", "/api/v1/duty/rotations/{rotation_id}", remove_rotation,
              "Take back a rotation (it stays on record, counting until now)", "duty",
              MANAGERS, path_model=RotationPath, response_model=OneRotation,
              errors=(401, 403, 404, 422)),
    ]  # fmt: skip
