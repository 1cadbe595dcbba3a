"""Users, console sessions, bearer tokens and failed logins: the SQL behind api/auth.

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


_USER = "u.username, u.display_name, u.role, u.language, u.street, u.created_at, u.disabled"


def _user(row: asyncpg.Record) -> UserRow:
    return UserRow(
        row["username"],
        row["display_name"],
        row["role"],
        row["language"],
        row["street"],
        row["created_at"],
        row["disabled"],
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
    conn: asyncpg.Connection, *, token_hash: str, label: str, username: str, now: datetime
) -> int:
    """Store a bearer token (its hash); returns its id."""
    token_id: int = await conn.fetchval(
        "INSERT INTO api_tokens (token_hash, label, username, created_at)"
        " VALUES ($1, $2, $3, $4) RETURNING id",
        token_hash,
        label,
        username,
        now,
    )
    return token_id


async def token_user(conn: asyncpg.Connection, token_hash: str) -> SessionUser | None:
    """The user of a live (unrevoked) token, or None."""
    row = await conn.fetchrow(
        f"SELECT {_USER}, t.last_used_at FROM api_tokens t"
        " JOIN users u ON u.username = t.username"
        " WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND NOT u.disabled",
        token_hash,
    )
    return SessionUser(_user(row), None, row["last_used_at"]) if row else None


async def touch_token(conn: asyncpg.Connection, token_hash: str, now: datetime) -> None:
    """Record that a token was used."""
    await conn.execute(
        "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1", token_hash, now
    )


async def record_login_failure(
    conn: asyncpg.Connection, username: str, client_ip: str, now: datetime, keep: timedelta
) -> None:
    """Count one failed login, forgetting this name's and address's failures older
    than `keep` (so the table stays the size of the current window)."""
    async with conn.transaction():
        await conn.execute(
            "DELETE FROM login_failures WHERE (username = $1 OR client_ip = $2) AND at < $3",
            username,
            client_ip,
            now - keep,
        )
        await conn.execute(
            "INSERT INTO login_failures (at, username, client_ip) VALUES ($1, $2, $3)",
            now,
            username,
            client_ip,
        )


@dataclass(frozen=True, slots=True)
class FailureCount:
    """Failed logins in the window, and the oldest of them (when the window first frees)."""

    count: int
    oldest: datetime | None


async def login_failures(
    conn: asyncpg.Connection, *, username: str, client_ip: str, since: datetime
) -> tuple[FailureCount, FailureCount]:
    """Failures since `since` for the username and for the client address."""
    row = await conn.fetchrow(
        "SELECT"
        " (SELECT count(*) FROM login_failures WHERE username = $1 AND at > $3) AS user_n,"
        " (SELECT min(at) FROM login_failures WHERE username = $1 AND at > $3) AS user_at,"
        " (SELECT count(*) FROM login_failures WHERE client_ip = $2 AND at > $3) AS ip_n,"
        " (SELECT min(at) FROM login_failures WHERE client_ip = $2 AND at > $3) AS ip_at",
        username,
        client_ip,
        since,
    )
    assert row is not None
    return FailureCount(row["user_n"], row["user_at"]), FailureCount(row["ip_n"], row["ip_at"])


async def clear_login_failures(conn: asyncpg.Connection, username: str) -> None:
    """Forget a user's failures after they signed in."""
    await conn.execute("DELETE FROM login_failures WHERE username = $1", username)
