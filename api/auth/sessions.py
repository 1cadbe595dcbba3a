"""Who is calling: a console session (cookie) or an integration token (bearer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

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


# Who a session or token belongs to is remembered for PRINCIPAL_TTL, so that a request
# costs no lookup query (the alert list's only other query is the list itself). Logout
# takes effect at once in this process (its entry is dropped); what changes elsewhere (a
# user disabled, a token revoked, a session ended by another process or expiring) takes
# effect within PRINCIPAL_TTL. Only valid credentials are remembered.
PRINCIPAL_TTL = timedelta(seconds=5)
PRINCIPAL_CACHE_ENTRIES = 10_000


class PrincipalCache:
    """Credential digest → (when looked up, the principal), per app."""

    def __init__(self, ttl: timedelta = PRINCIPAL_TTL) -> None:
        self._ttl = ttl
        self._entries: dict[str, tuple[datetime, Principal]] = {}

    def get(self, key: str, now: datetime) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        found_at, principal = entry
        if not found_at <= now < found_at + self._ttl:
            del self._entries[key]
            return None
        return principal

    def put(self, key: str, principal: Principal, now: datetime) -> None:
        if len(self._entries) >= PRINCIPAL_CACHE_ENTRIES:
            self._entries = {
                k: e for k, e in self._entries.items() if e[0] <= now < e[0] + self._ttl
            }
            while len(self._entries) >= PRINCIPAL_CACHE_ENTRIES:  # the oldest go first
                del self._entries[next(iter(self._entries))]
        self._entries[key] = (now, principal)

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_user(self, username: str) -> None:
        """Drop every remembered credential of `username` (disabled, password changed)."""
        self._entries = {
            key: entry for key, entry in self._entries.items() if entry[1].username != username
        }


def token_key(token_hash: str) -> str:
    """The cache key of a bearer token (by its digest)."""
    return f"bearer:{token_hash}"


def _session_key(session_hash: str) -> str:
    return f"cookie:{session_hash}"


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


async def end_session(
    pool: asyncpg.Pool, principal: Principal, cache: PrincipalCache | None = None
) -> None:
    """Log out: the session can no longer be used, whoever holds the cookie."""
    if principal.session_id is None:
        return
    async with pool.acquire() as conn:
        await users.delete_session(conn, principal.session_id)
    if cache is not None:
        cache.forget(_session_key(principal.session_id))


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(
    request: web.Request, pool: asyncpg.Pool, clock: Clock, cache: PrincipalCache | None = None
) -> Principal | None:
    """The caller, from a bearer token (preferred) or the session cookie; None if neither
    is valid. A wrong credential is the same as none: the route then answers 401."""
    now = clock.now()
    token = bearer_token(request)
    if token is not None:
        token_hash = digest(token)
        key = token_key(token_hash)
        principal = cache.get(key, now) if cache is not None else None
        if principal is not None:
            return principal
        async with pool.acquire() as conn:
            found = await users.token_user(conn, token_hash, now)
            if found is None:
                return None
            if found.last_seen_at is None or now - found.last_seen_at > TOUCH_EVERY:
                await users.touch_token(conn, token_hash, now)
        principal = _principal(found, AuthMethod.BEARER, None)
    else:
        cookie = request.cookies.get(COOKIE_NAME)
        if not cookie:
            return None
        session_hash = digest(cookie)
        key = _session_key(session_hash)
        principal = cache.get(key, now) if cache is not None else None
        if principal is not None:
            return principal
        async with pool.acquire() as conn:
            found = await users.session_user(conn, session_hash, now, SESSION_IDLE)
            if found is None:
                return None
            if found.last_seen_at is None or now - found.last_seen_at > TOUCH_EVERY:
                await users.touch_session(conn, session_hash, now)
        principal = _principal(found, AuthMethod.COOKIE, session_hash)
    if cache is not None:
        cache.put(key, principal, now)
    return principal


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
