"""The middleware that says who is calling (request[PRINCIPAL]); routes decide whether
that is enough (api/routing.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from api.auth.sessions import authenticate
from api.context import CONTEXT, PRINCIPALS
from api.routing import PRINCIPAL

API_PREFIX = "/api/"


@web.middleware
async def identify_caller(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Look up the session or token of API requests; other paths (the console's files,
    health checks) need nobody and cost no query."""
    principal = None
    if request.path.startswith(API_PREFIX):
        context = request.app[CONTEXT]
        principal = await authenticate(
            request, context.pool, context.wall_clock, request.app[PRINCIPALS]
        )
    request[PRINCIPAL] = principal
    return await handler(request)
