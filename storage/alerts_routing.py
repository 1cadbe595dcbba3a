"""Routing contacts and escalation policies: the SQL behind alert routing."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from alerts.policy import DEFAULT_POLICIES, EscalationPolicy, policy_from_json, policy_to_json
from alerts.routing import (
    SYSTEM_HOME_ID,
    ChannelKind,
    Contact,
    Endpoint,
    HomeRouting,
    Language,
    QuietHours,
    Role,
)


async def home_routing(
    conn: asyncpg.Connection, home_id: str, default_timezone: str
) -> HomeRouting:
    """Everyone to tell about `home_id`, with the operations desk ('*') always included.

    The resident is reached by a voice call to each of the home's residents' phones. A
    home not (or no longer) registered still routes, to whoever is listed for it and to
    operations, in the default time zone: an alert must not vanish over a registry gap.
    """
    home = await conn.fetchrow("SELECT timezone, address FROM homes WHERE id = $1", home_id)
    timezone = home["timezone"] if home else default_timezone
    rows = await conn.fetch(
        "SELECT home_id, role, position, person_ref, language, sms, email, webhook_url,"
        " quiet_start, quiet_end FROM alert_contacts"
        " WHERE home_id = $1 OR (home_id = $2 AND role = 'operations')"
        " ORDER BY role, position",
        home_id,
        SYSTEM_HOME_ID,
    )
    contacts = [_contact(r) for r in rows]
    residents = await conn.fetch(
        "SELECT id, language, phone FROM residents WHERE home_id = $1 AND phone IS NOT NULL"
        " ORDER BY id",
        home_id,
    )
    for position, r in enumerate(residents):
        contacts.append(
            Contact(
                role=Role.RESIDENT,
                position=position,
                person_ref=f"resident:{r['id']}",
                language=Language.parse(r["language"]),
                endpoints=(Endpoint(ChannelKind.VOICE, r["phone"]),),
            )
        )
    address = home["address"] if home else None
    return HomeRouting(home_id, timezone, address, tuple(contacts))


def _contact(row: asyncpg.Record) -> Contact:
    endpoints = [
        Endpoint(channel, row[column])
        for channel, column in (
            (ChannelKind.SMS, "sms"),
            (ChannelKind.EMAIL, "email"),
            (ChannelKind.WEBHOOK, "webhook_url"),
        )
        if row[column]
    ]
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
