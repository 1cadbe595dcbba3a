"""Operations: liveness and readiness (public, outside /api/v1) and Prometheus metrics.

/metrics answers on the API's port only to the metrics token (ELDERCARE_METRICS_TOKEN,
sent as a bearer token), and without one on a separate port on 127.0.0.1
(ELDERCARE_METRICS_PORT, api/server.py). The guard is `metrics_allowed`; what is
exposed is `metrics_response` and `database_metrics_response`.

`/metrics` is this process's own figures; `/metrics/database` the deployment's, read
fresh from the database on each scrape and scraped once however many replicas run
(api/metrics.py says why).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg
import pydantic
from aiohttp import web

from api.auth.sessions import bearer_token
from api.auth.tokens import same
from api.context import ApiContext
from api.errors import ApiError
from api.metrics import PROMETHEUS_TYPE, database_exposition, process_exposition
from api.principal import STAFF
from api.routing import Call, Route, json_response
from storage.channel_health import channel_health
from storage.metrics import collect

log = logging.getLogger("eldercare.api")

# Readiness must answer quickly even when the database hangs: the probe has its own
# timeout, and a slow answer is as bad as a failed one.
READY_TIMEOUT_S = 2.0


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
        # DEBUG: a probe asks every few seconds, and the stages already said, once, that
        # the database is away.
        log.debug("readiness: database unreachable: %s", type(error).__name__)
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


async def metrics_response(ctx: ApiContext) -> web.StreamResponse:
    """This process's own metrics, in Prometheus' text format."""
    unacked = ctx.ingest_unacked() if ctx.ingest_unacked is not None else None
    body = process_exposition(ctx.metrics_registry, unacked)
    return web.Response(body=body, headers={"Content-Type": PROMETHEUS_TYPE})


async def database_metrics_response(ctx: ApiContext) -> web.StreamResponse:
    """The deployment's figures, read from the database now, in the text format."""
    async with ctx.pool.acquire() as conn:
        snapshot = await collect(conn, ctx.clock.now())
    body = database_exposition(snapshot)
    return web.Response(body=body, headers={"Content-Type": PROMETHEUS_TYPE})


class ChannelProblem(pydantic.BaseModel):
    channel: str = pydantic.Field(examples=["sms"])
    state: str = pydantic.Field(
        description="failing: its latest delivery gave up, none went out since;"
        " retrying: deliveries wait for another attempt after a failed one",
        examples=["failing"],
    )
    failed_last_hour: int
    retrying: int
    last_failed_at: datetime | None
    last_sent_at: datetime | None


class Banner(pydantic.BaseModel):
    channels: list[ChannelProblem] = pydantic.Field(
        description="notification channels in trouble; empty when all is well"
    )


async def banner(call: Call[Any]) -> Mapping[str, Any]:
    """What the console's operations banner shows: channels that are failing."""
    async with call.ctx.pool.acquire() as conn:
        health = await channel_health(conn, call.ctx.clock.now())
    return {
        "channels": [
            {"channel": h.channel, "state": "failing" if h.failing else "retrying",
             "failed_last_hour": h.failed, "retrying": h.retrying,
             "last_failed_at": h.last_failed_at, "last_sent_at": h.last_sent_at}
            for h in health
            if h.failing or h.retrying
        ]
    }  # fmt: skip


def metrics_allowed(request: web.Request, ctx: ApiContext) -> bool:
    """True when the request carries the configured metrics token."""
    sent = bearer_token(request)
    return ctx.metrics_token is not None and sent is not None and same(sent, ctx.metrics_token)


def _require_metrics_token(call: Call[Any]) -> None:
    if not metrics_allowed(call.request, call.ctx):
        raise ApiError(
            401,
            "unauthorized",
            "send the metrics token (ELDERCARE_METRICS_TOKEN) as a bearer token, or scrape"
            " the local metrics port (ELDERCARE_METRICS_PORT)",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )


async def metrics(call: Call[Any]) -> web.StreamResponse:
    _require_metrics_token(call)
    return await metrics_response(call.ctx)


async def database_metrics(call: Call[Any]) -> web.StreamResponse:
    _require_metrics_token(call)
    return await database_metrics_response(call.ctx)


def routes() -> list[Route]:
    public: frozenset[Any] = frozenset()
    return [
        Route("GET", "/healthz", healthz, "The process is up", "operations", public,
              response_model=Health, errors=()),
        Route("GET", "/readyz", readyz, "The database (and broker) answer", "operations",
              public, response_model=Ready, errors=(503,)),
        Route("GET", "/metrics", metrics,
              "This process's Prometheus metrics (needs the metrics token)",
              "operations", public, content_type="text/plain", errors=(401,)),
        Route("GET", "/metrics/database", database_metrics,
              "The deployment's figures from the database, for one Prometheus job"
              " (needs the metrics token)",
              "operations", public, content_type="text/plain", errors=(401,)),
        Route("GET", "/api/v1/ops/banner", banner,
              "Notification channels in trouble (the console's operations banner)",
              "operations", STAFF, response_model=Banner, errors=(401, 403)),
    ]  # fmt: skip
