"""Routing contacts and escalation policies: the SQL behind alert routing."""

from __future__ import annotations

import json
import logging
from datetime import datetime

import asyncpg

from core.contacts import (
    ADDRESS_FORMS,
    SYSTEM_HOME_ID,
    ChannelKind,
    Contact,
    Endpoint,
    HomeRouting,
    Language,
    QuietHours,
    Role,
)
from core.duty import Tier, who_is_on_duty
from core.logs import kv
from core.policy import DEFAULT_POLICIES, EscalationPolicy, policy_from_json, policy_to_json
from storage import duty as duty_rows

log = logging.getLogger("eldercare.storage")


async def home_routing(
    conn: asyncpg.Connection, home_id: str, default_timezone: str, at: datetime | None = None
) -> HomeRouting:
    """Everyone to tell about `home_id`, with the operations desk ('*') always included.

    With `at`, the primary and backup advisors are whoever is on duty then for the home's
    street (core/duty.py), each tier falling back to the home's own advisors when the
    street has nobody scheduled for it at that moment.

    The resident is reached by a voice call to each of the home's residents' phones. A
    home not (or no longer) registered still routes, to whoever is listed for it and to
    operations, in the default time zone: an alert must not vanish over a registry gap.
    """
    home = await conn.fetchrow("SELECT timezone, address, street FROM homes WHERE id = $1", home_id)
    timezone = home["timezone"] if home else default_timezone
    rows = await conn.fetch(
        "SELECT home_id, role, position, person_ref, language, sms, email, webhook_url,"
        " quiet_start, quiet_end FROM alert_contacts"
        " WHERE home_id = $1 OR (home_id = $2 AND role = 'operations')"
        " ORDER BY role, position",
        home_id,
        SYSTEM_HOME_ID,
    )
    contacts = [c for c in map(_contact, rows) if c is not None]
    residents = await conn.fetch(
        "SELECT id, language, phone FROM residents WHERE home_id = $1 AND phone IS NOT NULL"
        " ORDER BY id",
        home_id,
    )
    for position, r in enumerate(residents):
        where = f"home={home_id} resident={r['id']}"
        phone = _endpoint(ChannelKind.VOICE, r["phone"], where)
        if phone is None:
            continue
        contacts.append(
            Contact(
                role=Role.RESIDENT,
                position=position,
                person_ref=f"resident:{r['id']}",
                language=Language.parse(r["language"]),
                endpoints=(phone,),
            )
        )
    if at is not None and home is not None and home["street"] is not None:
        contacts = await _with_duty(conn, contacts, home["street"], at)
    address = home["address"] if home else None
    return HomeRouting(home_id, timezone, address, tuple(contacts))


_TIER_ROLES = ((Tier.PRIMARY, Role.PRIMARY_ADVISOR), (Tier.BACKUP, Role.BACKUP_ADVISOR))


async def _with_duty(
    conn: asyncpg.Connection, contacts: list[Contact], street: str, at: datetime
) -> list[Contact]:
    """The contacts with each advisor role filled by whoever is on duty, where someone is."""
    plan = await duty_rows.schedule(conn, [street], at)
    on_duty = {
        role: found
        for tier, role in _TIER_ROLES
        if (found := who_is_on_duty(plan, street, at, tier)) is not None
    }
    if not on_duty:
        return contacts
    details = await duty_rows.people(conn, [d.person for d in on_duty.values()])
    out = list(contacts)
    for role, found in on_duty.items():
        person = details.get(found.person)
        if person is None:  # the foreign keys make this a race with a deletion
            continue
        out = [c for c in out if c.role is not role] + [person.contact(role)]
    return out


def _endpoint(channel: ChannelKind, address: str, where: str) -> Endpoint | None:
    """A stored address as an Endpoint; one stored before addresses were checked and
    unusable is logged and skipped, so one bad row cannot stop a home's alerts."""
    try:
        return Endpoint(channel, ADDRESS_FORMS[channel](address))
    except ValueError:
        log.error(kv("contact_address_unusable", where=where, channel=channel.value,
                     action="correct it (eldercare alerts contacts add, or the API)"))  # fmt: skip
        return None


