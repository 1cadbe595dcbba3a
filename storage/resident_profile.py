"""The resident's profile for the advisor on the way: name, age, address with building
and floor, phones, key holder, short care notes. Scoped like every home read."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from storage.scope import HomeScope, scope_condition

NOTE_TOPICS = ("hearing", "mobility", "medication", "pets", "other")


@dataclass(frozen=True, slots=True)
class Profile:
    """One home's resident profile (the first resident of the home)."""

    home_id: str
    name: str | None
    birth_year: int | None
    phone: str | None
    address: str | None
    building: str | None
    floor: str | None
    unit: str | None
    street: str | None
    key_holder_name: str | None
    key_holder_phone: str | None
    care_notes: dict[str, str] = field(default_factory=dict)
    # The home's primary advisor: display name and the phone messages reach them on.
    advisor_name: str | None = None
    advisor_phone: str | None = None


@dataclass(frozen=True, slots=True)
class ProfileChange:
    """What an admin or supervisor may change; None leaves a field as it is."""

    name: str | None = None
    birth_year: int | None = None
    phone: str | None = None
    building: str | None = None
    floor: str | None = None
    unit: str | None = None
    key_holder_name: str | None = None
    key_holder_phone: str | None = None
    care_notes: dict[str, str] | None = None


_SELECT = """
SELECT h.id AS home_id, r.display_name AS name, r.birth_year, r.phone, h.address,
       h.building, h.floor, h.unit, h.street, r.key_holder_name, r.key_holder_phone,
       coalesce(r.care_notes, '{{}}') AS care_notes,
       coalesce(u.display_name, pa.person_ref) AS advisor_name, pa.sms AS advisor_phone
FROM homes h
LEFT JOIN LATERAL (SELECT * FROM residents x WHERE x.home_id = h.id ORDER BY x.id LIMIT 1) r
  ON TRUE
LEFT JOIN LATERAL (SELECT person_ref, sms FROM alert_contacts c
                   WHERE c.home_id = h.id AND c.role = 'primary_advisor'
                   ORDER BY c.position LIMIT 1) pa ON TRUE
LEFT JOIN users u ON u.username = pa.person_ref
WHERE h.id = $1 AND {cond}
"""


async def get_profile(conn: asyncpg.Connection, scope: HomeScope, home_id: str) -> Profile | None:
    """The profile of a home in the scope, or None."""
    cond, args = scope_condition(scope, "h.id", 2)
    row = await conn.fetchrow(_SELECT.format(cond=cond), home_id, *args)
    if row is None:
        return None
    values: dict[str, Any] = dict(row)
    notes = values["care_notes"]
    values["care_notes"] = json.loads(notes) if isinstance(notes, str) else dict(notes)
    return Profile(**values)


async def update_profile(
    conn: asyncpg.Connection, scope: HomeScope, home_id: str, change: ProfileChange
) -> bool:
    """Apply a change to a home in the scope; False when it is not there. A home without
    a resident row gets one (the name is then required)."""
    cond, args = scope_condition(scope, "id", 2)
    async with conn.transaction():
        found = await conn.fetchval(
            f"UPDATE homes SET building = coalesce(${len(args) + 2}, building),"
            f" floor = coalesce(${len(args) + 3}, floor), unit = coalesce(${len(args) + 4}, unit)"
            f" WHERE id = $1 AND {cond} RETURNING id",
            home_id, *args, change.building, change.floor, change.unit,
        )  # fmt: skip
        if found is None:
            return False
        resident = await conn.fetchval(
            "SELECT id FROM residents WHERE home_id = $1 ORDER BY id LIMIT 1", home_id
        )
        if resident is None:
            if not change.name:
                return True
            resident = await conn.fetchval(
                "INSERT INTO residents (home_id, display_name) VALUES ($1, $2) RETURNING id",
                home_id, change.name,
            )  # fmt: skip
        notes = None if change.care_notes is None else json.dumps(change.care_notes)
        await conn.execute(
            "UPDATE residents SET display_name = coalesce($2, display_name),"
            " birth_year = coalesce($3, birth_year), phone = coalesce($4, phone),"
            " key_holder_name = coalesce($5, key_holder_name),"
            " key_holder_phone = coalesce($6, key_holder_phone),"
            " care_notes = coalesce($7::jsonb, care_notes) WHERE id = $1",
            resident, change.name, change.birth_year, change.phone, change.key_holder_name,
            change.key_holder_phone, notes,
        )  # fmt: skip
    return True
