"""Which devices exist: a cache of the registry, dropped whenever the registry changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import asyncpg

from core.backoff import Backoff
from core.logs import kv
from storage.registry import DeviceInfo, device_info

log = logging.getLogger("eldercare.ingest.registry")

DEVICES_CHANGED_CHANNEL = "devices_changed"
# Whatever a database restart throws at a listening connection (asyncpg's
# InternalClientError included: a connection broken mid-operation).
_CONNECTION_FAILURES = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError,
                        asyncpg.exceptions.InternalClientError)  # fmt: skip


class RegistryCache:
    """device_id → DeviceInfo, looked up in the database on a miss.

    Unknown ids are looked up again on every batch that names them, so a device
    registered a moment ago is accepted at once. `watch` listens for registry
    changes so a moved device's readings go to its new home.
    """

    def __init__(self) -> None:
        self._known: dict[str, DeviceInfo] = {}

    async def resolve(
        self, conn: asyncpg.Connection, device_ids: Iterable[str]
    ) -> dict[str, DeviceInfo]:
        """Info for each known, active device among `device_ids`."""
        ids = set(device_ids)
        missing = ids.difference(self._known)
        if missing:
            self._known.update(await device_info(conn, missing))
        return {i: self._known[i] for i in ids if i in self._known}

    def invalidate(self) -> None:
        """Forget everything; the next batch reloads what it needs."""
        self._known.clear()

    async def watch(self, database_url: str) -> None:
        """LISTEN for registry changes until cancelled, reconnecting after outages."""
        backoff = Backoff()
        while True:
            try:
                conn = await asyncpg.connect(database_url)
            except _CONNECTION_FAILURES:
                await asyncio.sleep(backoff.next_delay_s())
                continue
            backoff.reset()
            lost = asyncio.Event()
            try:
                await conn.add_listener(DEVICES_CHANGED_CHANNEL, lambda *_: self.invalidate())
                conn.add_termination_listener(lambda _, lost=lost: lost.set())
                # Changes made while we were not listening are unknown to us.
                self.invalidate()
                await lost.wait()
                log.info(kv("registry_listener_lost"))
            except _CONNECTION_FAILURES:
                # Lost while subscribing: go round again. Meanwhile every batch looks up
                # the devices it does not know, so nothing is refused for it.
                self.invalidate()
                await asyncio.sleep(backoff.next_delay_s())
            finally:
                if not conn.is_closed():
                    conn.terminate()
