"""The live feed of alert changes: one LISTEN connection per app, fanned out to the
console's event streams, each filtered to its subscriber's homes.

A trigger on `alerts` sends NOTIFY alert_changed with the alert's id, whichever process
changed it. For each change the hub reads the alert once and asks, in one query, which of
the subscribers' scopes include its home (the same scope conditions every API query uses).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from core.backoff import Backoff
from core.logs import kv
from storage.alert_views import alert_view, scopes_seeing_home
from storage.scope import HomeScope

log = logging.getLogger("eldercare.api.events")

CHANNEL = "alert_changed"
# A console that falls this many changes behind is disconnected: its EventSource
# reconnects and reloads the list, which costs less than an unbounded queue.
SUBSCRIBER_QUEUE = 200
_LOST = -1  # queued by the termination listener: the LISTEN connection is gone

Event = dict[str, Any] | None  # an AlertJson, or None: the stream must end


@dataclass(eq=False)
class Subscription:
    """One open event stream: its homes and the alerts waiting to be sent to it."""

    scope: HomeScope
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE))

    def end(self) -> None:
        """Ask the stream to finish (hub closing, or the subscriber fell behind)."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class AlertHub:
    """Fans alert changes out to subscribers; `run` is its one task."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._subscribers: set[Subscription] = set()
        self._changed: asyncio.Queue[int] = asyncio.Queue()
        self._closed = False
        self.listening = asyncio.Event()  # set while changes are being received

    @contextmanager
    def subscribe(self, scope: HomeScope) -> Iterator[Subscription]:
        """Receive the changes of alerts in `scope` while the block runs."""
        subscription = Subscription(scope)
        if self._closed:
            subscription.end()
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

    def close(self) -> None:
        """End every stream (the app is shutting down) and refuse new ones."""
        self._closed = True
        for subscription in list(self._subscribers):
            subscription.end()

    async def run(self) -> None:
        """Listen and deliver until cancelled; reconnect with backoff when the
        connection is lost (streams are ended then: their changes may have been missed)."""
        # Capped low: after an outage the consoles' live feed is back within seconds.
        backoff = Backoff(base_s=0.5, cap_s=10.0)
        connected_before = False
        while True:
            try:
                async with self._pool.acquire() as conn:
                    conn.add_termination_listener(self._on_lost)
                    await conn.add_listener(CHANNEL, self._on_notify)
                    if connected_before:
                        log.info(kv("alert_feed_reconnected"))
                        for subscription in list(self._subscribers):
                            subscription.end()
                    connected_before = True
                    backoff.reset()
                    self.listening.set()
                    try:
                        await self._deliver(conn)
                    finally:
                        self.listening.clear()
                        if not conn.is_closed():
                            await conn.remove_listener(CHANNEL, self._on_notify)
                        conn.remove_termination_listener(self._on_lost)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError) as e:
                delay = backoff.next_delay_s()
                if backoff.failures == 1:  # once per outage, not once per retry
                    log.warning(kv("alert_feed_lost", error=type(e).__name__))
                await asyncio.sleep(delay)

    def _on_notify(self, conn: object, pid: int, channel: str, payload: str) -> None:
        try:
            self._changed.put_nowait(int(payload))
        except ValueError:
            log.warning(kv("alert_feed_bad_payload", channel=channel))

    def _on_lost(self, conn: object) -> None:
        self._changed.put_nowait(_LOST)

    async def _deliver(self, conn: asyncpg.Connection) -> None:
        while True:
            ids = [await self._changed.get()]
            while not self._changed.empty():  # coalesce a burst: each alert once
                ids.append(self._changed.get_nowait())
            if _LOST in ids:
                raise ConnectionError("the LISTEN connection was lost")
            for alert_id in dict.fromkeys(ids):
                try:
                    await self._deliver_one(conn, alert_id)
                except asyncpg.PostgresError:
                    # A query that failed on a healthy connection: skip this change
                    # rather than drop every stream.
                    log.exception(kv("alert_feed_delivery_failed", alert_id=alert_id))

    async def _deliver_one(self, conn: asyncpg.Connection, alert_id: int) -> None:
        subscribers = list(self._subscribers)
        if not subscribers:
            return
        view = await alert_view(conn, HomeScope.everything(), alert_id)
        if view is None:
            return
        scopes = list({s.scope for s in subscribers})
        seeing = set(await scopes_seeing_home(conn, view["home_id"], scopes))
        for subscription in subscribers:
            if subscription.scope not in seeing:
                continue
            try:
                subscription.queue.put_nowait(view)
            except asyncio.QueueFull:
                log.info(kv("alert_feed_subscriber_behind"))
                subscription.end()
