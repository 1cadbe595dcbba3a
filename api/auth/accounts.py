"""Users and tokens: the rules for a new user, a new password, a token's lifetime,
disabling; shared by the API and the CLI."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

import asyncpg
import pydantic

from api.auth import throttle
from api.auth.password_rules import MAX_PASSWORD_CHARS, check_password_rules
from api.auth.passwords import hash_password
from api.auth.sessions import PrincipalCache, token_key
from api.auth.tokens import digest, new_bearer_token
from api.principal import Role
from core.clock import Clock
from storage import users
from storage.users import TokenRow, UserRow

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
Language = Literal["zh-CN", "en"]
Username = Annotated[str, pydantic.Field(pattern=USERNAME_PATTERN, examples=["advisor-wang"])]
# A token lasts at most this long, whatever its creator asks: a forgotten integration's
# token should not outlive its purpose by years.
MAX_TOKEN_DAYS = 366


class NewUser(pydantic.BaseModel):
    """A user to create."""

    model_config = pydantic.ConfigDict(extra="forbid")

    username: Username
    password: str = pydantic.Field(min_length=1, max_length=MAX_PASSWORD_CHARS)
    display_name: str = pydantic.Field(min_length=1, max_length=100)
    role: Role
    language: Language = "zh-CN"
    street: str | None = pydantic.Field(default=None, min_length=1, max_length=100)

    @pydantic.field_validator("password")
    @classmethod
    def _strong_enough(cls, password: str, info: pydantic.ValidationInfo) -> str:
        check_password_rules(password, info.data.get("username"))
        return password

    @pydantic.model_validator(mode="after")
    def _supervisor_has_street(self) -> NewUser:
        if self.role is Role.SUPERVISOR and self.street is None:
            # A supervisor sees one street's homes; without one they would see nothing.
            raise ValueError("street: a supervisor needs the street office they watch")
        return self


async def create_user(pool: asyncpg.Pool, new: NewUser, clock: Clock) -> UserRow:
    """Hash the password (in a thread) and store the user; DuplicateUserError if taken."""
    password_hash = await hash_password(new.password)
    async with pool.acquire() as conn:
        return await users.add_user(
            conn,
            username=new.username,
            display_name=new.display_name,
            role=new.role.value,
            password_hash=password_hash,
            language=new.language,
            street=new.street,
            now=clock.now(),
        )


async def create_token(
    pool: asyncpg.Pool,
    username: str,
    label: str,
    clock: Clock,
    lifetime: timedelta = timedelta(days=90),
) -> tuple[int, str] | None:
    """A new bearer token for `username` lasting `lifetime`: (id, token shown once), or
    None if no such user."""
    token = new_bearer_token()
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        if await users.get_user(conn, username) is None:
            return None
        token_id = await users.create_token(
            conn,
            token_hash=digest(token),
            label=label,
            username=username,
            now=now,
            expires_at=now + lifetime,
        )
    return token_id, token


async def revoke_token(
    pool: asyncpg.Pool, token_id: int, by: str, clock: Clock, cache: PrincipalCache | None
) -> TokenRow | None:
    """Revoke a token: at once in this process, within the cache's TTL elsewhere."""
    async with pool.acquire() as conn:
        revoked = await users.revoke_token(conn, token_id, clock.now(), by)
    if revoked is None:
        return None
    token, token_hash = revoked
    if cache is not None:
        cache.forget(token_key(token_hash))
    return token


async def set_user_disabled(
    pool: asyncpg.Pool,
    username: str,
    disabled: bool,
    by: str,
    clock: Clock,
    cache: PrincipalCache | None,
) -> UserRow | None:
    """Disable a user (sessions ended, tokens refused) or enable them again."""
    async with pool.acquire() as conn:
        user = await users.set_disabled(conn, username, disabled, clock.now(), by)
    if user is not None and cache is not None:
        cache.forget_user(username)
    return user


async def set_password(
    pool: asyncpg.Pool,
    username: str,
    password: str,
    clock: Clock,
    cache: PrincipalCache | None,
    keep_session: str | None = None,
) -> bool:
    """Store a new password (rules checked by the caller) and end the user's other
    sessions; the sign-in counter starts again. False when there is no such user."""
    password_hash = await hash_password(password)
    async with pool.acquire() as conn:
        changed = await users.change_password(
            conn, username, password_hash, clock.now(), keep_session
        )
        if changed:
            await throttle.reset_account(conn, username)
    if changed and cache is not None:
        cache.forget_user(username)
    return changed


def user_json(user: UserRow) -> dict[str, str | None]:
    """The contract's User object."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "language": user.language,
        "street": user.street,
    }


def account_json(user: UserRow) -> dict[str, Any]:
    """A user as admins see them: with whether (and since when) they are disabled."""
    return {
        **user_json(user),
        "disabled": user.disabled,
        "disabled_at": user.disabled_at,
        "created_at": user.created_at,
        "password_changed_at": user.password_changed_at,
    }


def token_json(token: TokenRow, now: Any) -> dict[str, Any]:
    """A token as listed, with its state (never its value)."""
    state = "revoked" if token.revoked_at else "expired" if token.expires_at <= now else "live"
    return {
        "id": token.id,
        "username": token.username,
        "label": token.label,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
        "revoked_by": token.revoked_by,
        "state": state,
    }
