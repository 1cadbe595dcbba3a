"""Embedded defaults for a machine with nothing but Python: an in-process MQTT broker
(amqtt) and a real PostgreSQL server shipped as a wheel (pgserver)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from core.logs import kv
from core.settings import MqttTarget
from eldercare.mosquitto import free_port

log = logging.getLogger("eldercare.embedded")


@asynccontextmanager
async def embedded_postgres(data_dir: Path) -> AsyncIterator[str]:
    """Start (or reuse) a PostgreSQL server whose data lives in `data_dir`; yield its URL.

    The data directory persists, so the next run resumes where this one stopped.
    """
    import pgserver  # imported here: only the embedded path needs it

    def start() -> Any:
        data_dir.mkdir(parents=True, exist_ok=True)
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
