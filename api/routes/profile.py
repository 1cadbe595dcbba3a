"""The resident's profile for the advisor on the way (issue 12): who, where exactly, how to
get in, what to mind. Staff of the home see it all; family see their relative's basics
and the advisor's name and number. Every read is audited (`home.profile`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pydantic

from api.errors import not_found
from api.principal import ALL_ROLES, MANAGERS, Role
from api.routes.homes import Forbid, HomePath
from api.routing import Call, Route
from storage.resident_profile import NOTE_TOPICS, ProfileChange, get_profile, update_profile

PHONE = r"^\+?[0-9 ()-]{3,20}$"
# What a family member sees of their relative's profile.
FAMILY_FIELDS = ("home_id", "name", "age", "advisor_name", "advisor_phone")


class CareNotes(Forbid):
    hearing: str | None = pydantic.Field(default=None, max_length=200)
    mobility: str | None = pydantic.Field(default=None, max_length=200)
    medication: str | None = pydantic.Field(default=None, max_length=200)
    pets: str | None = pydantic.Field(default=None, max_length=200)
    other: str | None = pydantic.Field(default=None, max_length=200)


class ProfileJson(pydantic.BaseModel):
    """Fields a role may not see are left out."""

    home_id: str
    name: str | None = None
    age: int | None = None
    birth_year: int | None = None
    phone: str | None = None
    address: str | None = None
    building: str | None = None
    floor: str | None = None
    unit: str | None = None
    street: str | None = None
    key_holder_name: str | None = None
    key_holder_phone: str | None = None
    care_notes: dict[str, str] | None = None
    advisor_name: str | None = None
    advisor_phone: str | None = None


class ProfileBody(Forbid):
    """Fields left out stay as they are."""

    name: str | None = pydantic.Field(default=None, min_length=1, max_length=100)
    birth_year: int | None = pydantic.Field(default=None, ge=1900, le=2100)
    phone: str | None = pydantic.Field(default=None, pattern=PHONE)
    building: str | None = pydantic.Field(default=None, max_length=50)
    floor: str | None = pydantic.Field(default=None, max_length=10)
    unit: str | None = pydantic.Field(default=None, max_length=20)
    key_holder_name: str | None = pydantic.Field(default=None, max_length=100)
    key_holder_phone: str | None = pydantic.Field(default=None, pattern=PHONE)
    care_notes: CareNotes | None = None


async def _read(call: Call[Any]) -> dict[str, Any]:
    home_id = call.path.home_id
    async with call.ctx.pool.acquire() as conn:
        profile = await get_profile(conn, call.user.scope, home_id)
    if profile is None:
        raise not_found("home")
    out = dataclasses.asdict(profile)
    year = call.ctx.clock.now().year
    out["age"] = year - profile.birth_year if profile.birth_year else None
    out["care_notes"] = {k: v for k, v in profile.care_notes.items() if k in NOTE_TOPICS and v}
    if call.user.role is Role.FAMILY:
        out = {key: out[key] for key in FAMILY_FIELDS}
    return out


async def profile_get(call: Call[Any]) -> Mapping[str, Any]:
    """A home's resident profile, as much of it as the caller's role may see."""
    return await _read(call)


async def profile_put(call: Call[ProfileBody]) -> Mapping[str, Any]:
    """Change the profile (admins, and supervisors for their street's homes)."""
    body = call.body
    notes = None
    if body.care_notes is not None:
        notes = {k: v for k, v in body.care_notes.model_dump().items() if v}
    change = ProfileChange(
        name=body.name, birth_year=body.birth_year, phone=body.phone, building=body.building,
        floor=body.floor, unit=body.unit, key_holder_name=body.key_holder_name,
        key_holder_phone=body.key_holder_phone, care_notes=notes,
    )  # fmt: skip
    async with call.ctx.pool.acquire() as conn:
        if not await update_profile(conn, call.user.scope, call.path.home_id, change):
            raise not_found("home")
    return await _read(call)


def routes() -> list[Route]:
    """The profile routes."""
    path = "/api/v1/homes/{home_id}/profile"
    return [
        Route("GET", path, profile_get, "The resident's profile for the advisor on the way",
              "homes", ALL_ROLES, path_model=HomePath, response_model=ProfileJson,
              errors=(401, 403, 404, 422), audit="home.profile"),
        Route("PUT", path, profile_put, "Change the resident's profile", "homes", MANAGERS,
              path_model=HomePath, body_model=ProfileBody, response_model=ProfileJson,
              audit="home.profile.update"),
    ]  # fmt: skip
