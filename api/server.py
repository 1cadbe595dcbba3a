"""Serving the API: every route module's table, the console's files, a listening socket
(and /metrics alone on a local one, when configured)."""

from __future__ import annotations

import errno
import importlib
import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from api.access_log import AccessLogger
from api.app import create_app
from api.context import CONTEXT, ApiContext
from api.headers import add_security_headers
from api.metrics import PROMETHEUS_TYPE, process_exposition
from api.routes.ops import database_metrics_response, metrics_response
from api.routing import Route
from api.slow_clients import DeadlineTCPSite
from core.errors import StartupError
from core.logs import kv

# Every routes module, in the order the OpenAPI document lists them. A module named here
# must exist: a missing one is an error, not a quietly smaller API.
ROUTE_MODULES = (
    "api.routes.auth",
    "api.routes.alerts",
    "api.routes.homes",
    "api.routes.profile",
    "api.routes.family",
    "api.routes.dashboard",
    "api.routes.admin",
    "api.routes.users",
    "api.routes.residents",
    "api.routes.retention",
    "api.routes.audit",
    "api.routes.ops",
    "api.routes.duty",
    "api.routes.meta",
)
log = logging.getLogger("eldercare")
STATIC_DIR = Path(__file__).parent / "static"
# A connection has this long to send a request's headers, counted from when it opened
# or from the end of its previous answer (an idle keep-alive connection is closed after
# it too): slow-header clients (slow-loris) cannot hold connections open.
HEADER_TIMEOUT_S = 10.0
METRICS_HOST = "127.0.0.1"


def all_routes() -> list[Route]:
    """The routes of every module in ROUTE_MODULES."""
    found: list[Route] = []
    for name in ROUTE_MODULES:
        found.extend(importlib.import_module(name).routes())
    return found


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


def create_api_app(context: ApiContext) -> web.Application:
    """The whole app: every API route, and the console when its files are there."""
    app = create_app(context, all_routes())
    if (STATIC_DIR / "index.html").is_file():
        app.router.add_get("/", _index)
        app.router.add_static("/static/", STATIC_DIR)
    return app


async def _local_metrics(request: web.Request) -> web.StreamResponse:
    return await metrics_response(request.app[CONTEXT])


async def _local_database_metrics(request: web.Request) -> web.StreamResponse:
    return await database_metrics_response(request.app[CONTEXT])


def create_metrics_app(context: ApiContext) -> web.Application:
    """/metrics and /metrics/database without a token, for a listener only this
    machine reaches."""
    app = web.Application()
    app[CONTEXT] = context
    app.router.add_get("/metrics", _local_metrics)
    app.router.add_get("/metrics/database", _local_database_metrics)
    app.on_response_prepare.append(add_security_headers)
    return app


def create_process_metrics_app(
    registry: CollectorRegistry, ingest_unacked: Callable[[], int | None] | None = None
) -> web.Application:
    """/metrics of a process that serves no API (a lone ingest worker), for a listener
    only this machine reaches."""

    async def own(request: web.Request) -> web.StreamResponse:
        unacked = None if ingest_unacked is None else ingest_unacked()
        body = process_exposition(registry, unacked)
        return web.Response(body=body, headers={"Content-Type": PROMETHEUS_TYPE})

    app = web.Application()
    app.router.add_get("/metrics", own)
    app.on_response_prepare.append(add_security_headers)
    return app


@asynccontextmanager
async def serving_process_metrics(
    port: int | None,
    registry: CollectorRegistry,
    ingest_unacked: Callable[[], int | None] | None = None,
) -> AsyncIterator[None]:
    """A process with no API (a lone ingest worker, `eldercare alerts run`) serves its
    /metrics on 127.0.0.1:`port` (ELDERCARE_METRICS_PORT), when set: no token, since
    only this machine reaches it."""
    if port is None:
        yield
        return
    app = create_process_metrics_app(registry, ingest_unacked)
    async with serving(app, METRICS_HOST, port) as url:
        log.info(kv("metrics", url=url + "/metrics"))
        yield


@asynccontextmanager
async def running_api(
    context: ApiContext, host: str, port: int, header_timeout_s: float = HEADER_TIMEOUT_S
) -> AsyncIterator[str]:
    """Serve the app on host:port (0: any free port) until the block ends; yields the
    base URL (http://host:port)."""
    async with serving(create_api_app(context), host, port, header_timeout_s) as url:
        yield url


@asynccontextmanager
async def serving(
    app: web.Application, host: str, port: int, header_timeout_s: float = HEADER_TIMEOUT_S
) -> AsyncIterator[str]:
    """Serve `app` (with our access log) until the block ends; yields its base URL.

    A connection has `header_timeout_s` to send its first request's head
    (api/slow_clients.py); after each answer, aiohttp's keep-alive timeout (the same
    value) closes a connection whose next request has not arrived in time."""
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log_class=AccessLogger,
        keepalive_timeout=header_timeout_s,
    )
    await runner.setup()
    try:
        site = DeadlineTCPSite(runner, host, port, header_timeout_s)
        try:
            await site.start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise _port_in_use(host, port) from None
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()


def check_port_free(host: str, port: int) -> None:
    """Raise StartupError now if the API's port is taken, before any work is done."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise _port_in_use(host, port) from None
            # Anything else (an address not on this machine) is for the server to report.


def _port_in_use(host: str, port: int) -> StartupError:
    return StartupError(
        f"port {port} on {host} is already in use (another eldercare?): stop what listens"
        " there, or choose another port with ELDERCARE_API_PORT"
    )
