"""Signing in and out: POST /auth/login, POST /auth/logout, GET /auth/me."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic
from aiohttp import web

from api.auth import sessions, throttle
from api.auth.accounts import Language, user_json
from api.auth.passwords import MAX_PASSWORD_CHARS, hash_password, verify_password
from api.context import PRINCIPALS
from api.errors import ApiError, unauthorized
from api.principal import ALL_ROLES, Role
from api.routing import Call, Route, json_response
from storage import users

WRONG_CREDENTIALS = "wrong username or password"  # never says which of the two


class UserJson(pydantic.BaseModel):
    """A user as the API shows them."""

    username: str
    display_name: str
    role: Role
    language: Language
    street: str | None


class SignedIn(pydantic.BaseModel):
    """The signed-in user and the token the console sends back in X-CSRF-Token."""

    user: UserJson
    csrf_token: str | None = pydantic.Field(description="null when signed in by bearer token")


class Login(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    username: str = pydantic.Field(min_length=1, max_length=64)
    password: str = pydantic.Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


def _client_address(request: web.Request) -> str:
    # The peer address only: a forwarded-for header is the client's to invent.
    return request.remote or "unknown"


async def login(call: Call[Login]) -> web.StreamResponse:
    """Check the password (throttled), start a session, set its cookie."""
    ctx = call.ctx
    now = ctx.wall_clock.now()
    username, client = call.body.username, _client_address(call.request)
    async with ctx.pool.acquire() as conn:
        throttled = await throttle.check(conn, username, client, now)
        found = None if throttled else await users.credentials(conn, username)
    if throttled:
        raise ApiError(
            429,
            "throttled",
            f"too many failed sign-ins; try again in {throttled.retry_after_s} s",
            headers={"Retry-After": str(throttled.retry_after_s)},
        )
    verdict = await verify_password(found.password_hash if found else None, call.body.password)
    async with ctx.pool.acquire() as conn:
        if not verdict.ok or found is None:
            await users.record_login_failure(conn, username, client, now, throttle.WINDOW)
            raise unauthorized(WRONG_CREDENTIALS)
        await users.clear_login_failures(conn, username)
    if verdict.needs_rehash:  # stored under older, weaker parameters: upgrade it now
        async with ctx.pool.acquire() as conn:
            await users.set_password_hash(conn, username, await hash_password(call.body.password))
    session = await sessions.start_session(ctx.pool, username, ctx.wall_clock)
    response = json_response({"user": user_json(found.user), "csrf_token": session.csrf_token})
    sessions.set_session_cookie(response, session.token, ctx.secure_cookies)
    return response


async def logout(call: Call[Any]) -> web.StreamResponse:
    """End the session behind the cookie (a bearer token stays valid until revoked)."""
    await sessions.end_session(call.ctx.pool, call.user, call.request.app[PRINCIPALS])
    response = web.Response(status=204)
    sessions.clear_session_cookie(response)
    return response


async def me(call: Call[Any]) -> Mapping[str, Any]:
    """Who is signed in, and the CSRF token of their session."""
    return {"user": call.user.user_json(), "csrf_token": call.user.csrf_token}


def routes() -> list[Route]:
    """The auth routes."""
    return [
        Route("POST", "/api/v1/auth/login", login, "Sign in with a password", "auth",
              frozenset(), body_model=Login, response_model=SignedIn,
              errors=(400, 401, 422, 429)),
        Route("POST", "/api/v1/auth/logout", logout, "Sign out", "auth", ALL_ROLES,
              status=204, errors=(401, 403)),
        Route("GET", "/api/v1/auth/me", me, "The signed-in user", "auth", ALL_ROLES,
              response_model=SignedIn, errors=(401,)),
    ]  # fmt: skip
