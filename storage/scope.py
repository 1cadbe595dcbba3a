"""Which homes a person may see, as a SQL condition: object-level authorization lives in
the queries, so a home outside the scope is simply not found.

A scope is built by the API from the signed-in user; storage only knows the four shapes:
every home, one street's homes, the homes a person advises, the homes a person is family
of. Assignments are the `alert_contacts` rows (the same rows that route notifications),
so whoever is told about a home is exactly whoever may open it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ScopeKind(enum.StrEnum):
    """The shapes a set of visible homes can take."""

    ALL = "all"
    STREET = "street"
    ADVISOR = "advisor"
    FAMILY = "family"


@dataclass(frozen=True, slots=True)
class HomeScope:
    """The homes one person may see. `value` is the street or the person reference."""

    kind: ScopeKind
    value: str | None = None

    def __post_init__(self) -> None:
        if (self.kind is ScopeKind.ALL) != (self.value is None):
            raise ValueError("only the ALL scope comes without a street or person")

    @classmethod
    def everything(cls) -> HomeScope:
        return cls(ScopeKind.ALL)


def scope_condition(scope: HomeScope, column: str, param: int) -> tuple[str, list[str]]:
    """A SQL condition on `column` (a home id) and its arguments, numbered from `param`.

    `column` must be a trusted identifier from our own code, never user input.
    """
    if scope.kind is ScopeKind.ALL:
        return "TRUE", []
    assert scope.value is not None
    if scope.kind is ScopeKind.STREET:
        return f"{column} IN (SELECT id FROM homes WHERE street = ${param})", [scope.value]
    roles = (
        "('primary_advisor', 'backup_advisor')" if scope.kind is ScopeKind.ADVISOR else "('family')"
    )
    return (
        f"{column} IN (SELECT home_id FROM alert_contacts"
        f" WHERE person_ref = ${param} AND role IN {roles})",
        [scope.value],
    )
