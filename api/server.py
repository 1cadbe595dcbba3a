"""Serving the API: every route module's table, the console's files, a listening socket."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from api.access_log import AccessLogger
from api.app import create_app
from api.context import ApiContext
from api.routing import Route

# Every routes module, in the order the OpenAPI document lists them. A module named here
# must exist: a missing one is an error, not a quietly smaller API.
ROUTE_MODULES = (
    "api.routes.auth",
    "api.routes.alerts",
    "api.routes.homes",
    "api.routes.family",
    "api.routes.dashboard",
    "api.routes.admin",
    "api.routes.users",
    "api.routes.ops",
    "api.routes.meta",
)
STATIC_DIR = Path(__file__).parent / "static"


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


@asynccontextmanager
async def running_api(context: ApiContext, host: str, port: int) -> AsyncIterator[str]:
    """Serve the app on host:port (0: any free port) until the block ends; yields the
    base URL (http://host:port)."""
    async with serving(create_api_app(context), host, port) as url:
        yield url


@asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """Serve `app` (with our access log) until the block ends; yields its base URL."""
    runner = web.AppRunner(app, handle_signals=False, access_log_class=AccessLogger)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()
