"""Embedded defaults for a machine with nothing but Python: an in-process MQTT broker
(amqtt) and a real PostgreSQL server shipped as a wheel (pgserver)."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from core.logs import kv
from core.settings import MqttTarget, Settings
from eldercare.mosquitto import free_port

log = logging.getLogger("eldercare.embedded")


class EmbeddedUnavailable(RuntimeError):
    """A command needs an embedded service whose package (the demo extra) is not installed."""


def require_embedded(settings: Settings, *, database: bool = True, broker: bool = True) -> None:
    """Raise EmbeddedUnavailable, in one line saying what to do, if a service a command
    falls back to (its URL not configured) is not installed; call before starting either."""
    wanted = []
    if database and not settings.database_url:
        wanted.append(("ELDERCARE_DATABASE_URL", "PostgreSQL", "pgserver"))
    if broker and not settings.mqtt_url:
        wanted.append(("ELDERCARE_MQTT_URL", "MQTT broker", "amqtt"))
    missing = [w for w in wanted if importlib.util.find_spec(w[2]) is None]
    if missing:
        unset = " and ".join(w[0] for w in missing)
        embedded = " and ".join(w[1] for w in missing)
        raise EmbeddedUnavailable(
            f"{unset} not set and the embedded {embedded} not installed:"
            " pip install 'eldercare[demo]' to run the demo, or set the URL for real services"
        )


@asynccontextmanager
async def embedded_postgres(data_dir: Path) -> AsyncIterator[str]:
    """Start (or reuse) a PostgreSQL server whose data lives in `data_dir`; yield its URL.

    The data directory persists, so the next run resumes where this one stopped.
    """

    def start() -> Any:
        data_dir.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, ssh sessions),
            # as pgserver is imported; pgserver then uses /tmp, which is fine.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            import pgserver  # imported here: only the embedded path needs it

            return pgserver.get_server(data_dir, cleanup_mode="stop")

    # initdb and pg_ctl block for seconds: keep them off the event loop.
    server: Any = await asyncio.to_thread(start)
    url = server.get_uri()
    log.info(kv("embedded_postgres_started", data_dir=data_dir))
    try:
        yield url
    finally:
        await asyncio.to_thread(server.cleanup)
        log.info(kv("embedded_postgres_stopped"))


@asynccontextmanager
async def embedded_broker(port: int | None = None) -> AsyncIterator[MqttTarget]:
    """Run an amqtt broker on 127.0.0.1 inside this process; yield where to reach it.

    amqtt speaks MQTT 3.1.1 only (no shared subscriptions), which is all one
    embedded ingest worker needs.
    """
    from amqtt.broker import Broker

    port = port or free_port()
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "sys_interval": 0,
        "auth": {"allow-anonymous": True},
        "topic-check": {"enabled": False},
    }
    broker = Broker(config)
    await broker.start()
    log.info(kv("embedded_broker_started", port=port))
    try:
        yield MqttTarget(host="127.0.0.1", port=port)
    finally:
        await broker.shutdown()
