"""Duty rotations, overrides and the people on them: the SQL behind core/duty.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from core.contact_points import email_address, phone_number
from core.contacts import ChannelKind, Contact, Endpoint, Language, Role
from core.duty import DutySchedule, Override, Rotation, Tier, next_handoff, on_duty_now


class UnknownPerson(ValueError):
    """A rotation or override names someone with no duty contact details."""


@dataclass(frozen=True, slots=True)
class DutyPerson:
    """Someone who can be on duty, and how to reach them."""

    person_ref: str
    language: Language
    sms: str | None = None
    email: str | None = None
    call: bool = False  # also phoned (at the SMS number) when an alert reaches them

    def __post_init__(self) -> None:
        if not 1 <= len(self.person_ref) <= 64:
            raise ValueError("person_ref must be 1 to 64 characters")
        if self.sms is None and self.email is None:
            raise ValueError("give an SMS number or an e-mail address (or both)")
        if self.call and self.sms is None:
            raise ValueError("a call needs a phone number: give --sms too")
        if self.sms is not None and phone_number(self.sms) != self.sms:
            raise ValueError(f"give {self.sms!r} as {phone_number(self.sms)!r}")
        if self.email is not None and email_address(self.email) != self.email:
            raise ValueError(f"give {self.email!r} as {email_address(self.email)!r}")

    def contact(self, role: Role) -> Contact:
        """This person as the home's contact in `role` (no quiet hours: they are on duty)."""
        endpoints = []
        if self.sms:
            endpoints.append(Endpoint(ChannelKind.SMS, self.sms))
        if self.email:
            endpoints.append(Endpoint(ChannelKind.EMAIL, self.email))
        if self.call and self.sms:
            endpoints.append(Endpoint(ChannelKind.VOICE, self.sms))
        return Contact(role, 0, self.person_ref, self.language, tuple(endpoints))


async def put_person(conn: asyncpg.Connection, person: DutyPerson, at: datetime) -> None:
    """Add or replace someone's duty contact details."""
    await conn.execute(
        "INSERT INTO duty_people (person_ref, language, sms, email, call, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (person_ref) DO UPDATE SET"
        " language = EXCLUDED.language, sms = EXCLUDED.sms, email = EXCLUDED.email,"
        " call = EXCLUDED.call, updated_at = EXCLUDED.updated_at",
        person.person_ref,
        person.language.value,
        person.sms,
        person.email,
        person.call,
        at,
    )


async def people(conn: asyncpg.Connection, refs: Sequence[str]) -> dict[str, DutyPerson]:
    """The duty contact details of `refs` (those without any are left out)."""
    rows = await conn.fetch(
        "SELECT person_ref, language, sms, email, call FROM duty_people WHERE person_ref = ANY($1)",
        list(refs),
    )
    return {
        r["person_ref"]: DutyPerson(
            r["person_ref"], Language.parse(r["language"]), r["sms"], r["email"], r["call"]
        )
        for r in rows
    }


async def _check_people(conn: asyncpg.Connection, refs: Sequence[str]) -> None:
    known = await people(conn, refs)
    missing = [r for r in refs if r not in known]
    if missing:
        raise UnknownPerson(
            f"no duty contact details for {', '.join(sorted(set(missing)))}:"
            " add them first (eldercare duty person add NAME --sms +86...)"
        )


async def add_rotation(conn: asyncpg.Connection, rotation: Rotation, by: str, at: datetime) -> int:
    """Store a rotation (its id is ignored); returns the new id."""
    await _check_people(conn, rotation.participants)
    rotation_id: int = await conn.fetchval(
        "INSERT INTO duty_rotations (street, tier, layer, timezone, start_at, shift_s,"
        " window_start, window_end, days, priority, created_at, created_by)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) RETURNING id",
        rotation.street,
        rotation.tier.value,
        rotation.layer,
        rotation.timezone,
        rotation.start,
        rotation.shift_s,
        rotation.window_start,
        rotation.window_end,
        sorted(rotation.days),
        rotation.priority,
        at,
        by,
    )
    await conn.executemany(
        "INSERT INTO duty_rotation_members (rotation_id, position, person_ref) VALUES ($1, $2, $3)",
        [(rotation_id, i, p) for i, p in enumerate(rotation.participants)],
    )
    return rotation_id


