"""Where the services are: the configured URLs, or the embedded defaults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from core.settings import MqttTarget, Settings
from eldercare.embedded import embedded_broker, embedded_postgres
from storage.backend import Backend, detect_backend
from storage.migrate import migrate


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[str]:
    """The database URL to use; starts the embedded PostgreSQL when none is configured."""
    if settings.database_url:
        yield settings.database_url
        return
    async with embedded_postgres(settings.data_dir / "postgres") as url:
        yield url


@asynccontextmanager
async def broker(settings: Settings) -> AsyncIterator[tuple[MqttTarget, str]]:
    """The broker and MQTT protocol to use; starts the in-process broker when none is set."""
    if settings.mqtt_url:
        yield settings.mqtt_url, settings.mqtt_protocol
        return
    async with embedded_broker() as target:
        yield target, "3.1.1"


async def migrate_and_detect(database_url: str) -> tuple[list[int], Backend]:
    """Bring the schema up to date and say which backend it runs on."""
    conn = await asyncpg.connect(database_url)
    try:
        applied = await migrate(conn)
        return applied, await detect_backend(conn)
    finally:
        await conn.close()