def _contact(row: asyncpg.Record) -> Contact | None:
    where = f"home={row['home_id']} role={row['role']} position={row['position']}"
    endpoints = [
        endpoint
        for channel, column in (
            (ChannelKind.SMS, "sms"),
            (ChannelKind.EMAIL, "email"),
            (ChannelKind.WEBHOOK, "webhook_url"),
        )
        if row[column] and (endpoint := _endpoint(channel, row[column], where)) is not None
    ]
    if not endpoints:
        return None
    quiet = None
    if row["quiet_start"] is not None:
        quiet = QuietHours(row["quiet_start"], row["quiet_end"])
    return Contact(
        role=Role(row["role"]),
        position=row["position"],
        person_ref=row["person_ref"],
        language=Language.parse(row["language"]),
        endpoints=tuple(endpoints),
        quiet_hours=quiet,
    )


async def put_contact(conn: asyncpg.Connection, home_id: str, contact: Contact) -> None:
    """Add or replace the contact at (home, role, position)."""
    if contact.role is Role.RESIDENT:
        raise ValueError("residents are reached through the residents table")
    by_channel = {e.channel: e.address for e in contact.endpoints}
    if ChannelKind.VOICE in by_channel:
        raise ValueError("only residents are called; give sms, email or webhook")
    quiet = contact.quiet_hours
    await conn.execute(
        "INSERT INTO alert_contacts (home_id, role, position, person_ref, language, sms, email,"
        " webhook_url, quiet_start, quiet_end) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
        " ON CONFLICT (home_id, role, position) DO UPDATE SET person_ref = EXCLUDED.person_ref,"
        " language = EXCLUDED.language, sms = EXCLUDED.sms, email = EXCLUDED.email,"
        " webhook_url = EXCLUDED.webhook_url, quiet_start = EXCLUDED.quiet_start,"
        " quiet_end = EXCLUDED.quiet_end",
        home_id,
        contact.role.value,
        contact.position,
        contact.person_ref,
        contact.language.value,
        by_channel.get(ChannelKind.SMS),
        by_channel.get(ChannelKind.EMAIL),
        by_channel.get(ChannelKind.WEBHOOK),
        quiet.start if quiet else None,
        quiet.end if quiet else None,
    )


async def effective_policy(conn: asyncpg.Connection, name: str) -> EscalationPolicy:
    """The stored policy `name`, else the built-in default."""
    stored = await conn.fetchval("SELECT policy FROM alert_policies WHERE name = $1", name)
    if stored is None:
        return DEFAULT_POLICIES[name]
    return policy_from_json(json.loads(stored))


async def stored_policy_names(conn: asyncpg.Connection) -> set[str]:
    """Names of the policies that replace a default."""
    return {r["name"] for r in await conn.fetch("SELECT name FROM alert_policies")}


async def save_policy(
    conn: asyncpg.Connection, name: str, policy: EscalationPolicy, by: str, at: datetime
) -> None:
    """Store `policy` under `name`, replacing what was there."""
    await conn.execute(
        "INSERT INTO alert_policies (name, policy, updated_at, updated_by)"
        " VALUES ($1, $2::jsonb, $3, $4) ON CONFLICT (name) DO UPDATE"
        " SET policy = EXCLUDED.policy, updated_at = EXCLUDED.updated_at,"
        " updated_by = EXCLUDED.updated_by",
        name,
        json.dumps(policy_to_json(policy)),
        at,
        by,
    )


async def reset_policy(conn: asyncpg.Connection, name: str) -> bool:
    """Drop a stored policy so the default applies again; False if none was stored."""
    result = await conn.execute("DELETE FROM alert_policies WHERE name = $1", name)
    return result != "DELETE 0"
