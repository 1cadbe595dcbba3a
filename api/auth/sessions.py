"""Who is calling: a console session (cookie) or an integration token (bearer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from aiohttp import web

from api.auth.tokens import digest, new_secret
from api.principal import AuthMethod, Principal, Role
from core.clock import Clock
from storage import users
from storage.users import SessionUser

COOKIE_NAME = "eldercare_session"
CSRF_HEADER = "X-CSRF-Token"
# An advisor's shift, with room for a long call-out; a console left alone longer than
# SESSION_IDLE signs in again, and nobody stays signed in past SESSION_LIFETIME.
SESSION_IDLE = timedelta(hours=12)
SESSION_LIFETIME = timedelta(days=7)
# Last-seen times are written at most this often: a write per read would double the
# cost of the alert list; the idle timeout is hours, so a minute of slack is nothing.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just started: the cookie's value and the CSRF token to echo in writes."""

    token: str
    csrf_token: str


def _principal(found: SessionUser, method: AuthMethod, session_id: str | None) -> Principal:
    user = found.user
    return Principal(
        username=user.username,
        role=Role(user.role),
        display_name=user.display_name,
        language=user.language,
        street=user.street,
        method=method,
        session_id=session_id,
        csrf_token=found.csrf_token,
    )


async def start_session(pool: asyncpg.Pool, username: str, clock: Clock) -> NewSession:
    """Store a session for `username`; the token goes into the cookie, never into storage."""
    session = NewSession(new_secret(), new_secret())
    async with pool.acquire() as conn:
        await users.delete_expired_sessions(conn, username, clock.now(), SESSION_IDLE)
        await users.create_session(
            conn,
            session_hash=digest(session.token),
            username=username,
            csrf_token=session.csrf_token,
            now=clock.now(),
            lifetime=SESSION_LIFETIME,
        )
    return session


async def end_session(pool: asyncpg.Pool, principal: Principal) -> None:
    """Log out: the session can no longer be used, whoever holds the cookie."""
    if principal.session_id is None:
        return
    async with pool.acquire() as conn:
        await users.delete_session(conn, principal.session_id)


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(request: web.Request, pool: asyncpg.Pool, clock: Clock) -> Principal | None:
    """The caller, from a bearer token (preferred) or the session cookie; None if neither
    is valid. A wrong credential is the same as none: the route then answers 401."""
    now = clock.now()
    token = bearer_token(request)
    if token is not None:
        token_hash = digest(token)
        async with pool.acquire() as conn:
            found = await users.token_user(conn, token_hash)
            if found is None:
                return None
            if found.last_seen_at is None or now - found.last_seen_at > TOUCH_EVERY:
                await users.touch_token(conn, token_hash, now)
        return _principal(found, AuthMethod.BEARER, None)
    cookie = request.cookies.get(COOKIE_NAME)
    if not cookie:
        return None
    session_hash = digest(cookie)
    async with pool.acquire() as conn:
        found = await users.session_user(conn, session_hash, now, SESSION_IDLE)
        if found is None:
            return None
        if found.last_seen_at is None or now - found.last_seen_at > TOUCH_EVERY:
            await users.touch_session(conn, session_hash, now)
    return _principal(found, AuthMethod.COOKIE, session_hash)


def set_session_cookie(response: web.StreamResponse, token: str, secure: bool) -> None:
    """The console's cookie: not readable by scripts, never sent cross-site."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=secure,
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    """Tell the browser to forget the session cookie."""
    response.del_cookie(COOKIE_NAME, path="/")
