"""A home's settings and its assignments (the alert_contacts rows), within a scope.

Assignments are the rows that route notifications, so giving an advisor a home and
telling them about its alerts are one act. Each write first checks the home is in the
caller's scope, in the same transaction, so an outsider's write changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

import asyncpg

from core.contacts import Contact
from storage.alerts_routing import put_contact
from storage.scope import HomeScope, scope_condition


@dataclass(frozen=True, slots=True)
class HomeSettings:
    id: str
    address: str | None
    street: str | None
    district: str | None
    timezone: str


@dataclass(frozen=True, slots=True)
class ContactView:
    """One assignment. The endpoints are for managers' eyes only (the route decides)."""

    role: str
    position: int
    person_ref: str
    language: str
    sms: str | None
    email: str | None
    webhook_url: str | None
    quiet_start: time | None
    quiet_end: time | None
    display_name: str | None = None  # the user's name when the person is a user


SETTING_FIELDS = ("address", "street", "district", "timezone")


async def get_settings(
    conn: asyncpg.Connection, scope: HomeScope, home_id: str
) -> HomeSettings | None:
    cond, args = scope_condition(scope, "h.id", 2)
    row = await conn.fetchrow(
        f"SELECT h.id, h.address, h.street, h.district, h.timezone FROM homes h"
        f" WHERE h.id = $1 AND {cond}",
        home_id,
        *args,
    )
    return HomeSettings(**dict(row)) if row else None


async def update_settings(
    conn: asyncpg.Connection, scope: HomeScope, home_id: str, changes: dict[str, str | None]
) -> HomeSettings | None:
    """Change the given fields (keys from SETTING_FIELDS); None when not in the scope."""
    fields = [f for f in SETTING_FIELDS if f in changes]
    if not fields:
        return await get_settings(conn, scope, home_id)
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=2))
    cond, args = scope_condition(scope, "h.id", len(fields) + 2)
    row = await conn.fetchrow(
        f"UPDATE homes h SET {sets} WHERE h.id = $1 AND {cond}"
        " RETURNING h.id, h.address, h.street, h.district, h.timezone",
        home_id,
        *(changes[f] for f in fields),
        *args,
    )
    return HomeSettings(**dict(row)) if row else None


async def list_contacts(
    conn: asyncpg.Connection, scope: HomeScope, home_id: str
) -> list[ContactView]:
    """A home's assignments in role, then position order."""
    cond, args = scope_condition(scope, "c.home_id", 2)
    rows = await conn.fetch(
        "SELECT c.role, c.position, c.person_ref, c.language, c.sms, c.email, c.webhook_url,"
        " c.quiet_start, c.quiet_end, u.display_name FROM alert_contacts c"
        f" LEFT JOIN users u ON u.username = c.person_ref WHERE c.home_id = $1 AND {cond}"
        " ORDER BY c.role, c.position",
        home_id,
        *args,
    )
    return [ContactView(**dict(r)) for r in rows]


async def set_contact(
    conn: asyncpg.Connection, scope: HomeScope, home_id: str, contact: Contact
) -> bool:
    """Add or replace the assignment at (role, position); False when not in the scope."""
    async with conn.transaction():
        # Lock the home row so a concurrent street change cannot slip between check and write.
        cond, args = scope_condition(scope, "h.id", 2)
        found = await conn.fetchval(
            f"SELECT 1 FROM homes h WHERE h.id = $1 AND {cond} FOR UPDATE", home_id, *args
        )
        if not found:
            return False
        await put_contact(conn, home_id, contact)
    return True


async def delete_contact(
    conn: asyncpg.Connection, scope: HomeScope, home_id: str, role: str, position: int
) -> bool:
    """Remove an assignment; False when there was none the caller could see."""
    cond, args = scope_condition(scope, "c.home_id", 4)
    result = await conn.execute(
        f"DELETE FROM alert_contacts c WHERE c.home_id = $1 AND c.role = $2 AND c.position = $3"
        f" AND {cond}",
        home_id,
        role,
        position,
        *args,
    )
    return result != "DELETE 0"