async def add_override(conn: asyncpg.Connection, override: Override, by: str, at: datetime) -> int:
    """Store an override (its id is ignored); returns the new id."""
    await _check_people(conn, [override.person])
    override_id: int = await conn.fetchval(
        "INSERT INTO duty_overrides (street, tier, person_ref, start_at, end_at, reason,"
        " created_at, created_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id",
        override.street,
        override.tier.value,
        override.person,
        override.start,
        override.end,
        override.reason,
        at,
        by,
    )
    return override_id


async def _active_override(
    conn: asyncpg.Connection, override_id: int, at: datetime, lock: bool
) -> Override | None:
    row = await conn.fetchrow(
        "SELECT * FROM duty_overrides WHERE id = $1 AND removed_at IS NULL AND end_at > $2"
        + (" FOR UPDATE" if lock else ""),
        override_id,
        at,
    )
    return None if row is None else _override(row)


async def active_override(
    conn: asyncpg.Connection, override_id: int, at: datetime
) -> Override | None:
    """The override `override_id` if it is neither removed nor over at `at`."""
    return await _active_override(conn, override_id, at, lock=False)


async def remove_override(
    conn: asyncpg.Connection, override_id: int, by: str, at: datetime
) -> Override | None:
    """Remove an override not yet over at `at` (the row stays, marked removed by `by` at
    `at`; it no longer counts from then on); None when there is no such override."""
    async with conn.transaction():
        override = await _active_override(conn, override_id, at, lock=True)
        if override is None:
            return None
        await conn.execute(
            "UPDATE duty_overrides SET removed_at = $2, removed_by = $3 WHERE id = $1",
            override_id,
            at,
            by,
        )
    return override


_ROTATIONS = (
    "SELECT r.*, array_agg(m.person_ref ORDER BY m.position) AS participants"
    " FROM duty_rotations r JOIN duty_rotation_members m ON m.rotation_id = r.id"
)


async def active_rotation(conn: asyncpg.Connection, rotation_id: int) -> Rotation | None:
    """The rotation `rotation_id` if it is not removed."""
    row = await conn.fetchrow(
        _ROTATIONS + " WHERE r.id = $1 AND r.removed_at IS NULL GROUP BY r.id", rotation_id
    )
    return None if row is None else _rotation(row)


async def remove_rotation(
    conn: asyncpg.Connection, rotation_id: int, by: str, at: datetime
) -> Rotation | None:
    """Remove a rotation (the row and its members stay, marked removed by `by` at `at`;
    it no longer counts from then on); None when there is no such rotation, or it was
    removed already."""
    async with conn.transaction():
        marked = await conn.fetchval(
            "UPDATE duty_rotations SET removed_at = $2, removed_by = $3"
            " WHERE id = $1 AND removed_at IS NULL RETURNING id",
            rotation_id,
            at,
            by,
        )
        if marked is None:
            return None
        row = await conn.fetchrow(_ROTATIONS + " WHERE r.id = $1 GROUP BY r.id", rotation_id)
    assert row is not None, "a rotation always has members"
    return _rotation(row)


async def schedule(
    conn: asyncpg.Connection, streets: Sequence[str] | None = None, at: datetime | None = None
) -> DutySchedule:
    """The rotations and overrides of `streets` (None: all); with `at`, overrides that
    ended by then are left out, and rotations and overrides removed after `at` still
    count (they were in effect then); without it, removed ones are left out."""
    # A removed rotation counted until its removal, as a removed override does.
    rows = await conn.fetch(
        _ROTATIONS + " WHERE ($1::text[] IS NULL OR r.street = ANY($1))"
        " AND (r.removed_at IS NULL OR r.removed_at > coalesce($2::timestamptz, 'infinity'))"
        " GROUP BY r.id ORDER BY r.id",
        None if streets is None else list(streets),
        at,
    )
    rotations = tuple(_rotation(r) for r in rows)
    # A removed override counted until its removal: at a moment before it, it is still
    # part of the schedule (it is who was on duty then); with no moment, it is gone.
    rows = await conn.fetch(
        "SELECT * FROM duty_overrides WHERE ($1::text[] IS NULL OR street = ANY($1))"
        " AND ($2::timestamptz IS NULL OR end_at > $2)"
        " AND (removed_at IS NULL OR removed_at > coalesce($2, 'infinity')) ORDER BY id",
        None if streets is None else list(streets),
        at,
    )
    return DutySchedule(rotations, tuple(_override(r) for r in rows))


