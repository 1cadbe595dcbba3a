"""Operations: liveness, readiness and Prometheus metrics (public, outside /api/v1).

The text exposition format is a few lines to write, so no client library: the figures
are read fresh from the database on each scrape (storage/metrics.py keeps that cheap).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import asyncpg
import pydantic
from aiohttp import web

from api.routing import Call, Route, json_response
from storage.metrics import Metrics, collect

log = logging.getLogger("eldercare.api")

# Readiness must answer quickly even when the database hangs: the probe has its own
# timeout, and a slow answer is as bad as a failed one.
READY_TIMEOUT_S = 2.0
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Health(pydantic.BaseModel):
    status: str


class Ready(pydantic.BaseModel):
    database: bool
    broker: bool | None = pydantic.Field(description="null: this process runs no broker link")


async def healthz(call: Call[Any]) -> Mapping[str, Any]:
    return {"status": "ok"}


async def _database_ok(pool: asyncpg.Pool) -> bool:
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        log.warning("readiness: database unreachable: %s", type(error).__name__)
        return False
    return True


async def _broker_ok(call: Call[Any]) -> bool | None:
    check = call.ctx.broker_check
    if check is None:
        return None
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            return await check()
    except (OSError, TimeoutError) as error:
        log.warning("readiness: broker unreachable: %s", type(error).__name__)
        return False


async def readyz(call: Call[Any]) -> web.StreamResponse:
    database, broker = await asyncio.gather(_database_ok(call.ctx.pool), _broker_ok(call))
    ready = database and broker is not False
    return json_response({"database": database, "broker": broker}, 200 if ready else 503)


def _sample(lines: list[str], name: str, kind: str, help_: str, value: float | None) -> None:
    lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
    if value is not None:  # unknown is no sample, never a made-up zero
        lines.append(f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}")


def render(m: Metrics, ingest_unacked: int | None = None) -> str:
    """The Prometheus text exposition of one snapshot (and of this process's ingest)."""
    lines: list[str] = []
    _sample(
        lines,
        "eldercare_ingest_unacked_messages",
        "gauge",
        "Messages this process's ingest holds, received but not yet committed (its queue).",
        ingest_unacked,
    )
    _sample(
        lines,
        "eldercare_readings_total",
        "counter",
        "Readings inserted (PostgreSQL statistics; resets with them).",
        m.readings_inserted,
    )
    _sample(
        lines,
        "eldercare_readings_rows_estimate",
        "gauge",
        "Rows in the readings table (planner estimate).",
        m.readings_estimated_rows,
    )
    _sample(lines, "eldercare_devices", "gauge", "Active registered devices.", m.devices_total)
    _sample(
        lines,
        "eldercare_devices_reporting",
        "gauge",
        "Devices heard from in the last 5 minutes.",
        m.devices_reporting,
    )
    _sample(
        lines,
        "eldercare_last_message_age_seconds",
        "gauge",
        "Seconds since any device message was received.",
        m.last_received_age_s,
    )
    _sample(
        lines,
        "eldercare_dead_letters_total",
        "counter",
        "Messages refused by ingest and kept as dead letters.",
        m.dead_letters,
    )
    _sample(
        lines,
        "eldercare_detector_lag_seconds",
        "gauge",
        "Now minus the latest event time the detectors have processed.",
        m.detector_lag_s,
    )
    _sample(
        lines,
        "eldercare_outbox_backlog",
        "gauge",
        "Notifications pending or being sent.",
        m.outbox_backlog,
    )
    _sample(
        lines,
        "eldercare_outbox_oldest_due_age_seconds",
        "gauge",
        "How overdue the oldest pending notification is.",
        m.outbox_oldest_due_age_s,
    )
    lines += ["# HELP eldercare_open_alerts Active alerts by severity.",
              "# TYPE eldercare_open_alerts gauge"]  # fmt: skip
    lines += [f'eldercare_open_alerts{{severity="{s}"}} {n}' for s, n in m.open_alerts.items()]
    return "\n".join(lines) + "\n"


async def metrics(call: Call[Any]) -> web.StreamResponse:
    async with call.ctx.pool.acquire() as conn:
        snapshot = await collect(conn, call.ctx.clock.now())
    unacked = call.ctx.ingest_unacked() if call.ctx.ingest_unacked is not None else None
    body = render(snapshot, unacked).encode()
    return web.Response(body=body, headers={"Content-Type": PROMETHEUS_TYPE})


def routes() -> list[Route]:
    public: frozenset[Any] = frozenset()
    return [
        Route("GET", "/healthz", healthz, "The process is up", "operations", public,
              response_model=Health, errors=()),
        Route("GET", "/readyz", readyz, "The database (and broker) answer", "operations",
              public, response_model=Ready, errors=(503,)),
        Route("GET", "/metrics", metrics, "Prometheus metrics", "operations", public,
              content_type="text/plain", errors=()),
    ]  # fmt: skip
