"""Where the services are: the configured URLs, or the embedded defaults."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from core.logs import kv
from core.settings import MqttTarget, Settings
from eldercare.embedded import embedded_broker, embedded_postgres
from ingest.service import IngestConfig
from storage.backend import Backend, detect_backend
from storage.migrate import migrate

log = logging.getLogger("eldercare")


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[str]:
    """The database URL to use; starts the embedded PostgreSQL when none is configured."""
    if settings.database_url:
        yield settings.database_url
        return
    async with embedded_postgres(settings.data_dir / "postgres") as url:
        yield url


@dataclass(frozen=True)
class Broker:
    """Where the broker is, and whether it is our embedded one (MQTT 3.1.1, no $share)."""

    target: MqttTarget
    embedded: bool


@asynccontextmanager
async def broker(settings: Settings) -> AsyncIterator[Broker]:
    """The broker to use; starts the in-process broker when none is configured."""
    if settings.mqtt_url:
        yield Broker(settings.mqtt_url, embedded=False)
        return
    async with embedded_broker() as target:
        yield Broker(target, embedded=True)


def ingest_config(settings: Settings, broker: Broker) -> IngestConfig:
    """The ingest settings, adjusted to what the broker supports."""
    config = IngestConfig.from_settings(settings)
    if broker.embedded:
        config = dataclasses.replace(config, protocol="3.1.1", share_supported=False)
    return config


async def prepare_database(database_url: str) -> tuple[list[int], Backend]:
    """Migrate, then log which backend the services run on (TimescaleDB or PostgreSQL)."""
    applied, backend = await migrate_and_detect(database_url)
    log.info(kv("storage_backend", backend=backend.name, server=backend.server_version,
                timescaledb=backend.timescaledb_version or "-",
                license=backend.timescaledb_license or "-"))  # fmt: skip
    return applied, backend


async def migrate_and_detect(database_url: str) -> tuple[list[int], Backend]:
    """Bring the schema up to date and say which backend it runs on."""
    conn = await asyncpg.connect(database_url)
    try:
        applied = await migrate(conn)
        return applied, await detect_backend(conn)
    finally:
        await conn.close()
