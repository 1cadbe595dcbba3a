"""Homes and devices: the registry that maps each device to its home."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from core.readings import DeviceType
from core.registry import RegistryError, RegistryRow


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What ingest needs to know about a device: `installed_at` is when it was
    registered (or the installation time given then)."""

    device_type: DeviceType
    home_id: str
    installed_at: datetime


class DuplicateError(ValueError):
    """The thing being added already exists."""


class NotFoundError(LookupError):
    """A referenced row does not exist."""


async def add_home(
    conn: asyncpg.Connection,
    home_id: str,
    timezone: str,
    *,
    address: str | None = None,
    street: str | None = None,
    district: str | None = None,
) -> None:
    """Register a new home; DuplicateError if the id is taken."""
    try:
        await conn.execute(
            "INSERT INTO homes (id, timezone, address, street, district) VALUES ($1,$2,$3,$4,$5)",
            home_id, timezone, address, street, district,
        )  # fmt: skip
    except asyncpg.UniqueViolationError as exc:
        raise DuplicateError(f"home {home_id!r} already exists") from exc


async def add_device(
    conn: asyncpg.Connection,
    device_id: str,
    device_type: DeviceType,
    home_id: str,
    room: str | None = None,
    *,
    installed_at: datetime | None = None,
) -> None:
    """Register a new device in an existing home (installed now unless told when)."""
    try:
        await conn.execute(
            "INSERT INTO devices (id, type, home_id, room, installed_at)"
            " VALUES ($1, $2, $3, $4, coalesce($5, now()))",
            device_id, device_type.value, home_id, room, installed_at,
        )  # fmt: skip
    except asyncpg.UniqueViolationError as exc:
        raise DuplicateError(f"device {device_id!r} already exists") from exc
    except asyncpg.ForeignKeyViolationError as exc:
        raise NotFoundError(f"home {home_id!r} does not exist") from exc


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import changed."""

    homes_created: int
    devices_added: int
    devices_moved: int  # to another home
    devices_changed: int = 0  # same home, another room
    devices_unchanged: int = 0  # listed exactly as registered


async def import_registry(
    conn: asyncpg.Connection, rows: Sequence[RegistryRow], *, installed_at: datetime | None = None
) -> ImportResult:
    """Apply a parsed registry file in one transaction: all of it or none.

    Homes that do not exist are created with the row's timezone. A listed device that
    exists is moved to the listed home and room; its type may not change. New devices are
    installed now, or at `installed_at` (simulated homes whose history starts earlier:
    ingest refuses readings from over a day before a device's installation).
    """
    async with conn.transaction():
        existing = {
            r["id"]: (r["type"], r["home_id"], r["room"])
            for r in await conn.fetch(
                "SELECT id, type, home_id, room FROM devices WHERE id = ANY($1::text[])",
                [row.device_id for row in rows],
            )
        }
        for row in rows:
            known = existing.get(row.device_id, (None,))[0]
            if known is not None and known != row.type.value:
                raise RegistryError(
                    f"line {row.line}: device {row.device_id!r} is registered as {known},"
                    f" not {row.type.value}"
                )
        homes = {row.home_id: row.timezone for row in rows}
        created = await conn.fetch(
            "INSERT INTO homes (id, timezone) SELECT * FROM unnest($1::text[], $2::text[])"
            " ON CONFLICT (id) DO NOTHING RETURNING id",
            list(homes), list(homes.values()),
        )  # fmt: skip
        await conn.executemany(
            "INSERT INTO devices (id, type, home_id, room, installed_at)"
            " VALUES ($1, $2, $3, $4, coalesce($5, now()))"
            " ON CONFLICT (id) DO UPDATE SET home_id = EXCLUDED.home_id, room = EXCLUDED.room"
            " WHERE (devices.home_id, devices.room) IS DISTINCT FROM"
            " (EXCLUDED.home_id, EXCLUDED.room)",
            [(r.device_id, r.type.value, r.home_id, r.room, installed_at) for r in rows],
        )
    listed = {row.device_id: row for row in rows}  # a device listed twice: its last line
    moved = changed = unchanged = 0
    for device_id, row in listed.items():
        if device_id not in existing:
            continue
        _, home_id, room = existing[device_id]
        if home_id != row.home_id:
            moved += 1
        elif (room or None) != (row.room or None):
            changed += 1
        else:
            unchanged += 1
    added = len(listed) - moved - changed - unchanged
    return ImportResult(len(created), added, moved, changed, unchanged)


async def device_info(conn: asyncpg.Connection, device_ids: Iterable[str]) -> dict[str, DeviceInfo]:
    """Type, home and installation time of each active device among `device_ids`; unknown
    ids are absent."""
    rows = await conn.fetch(
        "SELECT id, type, home_id, installed_at FROM devices WHERE active AND id = ANY($1::text[])",
        list(device_ids),
    )
    return {
        r["id"]: DeviceInfo(DeviceType(r["type"]), r["home_id"], r["installed_at"]) for r in rows
    }
