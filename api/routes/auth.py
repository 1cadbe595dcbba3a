"""Signing in and out: POST /auth/login, POST /auth/logout, GET /auth/me."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic
from aiohttp import web

from api.auth import sessions, throttle
from api.auth.accounts import Language, set_password, user_json
from api.auth.client import client_address
from api.auth.messages import message
from api.auth.password_rules import MAX_PASSWORD_CHARS, password_problem
from api.auth.passwords import hash_password, verify_password
from api.context import PRINCIPALS
from api.errors import ApiError, invalid, unauthorized
from api.language import request_language
from api.principal import ALL_ROLES, Role
from api.routing import Call, Route, json_response
from storage import users


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


def throttled_error(call: Call[Any], wait: throttle.Throttled) -> ApiError:
    """The 429 of a throttled sign-in, in the request's language."""
    seconds = wait.retry_after_s
    text = message("throttled", request_language(call.request), seconds=seconds)
    return ApiError(429, "throttled", text, headers={"Retry-After": str(seconds)})


async def login(call: Call[Login]) -> web.StreamResponse:
    """Count the attempt (throttled), check the password, start a session, set its cookie."""
    ctx = call.ctx
    now = ctx.wall_clock.now()
    username = call.body.username
    client = client_address(call.request, ctx.trusted_proxies)
    async with ctx.pool.acquire() as conn:
        # Counted before the check, under a row lock: simultaneous guesses all count.
        wait = await throttle.claim(conn, username, client, now)
        found = None if wait else await users.credentials(conn, username)
    if wait:
        raise throttled_error(call, wait)
    verdict = await verify_password(found.password_hash if found else None, call.body.password)
    async with ctx.pool.acquire() as conn:
        if not verdict.ok or found is None:
            await throttle.failed(conn, now)
            raise unauthorized(message("wrong_credentials", request_language(call.request)))
        await throttle.succeeded(conn, username, client)
    if verdict.needs_rehash:  # stored under older, weaker parameters: upgrade it now
        async with ctx.pool.acquire() as conn:
            await users.set_password_hash(conn, username, await hash_password(call.body.password))
    session = await sessions.start_session(ctx.pool, username, ctx.wall_clock)
    response = json_response({"user": user_json(found.user), "csrf_token": session.csrf_token})
    sessions.set_session_cookie(response, session.token, ctx.secure_cookies)
    return response


class PasswordChange(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    current_password: str = pydantic.Field(min_length=1, max_length=MAX_PASSWORD_CHARS)
    new_password: str = pydantic.Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


async def change_password(call: Call[PasswordChange]) -> web.StreamResponse:
    """Change your own password (the current one first: it is throttled like a sign-in);
    your other sessions end, this one goes on."""
    ctx, user = call.ctx, call.user
    problem = password_problem(call.body.new_password, user.username)
    if problem is not None:
        raise invalid(f"new_password: {problem}", "new_password")
    now = ctx.wall_clock.now()
    client = client_address(call.request, ctx.trusted_proxies)
    async with ctx.pool.acquire() as conn:
        wait = await throttle.claim(conn, user.username, client, now)
        stored = None if wait else await users.password_hash_of(conn, user.username)
    if wait:
        raise throttled_error(call, wait)
    verdict = await verify_password(stored, call.body.current_password)
    async with ctx.pool.acquire() as conn:
        if not verdict.ok:
            await throttle.failed(conn, now)
            text = message("wrong_current_password", request_language(call.request))
            raise ApiError(403, "wrong_password", text, "current_password")
        await throttle.succeeded(conn, user.username, client)
    await set_password(
        ctx.pool, user.username, call.body.new_password, ctx.wall_clock,
        call.request.app[PRINCIPALS], keep_session=user.session_id,
    )  # fmt: skip
    return web.Response(status=204)


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
        Route("POST", "/api/v1/auth/password", change_password, "Change your password",
              "auth", ALL_ROLES, body_model=PasswordChange, status=204,
              errors=(400, 401, 403, 422, 429)),
    ]  # fmt: skip
