"""Everything stored about a resident and their home, as one JSON document (issue 13,
point 8: a copy on request, PIPL art. 45): the resident, the home, who is told about it,
devices, away periods, findings, alerts with their history, the messages sent, the
refused messages of its devices, the detectors' learnt state, the audit of who read it,
and every reading.

PostgreSQL writes each row as JSON (`to_jsonb`: times in ISO 8601 with offset, binary as
hex), so the document carries every column as stored. It is produced in pieces from one
read-only snapshot, readings last through a cursor, so a home's year of readings never
sits in memory and the parts agree with each other.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg

EXPORT_FORMAT = "eldercare.resident-export/1"
# Readings fetched per round trip while streaming.
READINGS_PREFETCH = 2000

# (key, SQL returning one JSON text per row of the home $1)
_SECTIONS = (
    ("contacts", "SELECT to_jsonb(c)::text FROM alert_contacts c WHERE home_id = $1"
                 " ORDER BY role, position"),
    ("devices", "SELECT (to_jsonb(d) || jsonb_build_object('state', to_jsonb(s)))::text"
                " FROM devices d LEFT JOIN device_state s ON s.device_id = d.id"
                " WHERE d.home_id = $1 ORDER BY d.id"),
    ("away_periods", "SELECT to_jsonb(a)::text FROM away_periods a WHERE home_id = $1"
                     " ORDER BY starts_at"),
    ("findings", "SELECT to_jsonb(f)::text FROM findings f WHERE home_id = $1 ORDER BY id"),
    ("alerts", "SELECT (to_jsonb(a) || jsonb_build_object('history', coalesce((SELECT"
               " jsonb_agg(to_jsonb(h) ORDER BY h.id) FROM alert_history h"
               " WHERE h.alert_id = a.id), '[]')))::text"
               " FROM alerts a WHERE home_id = $1 ORDER BY id"),
    ("deliveries", "SELECT (to_jsonb(d) || jsonb_build_object('attempts', coalesce((SELECT"
                   " jsonb_agg(to_jsonb(t) ORDER BY t.id) FROM alert_delivery_attempts t"
                   " WHERE t.delivery_id = d.id), '[]')))::text"
                   " FROM alert_deliveries d WHERE home_id = $1 ORDER BY id"),
    ("dead_letters", "SELECT to_jsonb(l)::text FROM dead_letters l WHERE device_id IN"
                     " (SELECT id FROM devices WHERE home_id = $1) ORDER BY id"),
    ("detector_state", "SELECT to_jsonb(s)::text FROM detector_state s WHERE home_id = $1"),
    ("audit", "SELECT to_jsonb(l)::text FROM audit_log l WHERE home_ids @> ARRAY[$1]"
              " OR requested_home = $1 OR home_id = $1 ORDER BY id"),
)  # fmt: skip


async def resident_home(conn: asyncpg.Connection, resident_id: int) -> str | None:
    """The home of resident `resident_id`, or None when there is no such resident."""
    home: str | None = await conn.fetchval(
        "SELECT home_id FROM residents WHERE id = $1", resident_id
    )
    return home


async def export_resident(
    conn: asyncpg.Connection, resident_id: int, home_id: str, now: datetime
) -> AsyncIterator[str]:
    """The export of a resident of `home_id` (see resident_home), in pieces of JSON text
    that together are one object."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        resident = await conn.fetchval(
            "SELECT to_jsonb(r)::text FROM residents r WHERE id = $1", resident_id
        )
        home = await conn.fetchval("SELECT to_jsonb(h)::text FROM homes h WHERE id = $1", home_id)
        head = {"format": EXPORT_FORMAT, "exported_at": now.isoformat(),
                "resident_id": resident_id, "home_id": home_id}  # fmt: skip
        yield json.dumps(head, ensure_ascii=False)[:-1]
        yield f', "resident": {resident}, "home": {home}'
        for key, sql in _SECTIONS:
            rows = await conn.fetch(sql, home_id)
            yield f', "{key}": [' + ", ".join(r[0] for r in rows) + "]"
        yield ', "readings": ['
        first = True
        async for row in conn.cursor(
            "SELECT to_jsonb(r)::text FROM readings r WHERE home_id = $1 ORDER BY ts, device_id",
            home_id,
            prefetch=READINGS_PREFETCH,
        ):
            yield row[0] if first else ", " + row[0]
            first = False
        yield "]}\n"
