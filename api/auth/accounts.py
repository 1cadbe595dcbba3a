"""Creating users and tokens: the rules for a new user, shared by the API and the CLI."""

from __future__ import annotations

from typing import Annotated, Literal

import asyncpg
import pydantic

from api.auth.passwords import MAX_PASSWORD_CHARS, check_password_rules, hash_password
from api.auth.tokens import digest, new_bearer_token
from api.principal import Role
from core.clock import Clock
from storage import users
from storage.users import UserRow

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
Language = Literal["zh-CN", "en"]
Username = Annotated[str, pydantic.Field(pattern=USERNAME_PATTERN, examples=["advisor-wang"])]


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
    def _strong_enough(cls, password: str) -> str:
        check_password_rules(password)
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
    pool: asyncpg.Pool, username: str, label: str, clock: Clock
) -> tuple[int, str] | None:
    """A new bearer token for `username`: (id, token shown once), or None if no such user."""
    token = new_bearer_token()
    async with pool.acquire() as conn, conn.transaction():
        if await users.get_user(conn, username) is None:
            return None
        token_id = await users.create_token(
            conn, token_hash=digest(token), label=label, username=username, now=clock.now()
        )
    return token_id, token


def user_json(user: UserRow) -> dict[str, str | None]:
    """The contract's User object."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "language": user.language,
        "street": user.street,
    }
