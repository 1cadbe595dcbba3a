"""Users, their integration tokens, and the audit log (admin only)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pydantic

from api.auth.accounts import NewUser, Username, create_token, create_user, user_json
from api.context import AUDIT
from api.errors import conflict, not_found
from api.principal import ADMIN_ONLY
from api.routes.auth import UserJson
from api.routing import Call, Route
from storage.audit import list_entries
from storage.users import DuplicateUserError, list_users

FLUSH_WAIT_SECONDS = 5.0


class UserList(pydantic.BaseModel):
    users: list[UserJson]


class OneUser(pydantic.BaseModel):
    user: UserJson


class UserPath(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    username: Username


class NewToken(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    label: str = pydantic.Field(min_length=1, max_length=100, examples=["district dashboard"])


class TokenCreated(pydantic.BaseModel):
    token: str = pydantic.Field(description="shown this once; only its hash is kept")
    id: int


class AuditQuery(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    limit: int = pydantic.Field(default=100, ge=1, le=500)
    before_id: int | None = pydantic.Field(default=None, ge=1, le=2**63 - 1)


class AuditEntryJson(pydantic.BaseModel):
    id: int
    at: datetime
    username: str
    action: str
    resource: str
    home_id: str | None


class AuditPage(pydantic.BaseModel):
    entries: list[AuditEntryJson]


async def get_users(call: Call[Any]) -> Mapping[str, Any]:
    """Every user."""
    async with call.ctx.pool.acquire() as conn:
        found = await list_users(conn)
    return {"users": [user_json(u) for u in found]}


async def post_user(call: Call[NewUser]) -> Mapping[str, Any]:
    """Create a user."""
    try:
        user = await create_user(call.ctx.pool, call.body, call.ctx.wall_clock)
    except DuplicateUserError:
        raise conflict(f"user {call.body.username} exists already") from None
    return {"user": user_json(user)}


async def post_token(call: Call[NewToken]) -> Mapping[str, Any]:
    """Create a bearer token for a user; the token is shown only in this answer."""
    created = await create_token(
        call.ctx.pool, call.path.username, call.body.label, call.ctx.wall_clock
    )
    if created is None:
        raise not_found("user")
    token_id, token = created
    return {"token": token, "id": token_id}


async def get_audit(call: Call[Any]) -> Mapping[str, Any]:
    """The newest audit entries, newest first (everything recorded so far included)."""
    # Show what has been read so far, but a writer far behind must not hang the reader.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(call.request.app[AUDIT].flush(), FLUSH_WAIT_SECONDS)
    async with call.ctx.pool.acquire() as conn:
        entries = await list_entries(conn, limit=call.query.limit, before_id=call.query.before_id)
    return {"entries": entries}


def routes() -> list[Route]:
    """The user-administration routes."""
    return [
        Route("GET", "/api/v1/users", get_users, "List users", "users", ADMIN_ONLY,
              response_model=UserList, errors=(401, 403)),
        Route("POST", "/api/v1/users", post_user, "Create a user", "users", ADMIN_ONLY,
              body_model=NewUser, response_model=OneUser, status=201,
              errors=(400, 401, 403, 409, 422)),
        Route("POST", "/api/v1/users/{username}/tokens", post_token,
              "Create an integration token for a user", "users", ADMIN_ONLY,
              path_model=UserPath, body_model=NewToken, response_model=TokenCreated,
              status=201),
        Route("GET", "/api/v1/audit", get_audit, "Read the audit log", "users", ADMIN_ONLY,
              query_model=AuditQuery, response_model=AuditPage, errors=(401, 403, 422)),
    ]  # fmt: skip
