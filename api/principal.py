"""Who is calling: the signed-in user (or token holder), their role and their homes."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from storage.scope import HomeScope, ScopeKind


class Role(enum.StrEnum):
    """What a user is: admin (everything), supervisor (a street's homes), advisor
    (assigned homes), family (their relative's home only)."""

    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    ADVISOR = "advisor"
    FAMILY = "family"


ALL_ROLES = frozenset(Role)
STAFF = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.ADVISOR})
MANAGERS = frozenset({Role.ADMIN, Role.SUPERVISOR})
ADMIN_ONLY = frozenset({Role.ADMIN})


class AuthMethod(enum.StrEnum):
    COOKIE = "cookie"  # the console: writes need the CSRF token
    BEARER = "bearer"  # integrations


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request."""

    username: str
    role: Role
    display_name: str
    language: str
    street: str | None
    method: AuthMethod
    session_id: str | None = None  # the stored id (digest) of the session, for logout
    csrf_token: str | None = None  # the session's; None for bearer tokens

    @property
    def scope(self) -> HomeScope:
        """The homes this caller may see, enforced by every query."""
        if self.role is Role.ADMIN:
            return HomeScope.everything()
        if self.role is Role.SUPERVISOR:
            # A supervisor without a street sees nothing rather than everything.
            return HomeScope(ScopeKind.STREET, self.street or "")
        if self.role is Role.ADVISOR:
            return HomeScope(ScopeKind.ADVISOR, self.username)
        return HomeScope(ScopeKind.FAMILY, self.username)

    def user_json(self) -> dict[str, str | None]:
        """The contract's User object."""
        return {
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role.value,
            "language": self.language,
            "street": self.street,
        }
