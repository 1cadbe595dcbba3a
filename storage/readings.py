"""Reading queries for the stages after ingest: replay for detectors, per-bucket series."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg

from core.readings import Channel, DeviceType, Reading
from core.registry import RegistryRow

REPLAY_PREFETCH_ROWS = 5000  # rows fetched per round trip while streaming a replay


async def replay_readings(conn: asyncpg.Connection, after: datetime) -> AsyncIterator[Reading]:
    """Every stored reading with ts after `after`, in (ts, seq) order, streamed.

    Must run inside a transaction (server-side cursor).
    """
    query = """
        SELECT r.device_id, d.type, r.channel, r.ts, r.seq, r.received_at, r.battery_pct,
               r.volume_l, r.flow_lpm, r.motion, r.room, r.alarm, r.test, r.online,
               r.rssi_dbm, r.fw
        FROM readings r JOIN devices d ON d.id = r.device_id
        WHERE r.ts > $1 ORDER BY r.ts, r.seq
    """
    async for r in conn.cursor(query, after, prefetch=REPLAY_PREFETCH_ROWS):
        yield Reading(
            device_id=r[0], device_type=DeviceType(r[1]), channel=Channel(r[2]), ts=r[3],
            seq=r[4], received_at=r[5], battery_pct=r[6], volume_l=r[7], flow_lpm=r[8],
            motion=r[9], room=r[10], alarm=r[11], test=r[12], online=r[13], rssi_dbm=r[14],
            fw=r[15],
        )  # fmt: skip


async def registry_rows(conn: asyncpg.Connection) -> list[RegistryRow]:
    """Every active device with its home and the home's time zone, in home order."""
    rows = await conn.fetch(
        "SELECT d.home_id, d.id, d.type, d.room, h.timezone, h.street FROM devices d"
        " JOIN homes h ON h.id = d.home_id WHERE d.active ORDER BY d.home_id, d.id"
    )
    return [
        RegistryRow(
            r["home_id"],
            r["id"],
            DeviceType(r["type"]),
            r["room"],
            r["timezone"],
            street=r["street"],
        )
        for r in rows
    ]
