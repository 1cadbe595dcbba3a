"""Users, console sessions and bearer tokens: the SQL behind api/auth (the sign-in
counters are in storage/login_throttle.py).

Secrets (session and token values) never reach this module in the clear: callers pass
their SHA-256, so a copy of these tables cannot be replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg


class DuplicateUserError(Exception):
    """A user with that name exists already."""


@dataclass(frozen=True, slots=True)
class UserRow:
    """One user as stored (the password hash stays in storage and api/auth)."""

    username: str
    display_name: str
    role: str
    language: str
    street: str | None
    created_at: datetime
    disabled: bool
    disabled_at: datetime | None = None
    password_changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a login needs: the user and their password hash."""

    user: UserRow
    password_hash: str


@dataclass(frozen=True, slots=True)
class SessionUser:
    """A live session or token and the user behind it."""

    user: UserRow
    csrf_token: str | None  # None for a bearer token
    last_seen_at: datetime | None


_USER = (
    "u.username, u.display_name, u.role, u.language, u.street, u.created_at, u.disabled,"
    " u.disabled_at, u.password_changed_at"
)


def _user(row: asyncpg.Record) -> UserRow:
    return UserRow(
        row["username"],
        row["display_name"],
        row["role"],
        row["language"],
        row["street"],
        row["created_at"],
        row["disabled"],
        row["disabled_at"],
        row["password_changed_at"],
    )


async def add_user(
    conn: asyncpg.Connection,
    *,
    username: str,
    display_name: str,
    role: str,
    password_hash: str,
    language: str,
    street: str | None,
    now: datetime,
) -> UserRow:
    """Store a new user; DuplicateUserError when the name is taken."""
    try:
        row = await conn.fetchrow(
            "INSERT INTO users AS u (username, display_name, role, password_hash, language,"
            f" street, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_USER}",
            username,
            display_name,
            role,
            password_hash,
            language,
            street,
            now,
        )
    except asyncpg.UniqueViolationError:
        raise DuplicateUserError(f"user {username} exists already") from None
    assert row is not None  # INSERT ... RETURNING always returns the row
    return _user(row)


async def list_users(conn: asyncpg.Connection) -> list[UserRow]:
    """Every user, by name."""
    rows = await conn.fetch(f"SELECT {_USER} FROM users u ORDER BY u.username")
    return [_user(r) for r in rows]


async def get_user(conn: asyncpg.Connection, username: str) -> UserRow | None:
    """One user, or None."""
    row = await conn.fetchrow(f"SELECT {_USER} FROM users u WHERE u.username = $1", username)
    return _user(row) if row else None


async def credentials(conn: asyncpg.Connection, username: str) -> Credentials | None:
    """The user and hash for a login, or None for an unknown or disabled user."""
    row = await conn.fetchrow(
        f"SELECT {_USER}, u.password_hash FROM users u WHERE u.username = $1 AND NOT u.disabled",
        username,
    )
    return Credentials(_user(row), row["password_hash"]) if row else None


async def set_password_hash(conn: asyncpg.Connection, username: str, password_hash: str) -> None:
    """Replace a user's hash (after a rehash with stronger parameters)."""
    await conn.execute(
        "UPDATE users SET password_hash = $2 WHERE username = $1", username, password_hash
    )


async def password_hash_of(conn: asyncpg.Connection, username: str) -> str | None:
    """The stored hash of an enabled user, or None."""
    value: str | None = await conn.fetchval(
        "SELECT password_hash FROM users WHERE username = $1 AND NOT disabled", username
    )
    return value


async def change_password(
    conn: asyncpg.Connection,
    username: str,
    password_hash: str,
    now: datetime,
    keep_session: str | None = None,
) -> bool:
    """Store a new password and end the user's sessions (but `keep_session`, the one the
    change was made from); False when there is no such user."""
    async with conn.transaction():
        changed = await conn.execute(
            "UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE username = $1",
            username,
            password_hash,
            now,
        )
        if changed == "UPDATE 0":
            return False
        await conn.execute(
            "DELETE FROM sessions WHERE username = $1 AND id IS DISTINCT FROM $2",
            username,
            keep_session,
        )
    return True


