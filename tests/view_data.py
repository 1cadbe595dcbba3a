"""Crafted data for the console's read queries: homes, devices and their state,
readings, alerts and assignments, written straight into the test's database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

# A Wednesday noon in UTC (20:00 in Shanghai).
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


async def home(
    db: asyncpg.Connection, home_id: str, street: str = "north", tz: str = "Asia/Shanghai"
) -> None:
    await db.execute(
        "INSERT INTO homes (id, address, street, district, timezone) VALUES ($1,$2,$3,'d1',$4)",
        home_id, f"{home_id} road 1", street, tz,
    )  # fmt: skip
    await db.execute(
        "INSERT INTO residents (home_id, display_name, birth_year, phone)"
        " VALUES ($1, $2, 1940, '+861')",
        home_id, f"resident of {home_id}",
    )  # fmt: skip


async def device(
    db: asyncpg.Connection,
    device_id: str,
    home_id: str,
    kind: str = "water_meter",
    room: str | None = None,
    *,
    seen: timedelta | None = timedelta(minutes=5),
    battery: float | None = None,
    online: bool | None = None,
) -> None:
    """A device, and its state when it was heard `seen` before NOW (None: never heard)."""
    await db.execute(
        "INSERT INTO devices (id, type, home_id, room) VALUES ($1, $2, $3, $4)",
        device_id, kind, home_id, room,
    )  # fmt: skip
    if seen is not None:
        at = NOW - seen
        await db.execute(
            "INSERT INTO device_state (device_id, last_seen_at, last_seq, last_received_at,"
            " battery_pct, online) VALUES ($1, $2, 1, $2, $3, $4)",
            device_id, at, battery, online,
        )  # fmt: skip


async def reading(
    db: asyncpg.Connection,
    device_id: str,
    home_id: str,
    ts: datetime,
    *,
    motion: bool | None = None,
    room: str | None = None,
    volume: float | None = None,
    flow: float | None = None,
) -> None:
    await db.execute(
        "INSERT INTO readings (device_id, home_id, ts, seq, received_at, channel, motion, room,"
        " volume_l, flow_lpm) VALUES ($1,$2,$3,$4,$3,'telemetry',$5,$6,$7,$8)",
        device_id, home_id, ts, int(ts.timestamp()), motion, room, volume, flow,
    )  # fmt: skip


async def alert(
    db: asyncpg.Connection,
    home_id: str,
    kind: str,
    severity: str = "medium",
    *,
    category: str = "inactivity",
    opened: datetime = NOW - timedelta(hours=1),
    ack_min: float | None = None,
    arrive_min: float | None = None,
    resolve_min: float | None = None,
    outcome: str | None = None,
) -> int:
    """An alert opened at `opened`, acknowledged/arrived/resolved minutes later."""

    def after(minutes: float | None) -> datetime | None:
        return None if minutes is None else opened + timedelta(minutes=minutes)

    state = "resolved" if resolve_min is not None else "acknowledged" if ack_min else "open"
    alert_id: int = await db.fetchval(
        "INSERT INTO alerts (home_id, category, kind, severity, state, explanation,"
        " first_seen_at, last_seen_at, opened_at, acknowledged_at, claimed_at, arrived_at,"
        " resolved_at, outcome) VALUES ($1,$2,$3,$4,$5,'x',$6,$6,$6,$7,$8,$8,$9,$10)"
        " RETURNING id",
        home_id, category, kind, severity, state, opened, after(ack_min), after(arrive_min),
        after(resolve_min), outcome if resolve_min is not None else None,
    )  # fmt: skip
    return alert_id


async def assign(
    db: asyncpg.Connection, home_id: str, role: str, person: str, pos: int = 0
) -> None:
    await db.execute(
        "INSERT INTO alert_contacts (home_id, role, position, person_ref, sms)"
        " VALUES ($1, $2, $3, $4, '+8613800000000')",
        home_id, role, pos, person,
    )  # fmt: skip
