"""Assignments (a home's alert contacts) and escalation policies.

An assignment is an alert_contacts row: who is told about a home is exactly who may open
it, so assigning an advisor here also gives them the home in the console.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import asyncpg
import pydantic
from aiohttp import web

from alerts.channels.outbound import OutboundRefused, resolve_target
from api.errors import invalid, not_found
from api.fields import EmailAddress, LocalTime, PhoneNumber
from api.principal import ADMIN_ONLY, MANAGERS, STAFF
from api.routes.homes import Forbid, HomeId
from api.routing import Call, Route
from core.contacts import ChannelKind, Contact, Endpoint, Language, QuietHours
from core.contacts import Role as ContactRole
from core.policy import DEFAULT_POLICIES, POLICY_NAMES, PolicyError, policy_from_json
from core.policy import policy_to_json as policy_json
from storage.alerts_routing import reset_policy, save_policy
from storage.home_admin import ContactView, delete_contact, list_contacts, set_contact
from storage.homes_view import home_visible

# Residents are reached through the residents table, never assigned here.
AssignableRole = Literal[
    "primary_advisor", "backup_advisor", "supervisor", "family", "emergency", "operations"
]
PolicyName = Literal["critical", "high", "medium", "low", "info", "system"]
assert set(PolicyName.__args__) == set(POLICY_NAMES)  # type: ignore[attr-defined]


class ContactPath(Forbid):
    home_id: HomeId
    role: AssignableRole
    position: int = pydantic.Field(ge=0, le=32)


class HomePath(Forbid):
    home_id: HomeId


class ContactBody(Forbid):
    person_ref: str = pydantic.Field(min_length=1, max_length=100, examples=["advisor-wang"])
    language: Literal["zh-CN", "en"] = "zh-CN"
    sms: PhoneNumber | None = None
    email: EmailAddress | None = None
    webhook_url: pydantic.AnyHttpUrl | None = None
    quiet_start: LocalTime | None = None
    quiet_end: LocalTime | None = None


def _check_contact(body: ContactBody) -> None:
    """The rules spanning fields, each answered with the field to fix."""
    if (body.quiet_start is None) != (body.quiet_end is None):
        missing = "quiet_end" if body.quiet_end is None else "quiet_start"
        raise invalid("give both quiet_start and quiet_end, or neither", missing)
    if body.quiet_start is not None and body.quiet_start == body.quiet_end:
        raise invalid("quiet_end must differ from quiet_start", "quiet_end")
    if not (body.sms or body.email or body.webhook_url):
        raise invalid("give at least one of sms, email, webhook_url", "sms")


class ContactList(pydantic.BaseModel):
    contacts: list[ContactView]


class StepBody(Forbid):
    after_s: int = pydantic.Field(default=0, ge=0)
    roles: list[ContactRole] = pydantic.Field(min_length=1)
    digest: bool = False


class PolicyBody(Forbid):
    steps: list[StepBody] = pydantic.Field(max_length=10)
    resolve_within_s: int | None = None
    arrival_grace_s: int = 15 * 60


class PolicyJson(pydantic.BaseModel):
    name: PolicyName
    stored: bool = pydantic.Field(description="false: the built-in default applies")
    updated_at: str | None
    updated_by: str | None
    policy: PolicyBody


class PolicyList(pydantic.BaseModel):
    policies: list[PolicyJson]


class PolicyPath(Forbid):
    name: PolicyName


# ---- contacts


def _contact_json(contact: ContactView, with_endpoints: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "role": contact.role,
        "position": contact.position,
        "person_ref": contact.person_ref,
        "language": contact.language,
        "quiet_start": contact.quiet_start,
        "quiet_end": contact.quiet_end,
    }
    # Phone numbers and addresses are for the people who maintain them.
    for name in ("sms", "email", "webhook_url"):
        out[name] = getattr(contact, name) if with_endpoints else None
    return out


async def contacts_get(call: Call[Any]) -> Mapping[str, Any]:
    home_id: str = call.path.home_id
    scope = call.user.scope
    async with call.ctx.pool.acquire() as conn:
        if not await home_visible(conn, scope, home_id):
            raise not_found("home")
        contacts = await list_contacts(conn, scope, home_id)
    managers = call.user.role in MANAGERS
    return {"contacts": [_contact_json(c, managers) for c in contacts]}


async def contact_put(call: Call[ContactBody]) -> Mapping[str, Any]:
    path: ContactPath = call.path
    body = call.body
    _check_contact(body)
    if body.webhook_url is not None:
        try:  # checked again at every send, after resolving (DNS rebinding)
            await resolve_target(str(body.webhook_url), call.ctx.outbound)
        except OutboundRefused as refused:
            raise invalid(f"webhook_url: {refused}", "webhook_url") from None
    endpoints = [
        Endpoint(channel, str(value))
        for channel, value in (
            (ChannelKind.SMS, body.sms),
            (ChannelKind.EMAIL, body.email),
            (ChannelKind.WEBHOOK, body.webhook_url),
        )
        if value
    ]
    quiet = None
    if body.quiet_start is not None and body.quiet_end is not None:
        quiet = QuietHours(body.quiet_start, body.quiet_end)
    contact = Contact(
        ContactRole(path.role), path.position, body.person_ref, Language(body.language),
        tuple(endpoints), quiet,
    )  # fmt: skip
    async with call.ctx.pool.acquire() as conn:
        if not await set_contact(conn, call.user.scope, path.home_id, contact):
            raise not_found("home")
        contacts = await list_contacts(conn, call.user.scope, path.home_id)
    return {"contacts": [_contact_json(c, True) for c in contacts]}


async def contact_delete(call: Call[Any]) -> web.StreamResponse:
    path: ContactPath = call.path
    async with call.ctx.pool.acquire() as conn:
        deleted = await delete_contact(
            conn, call.user.scope, path.home_id, path.role, path.position
        )
    if not deleted:
        raise not_found("contact")
    return web.Response(status=204)


# ---- policies


async def _policy(conn: asyncpg.Connection, name: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        "SELECT policy::text AS policy, updated_at, updated_by FROM alert_policies WHERE name = $1",
        name,
    )
    if row is None:
        return {"name": name, "stored": False, "updated_at": None, "updated_by": None,
                "policy": policy_json(DEFAULT_POLICIES[name])}  # fmt: skip
    return {
        "name": name,
        "stored": True,
        "updated_at": row["updated_at"],
        "updated_by": row["updated_by"],
        "policy": json.loads(row["policy"]),
    }


async def policies_get(call: Call[Any]) -> Mapping[str, Any]:
    async with call.ctx.pool.acquire() as conn:
        return {"policies": [await _policy(conn, name) for name in POLICY_NAMES]}


async def policy_put(call: Call[PolicyBody]) -> Mapping[str, Any]:
    name: str = call.path.name
    try:
        policy = policy_from_json(call.body.model_dump(mode="json"))
    except PolicyError as error:
        message = str(error)
        field = message.split(" ", 1)[0]
        raise invalid(message, field if field in PolicyBody.model_fields else "steps") from None
    async with call.ctx.pool.acquire() as conn:
        await save_policy(conn, name, policy, call.user.username, call.ctx.wall_clock.now())
        return {"policy": await _policy(conn, name)}


async def policy_delete(call: Call[Any]) -> Mapping[str, Any]:
    async with call.ctx.pool.acquire() as conn:
        await reset_policy(conn, call.path.name)
        return {"policy": await _policy(conn, call.path.name)}


class PolicyOne(pydantic.BaseModel):
    policy: PolicyJson


def routes() -> list[Route]:
    contact = "/api/v1/homes/{home_id}/contacts/{role}/{position}"
    return [
        Route("GET", "/api/v1/homes/{home_id}/contacts", contacts_get,
              "Who is assigned to a home (endpoints shown to managers only)",
              "assignments", STAFF, path_model=HomePath, response_model=ContactList,
              audit="home.contacts"),
        Route("PUT", contact, contact_put, "Assign someone to a home, or change them",
              "assignments", MANAGERS, path_model=ContactPath, body_model=ContactBody,
              response_model=ContactList, audit="home.contacts.change"),
        Route("DELETE", contact, contact_delete, "Remove an assignment", "assignments",
              MANAGERS, path_model=ContactPath, status=204),
        Route("GET", "/api/v1/policies", policies_get,
              "Escalation policies (stored or built-in default)", "policies", MANAGERS,
              response_model=PolicyList),
        Route("PUT", "/api/v1/policies/{name}", policy_put, "Replace an escalation policy",
              "policies", ADMIN_ONLY, path_model=PolicyPath, body_model=PolicyBody,
              response_model=PolicyOne),
        Route("DELETE", "/api/v1/policies/{name}", policy_delete,
              "Go back to the built-in default policy", "policies", ADMIN_ONLY,
              path_model=PolicyPath, response_model=PolicyOne),
    ]  # fmt: skip