async def set_disabled(
    conn: asyncpg.Connection, username: str, disabled: bool, now: datetime, by: str
) -> UserRow | None:
    """Disable (ending every session) or enable a user; None when there is no such user.
    A disabled user's tokens stop working too (every lookup checks), and work again if
    the user is enabled."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "UPDATE users AS u SET disabled = $2,"
            " disabled_at = CASE WHEN $2 THEN $3::timestamptz END,"
            f" disabled_by = CASE WHEN $2 THEN $4 END WHERE username = $1 RETURNING {_USER}",
            username,
            disabled,
            now,
            by,
        )
        if row is not None and disabled:
            await conn.execute("DELETE FROM sessions WHERE username = $1", username)
    return _user(row) if row else None


async def create_session(
    conn: asyncpg.Connection,
    *,
    session_hash: str,
    username: str,
    csrf_token: str,
    now: datetime,
    lifetime: timedelta,
) -> None:
    """Store a new session (its hash); it expires after `lifetime` at the latest."""
    await conn.execute(
        "INSERT INTO sessions (id, username, csrf_token, created_at, last_seen_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $4, $5)",
        session_hash,
        username,
        csrf_token,
        now,
        now + lifetime,
    )


async def session_user(
    conn: asyncpg.Connection, session_hash: str, now: datetime, idle: timedelta
) -> SessionUser | None:
    """The user of a live session, or None (unknown, idle too long, expired, disabled)."""
    row = await conn.fetchrow(
        f"SELECT {_USER}, s.csrf_token, s.last_seen_at FROM sessions s"
        " JOIN users u ON u.username = s.username"
        " WHERE s.id = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND NOT u.disabled",
        session_hash,
        now,
        now - idle,
    )
    return SessionUser(_user(row), row["csrf_token"], row["last_seen_at"]) if row else None


async def touch_session(conn: asyncpg.Connection, session_hash: str, now: datetime) -> None:
    """Record activity on a session (keeps it from idling out)."""
    await conn.execute("UPDATE sessions SET last_seen_at = $2 WHERE id = $1", session_hash, now)


async def delete_session(conn: asyncpg.Connection, session_hash: str) -> None:
    """End a session (logout)."""
    await conn.execute("DELETE FROM sessions WHERE id = $1", session_hash)


async def delete_expired_sessions(
    conn: asyncpg.Connection, username: str, now: datetime, idle: timedelta
) -> int:
    """Forget a user's sessions that can no longer be used; returns how many."""
    status = await conn.execute(
        "DELETE FROM sessions WHERE username = $1 AND (expires_at <= $2 OR last_seen_at <= $3)",
        username,
        now,
        now - idle,
    )
    return int(status.split()[-1])


async def create_token(
    conn: asyncpg.Connection,
    *,
    token_hash: str,
    label: str,
    username: str,
    now: datetime,
    expires_at: datetime,
) -> int:
    """Store a bearer token (its hash) valid until `expires_at`; returns its id."""
    token_id: int = await conn.fetchval(
        "INSERT INTO api_tokens (token_hash, label, username, created_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING id",
        token_hash,
        label,
        username,
        now,
        expires_at,
    )
    return token_id


async def token_user(
    conn: asyncpg.Connection, token_hash: str, now: datetime
) -> SessionUser | None:
    """The user of a live token (not revoked, not expired, user enabled), or None."""
    row = await conn.fetchrow(
        f"SELECT {_USER}, t.last_used_at FROM api_tokens t"
        " JOIN users u ON u.username = t.username"
        " WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2"
        " AND NOT u.disabled",
        token_hash,
        now,
    )
    return SessionUser(_user(row), None, row["last_used_at"]) if row else None


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A token as listed: never its value (only the hash is kept, and not shown)."""

    id: int
    username: str
    label: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None


_TOKEN = "id, username, label, created_at, expires_at, last_used_at, revoked_at, revoked_by"


async def list_tokens(
    conn: asyncpg.Connection, *, username: str | None, live_only: bool, now: datetime
) -> list[TokenRow]:
    """Tokens (of one user, or everyone's), newest first; `live_only` leaves out revoked
    and expired ones."""
    rows = await conn.fetch(
        f"SELECT {_TOKEN} FROM api_tokens WHERE ($1::text IS NULL OR username = $1)"
        " AND (NOT $2 OR (revoked_at IS NULL AND expires_at > $3)) ORDER BY id DESC",
        username,
        live_only,
        now,
    )
    return [TokenRow(**dict(r)) for r in rows]


async def revoke_token(
    conn: asyncpg.Connection, token_id: int, now: datetime, by: str
) -> tuple[TokenRow, str] | None:
    """Revoke a token (a revoked one stays as it was); the token and its hash (for the
    principal cache), or None when there is no such token."""
    row = await conn.fetchrow(
        "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $2),"
        f" revoked_by = coalesce(revoked_by, $3) WHERE id = $1 RETURNING {_TOKEN}, token_hash",
        token_id,
        now,
        by,
    )
    if row is None:
        return None
    values = dict(row)
    token_hash = values.pop("token_hash")
    return TokenRow(**values), token_hash


async def touch_token(conn: asyncpg.Connection, token_hash: str, now: datetime) -> None:
    """Record that a token was used."""
    await conn.execute(
        "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1", token_hash, now
    )