def _rotation(row: asyncpg.Record) -> Rotation:
    return Rotation(
        id=row["id"],
        street=row["street"],
        layer=row["layer"],
        participants=tuple(row["participants"]),
        start=row["start_at"],
        shift_s=row["shift_s"],
        timezone=row["timezone"],
        tier=Tier(row["tier"]),
        window_start=row["window_start"],
        window_end=row["window_end"],
        days=frozenset(row["days"]),
        priority=row["priority"],
    )


def _override(row: asyncpg.Record) -> Override:
    return Override(
        id=row["id"],
        street=row["street"],
        person=row["person_ref"],
        start=row["start_at"],
        end=row["end_at"],
        tier=Tier(row["tier"]),
        reason=row["reason"],
    )


async def known_streets(conn: asyncpg.Connection) -> list[str]:
    """Every street with a home, a rotation or an override, sorted."""
    rows = await conn.fetch(
        "SELECT street FROM homes WHERE street IS NOT NULL"
        " UNION SELECT street FROM duty_rotations WHERE removed_at IS NULL"
        " UNION SELECT street FROM duty_overrides WHERE removed_at IS NULL"
        " ORDER BY 1"
    )
    return [r["street"] for r in rows]


async def on_duty_view(
    conn: asyncpg.Connection, streets: Sequence[str], at: datetime
) -> list[dict[str, object]]:
    """Per street, who is on duty at `at` for each tier (None: the homes' own advisors),
    with their name, SMS number and why; and the street's overrides not yet over."""
    plan = await schedule(conn, streets, at)
    found = {(d.street, d.tier): d for d in on_duty_now(plan, at, streets)}
    refs = {d.person for d in found.values()} | {o.person for o in plan.overrides}
    names = {
        r["username"]: r["display_name"]
        for r in await conn.fetch(
            "SELECT username, display_name FROM users WHERE username = ANY($1)", list(refs)
        )
    }
    details = await people(conn, sorted(refs))
    out: list[dict[str, object]] = []
    for street in streets:
        row: dict[str, object] = {"street": street}
        for tier in Tier:
            d = found.get((street, tier))
            person = details.get(d.person) if d else None
            row[tier.value] = None if d is None else {
                "person": d.person, "name": names.get(d.person, d.person),
                "sms": person.sms if person else None, "source": d.source.value,
                "layer": d.layer,
            }  # fmt: skip
        row["overrides"] = [
            {"id": o.id, "person": o.person, "name": names.get(o.person, o.person),
             "tier": o.tier.value, "start": o.start, "end": o.end, "reason": o.reason}
            for o in plan.overrides if o.street == street
        ]  # fmt: skip
        out.append(row)
    return out


async def rota_view(
    conn: asyncpg.Connection, streets: Sequence[str], at: datetime
) -> list[dict[str, object]]:
    """Per street, its rotations (members by display name) and its overrides not yet over
    at `at`, with who is on duty then and the next handoff of each tier."""
    plan = await schedule(conn, streets, at)
    now = {row["street"]: row for row in await on_duty_view(conn, streets, at)}
    refs = {p for r in plan.rotations for p in r.participants}
    handoffs = {
        (street, tier): next_handoff(plan, street, at, tier) for street in streets for tier in Tier
    }
    refs |= {h[1].person for h in handoffs.values() if h is not None and h[1] is not None}
    names = {
        r["username"]: r["display_name"]
        for r in await conn.fetch(
            "SELECT username, display_name FROM users WHERE username = ANY($1)", list(refs)
        )
    }
    out: list[dict[str, object]] = []
    for street in streets:
        row: dict[str, object] = dict(now[street])
        for tier in Tier:
            handoff = handoffs[(street, tier)]
            if handoff is None:
                row[f"next_{tier.value}"] = None
                continue
            moment, then = handoff
            row[f"next_{tier.value}"] = {
                "at": moment,
                "person": None if then is None else then.person,
                "name": None if then is None else names.get(then.person, then.person),
            }
        row["rotations"] = [rotation_json(r, names) for r in plan.rotations if r.street == street]
        out.append(row)
    return out


def rotation_json(rotation: Rotation, names: Mapping[str, str]) -> dict[str, object]:
    """A rotation as the API shows it, its members by display name (from `names`, user
    name to display name; their user name where missing)."""
    r = rotation
    members = [{"person": p, "name": names.get(p, p)} for p in r.participants]
    return {"id": r.id, "layer": r.layer, "tier": r.tier.value, "start": r.start,
            "shift_s": r.shift_s, "timezone": r.timezone,
            "window_start": r.window_start, "window_end": r.window_end,
            "days": sorted(r.days), "priority": r.priority, "members": members}  # fmt: skip
