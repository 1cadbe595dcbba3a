"""Users and their integration tokens (admin only): create, list, disable and enable,
set a password; create, list and revoke tokens."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pydantic

from api.auth.accounts import (
    MAX_TOKEN_DAYS,
    NewUser,
    Username,
    account_json,
    create_token,
    create_user,
    revoke_token,
    set_password,
    set_user_disabled,
    token_json,
)
from api.auth.password_rules import MAX_PASSWORD_CHARS, password_problem
from api.context import PRINCIPALS
from api.errors import conflict, invalid, not_found
from api.principal import ADMIN_ONLY
from api.routes.auth import UserJson
from api.routing import Call, NoModel, Route
from storage import users
from storage.users import DuplicateUserError, list_users

MAX_ID = 2**63 - 1


class AccountJson(UserJson):
    """A user as admins see them."""

    disabled: bool
    disabled_at: datetime | None
    created_at: datetime
    password_changed_at: datetime | None


class UserList(pydantic.BaseModel):
    users: list[AccountJson]


class OneUser(pydantic.BaseModel):
    user: AccountJson


class UserPath(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    username: Username


class NewToken(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    label: str = pydantic.Field(min_length=1, max_length=100, examples=["district dashboard"])
    expires_in_days: int | None = pydantic.Field(
        default=None,
        ge=1,
        le=MAX_TOKEN_DAYS,
        description="default: the server's ELDERCARE_API_TOKEN_DAYS",
    )


class TokenCreated(pydantic.BaseModel):
    token: str = pydantic.Field(description="shown this once; only its hash is kept")
    id: int
    expires_at: datetime


class TokenJson(pydantic.BaseModel):
    id: int
    username: str
    label: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    state: str = pydantic.Field(description="live, expired or revoked")


class TokenList(pydantic.BaseModel):
    tokens: list[TokenJson]


class OneToken(pydantic.BaseModel):
    token: TokenJson


class TokenQuery(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    username: Username | None = None
    live_only: bool = False


class TokenPath(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    token_id: int = pydantic.Field(ge=1, le=MAX_ID)


class NewPassword(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    password: str = pydantic.Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


async def get_users(call: Call[Any]) -> Mapping[str, Any]:
    """Every user, with whether they are disabled."""
    async with call.ctx.pool.acquire() as conn:
        found = await list_users(conn)
    return {"users": [account_json(u) for u in found]}


async def post_user(call: Call[NewUser]) -> Mapping[str, Any]:
    """Create a user."""
    try:
        user = await create_user(call.ctx.pool, call.body, call.ctx.wall_clock)
    except DuplicateUserError:
        raise conflict(f"user {call.body.username} exists already") from None
    return {"user": account_json(user)}


async def _set_disabled(call: Call[Any], disabled: bool) -> Mapping[str, Any]:
    username = call.path.username
    if disabled and username == call.user.username:
        raise conflict("you cannot disable yourself; ask another admin")
    user = await set_user_disabled(
        call.ctx.pool, username, disabled, call.user.username, call.ctx.wall_clock,
        call.request.app[PRINCIPALS],
    )  # fmt: skip
    if user is None:
        raise not_found("user")
    return {"user": account_json(user)}


async def disable_user(call: Call[Any]) -> Mapping[str, Any]:
    """Disable a user: their sessions end and their tokens stop working at once here
    (within 5 s in other processes); nothing is deleted."""
    return await _set_disabled(call, True)


async def enable_user(call: Call[Any]) -> Mapping[str, Any]:
    """Enable a disabled user again (they sign in afresh; their live tokens work again)."""
    return await _set_disabled(call, False)


async def put_password(call: Call[NewPassword]) -> Mapping[str, Any]:
    """Set a user's password (they forgot it); every session of theirs ends."""
    username = call.path.username
    problem = password_problem(call.body.password, username)
    if problem is not None:
        raise invalid(f"password: {problem}", "password")
    changed = await set_password(
        call.ctx.pool, username, call.body.password, call.ctx.wall_clock,
        call.request.app[PRINCIPALS],
    )  # fmt: skip
    if not changed:
        raise not_found("user")
    async with call.ctx.pool.acquire() as conn:
        user = await users.get_user(conn, username)
    assert user is not None
    return {"user": account_json(user)}


async def post_token(call: Call[NewToken]) -> Mapping[str, Any]:
    """Create a bearer token for a user; the token is shown only in this answer."""
    days = call.body.expires_in_days
    lifetime = timedelta(days=days) if days is not None else call.ctx.token_lifetime
    created = await create_token(
        call.ctx.pool, call.path.username, call.body.label, call.ctx.wall_clock, lifetime
    )
    if created is None:
        raise not_found("user")
    token_id, token = created
    return {"token": token, "id": token_id, "expires_at": call.ctx.wall_clock.now() + lifetime}


async def get_tokens(call: Call[Any]) -> Mapping[str, Any]:
    """Tokens, newest first: everyone's or one user's; never their values."""
    q: TokenQuery = call.query
    now = call.ctx.wall_clock.now()
    async with call.ctx.pool.acquire() as conn:
        found = await users.list_tokens(conn, username=q.username, live_only=q.live_only, now=now)
    return {"tokens": [token_json(t, now) for t in found]}


async def delete_token(call: Call[Any]) -> Mapping[str, Any]:
    """Revoke a token: refused at once here, within 5 s in other processes."""
    token = await revoke_token(
        call.ctx.pool, call.path.token_id, call.user.username, call.ctx.wall_clock,
        call.request.app[PRINCIPALS],
    )  # fmt: skip
    if token is None:
        raise not_found("token")
    return {"token": token_json(token, call.ctx.wall_clock.now())}


def routes() -> list[Route]:
    """The user-administration routes."""
    user, admin, tag = "/api/v1/users/{username}", ADMIN_ONLY, "users"
    return [
        Route("GET", "/api/v1/users", get_users, "List users", tag, admin,
              response_model=UserList, errors=(401, 403)),
        Route("POST", "/api/v1/users", post_user, "Create a user", tag, admin,
              body_model=NewUser, response_model=OneUser, status=201,
              errors=(400, 401, 403, 409, 422)),
        Route("POST", f"{user}/disable", disable_user, "Disable a user", tag, admin,
              path_model=UserPath, body_model=NoModel, response_model=OneUser,
              errors=(401, 403, 404, 409, 422)),
        Route("POST", f"{user}/enable", enable_user, "Enable a disabled user", tag, admin,
              path_model=UserPath, body_model=NoModel, response_model=OneUser),
        Route("PUT", f"{user}/password", put_password, "Set a user's password", tag,
              admin, path_model=UserPath, body_model=NewPassword, response_model=OneUser),
        Route("POST", f"{user}/tokens", post_token,
              "Create an integration token for a user", tag, admin,
              path_model=UserPath, body_model=NewToken, response_model=TokenCreated,
              status=201),
        Route("GET", "/api/v1/tokens", get_tokens, "List integration tokens", tag, admin,
              query_model=TokenQuery, response_model=TokenList, errors=(401, 403, 422)),
        Route("DELETE", "/api/v1/tokens/{token_id}", delete_token, "Revoke a token", tag,
              admin, path_model=TokenPath, response_model=OneToken),
    ]  # fmt: skip
