"""Where the services are: the configured URLs, or the embedded defaults."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from core.backoff import Backoff
from core.logs import kv
from core.settings import MqttTarget, Settings
from eldercare.embedded import embedded_broker, embedded_postgres, require_embedded
from ingest.service import IngestConfig
from storage.backend import Backend, detect_backend
from storage.errors import DatabaseUnavailable, database_problem
from storage.migrate import migrate

log = logging.getLogger("eldercare")

# A service waiting for its database at start-up tries at least this often.
DATABASE_WAIT_CAP_SECONDS = 10.0


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[str]:
    """The database URL to use; starts the embedded PostgreSQL when none is configured."""
    if settings.database_url:
        yield settings.database_url
        return
    require_embedded(settings, broker=False)
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
    require_embedded(settings, database=False)
    async with embedded_broker() as target:
        yield Broker(target, embedded=True)


def ingest_config(settings: Settings, broker: Broker) -> IngestConfig:
    """The ingest settings, adjusted to what the broker supports."""
    config = IngestConfig.from_settings(settings)
    if broker.embedded:
        config = dataclasses.replace(config, protocol="3.1.1", share_supported=False)
    return config


async def prepare_database(
    database_url: str, *, wait: bool = False, accept_changed: Collection[int] = ()
) -> tuple[list[int], Backend]:
    """Migrate, then log which backend the services run on (TimescaleDB or PostgreSQL).

    `wait` (the long-running services): a database that is away or refuses the migration
    (read-only, a privilege missing) is waited for with backoff, reported once per
    problem; a setting only the operator can fix (no such database, login refused) is a
    StartupError. `accept_changed`: migrations whose edited text the operator
    accepts. Without `wait` (one-shot commands) every error goes to the caller.
    """
    if wait:
        applied, backend = await _migrate_when_possible(database_url, accept_changed)
    else:
        applied, backend = await migrate_and_detect(database_url, accept_changed)
    log.info(kv("storage_backend", backend=backend.name, server=backend.server_version,
                timescaledb=backend.timescaledb_version or "-",
                license=backend.timescaledb_license or "-"))  # fmt: skip
    return applied, backend


async def _migrate_when_possible(
    database_url: str, accept_changed: Collection[int]
) -> tuple[list[int], Backend]:
    backoff = Backoff(base_s=1.0, cap_s=DATABASE_WAIT_CAP_SECONDS)
    reported: str | None = None
    waiting_since = time.monotonic()
    while True:
        try:
            result = await migrate_and_detect(database_url, accept_changed)
        except DatabaseUnavailable as exc:
            if exc.problem.permanent:
                raise
            if exc.problem.message != reported:  # once per problem, not once per retry
                log.warning(kv("database_not_ready", problem=exc.problem.message))
                reported = exc.problem.message
            await asyncio.sleep(backoff.next_delay_s())
            continue
        if reported is not None:
            log.info(kv("database_ready", waited_s=round(time.monotonic() - waiting_since, 1)))
        return result


async def migrate_and_detect(
    database_url: str, accept_changed: Collection[int] = ()
) -> tuple[list[int], Backend]:
    """Bring the schema up to date and say which backend it runs on. A database that
    cannot be reached or refuses the migration is a DatabaseUnavailable saying why."""
    try:
        conn = await asyncpg.connect(database_url)
        try:
            applied = await migrate(conn, accept_changed=accept_changed)
            return applied, await detect_backend(conn)
        finally:
            await conn.close()
    except Exception as exc:
        problem = database_problem(exc, database_url)
        if problem is None:
            raise
        raise DatabaseUnavailable(problem) from exc
