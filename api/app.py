"""The aiohttp application: middlewares, the route table, the per-app services (the
audit writer and the live alert feed) and their lifetimes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from aiohttp import web

from api.auth.middleware import identify_caller
from api.auth.sessions import PrincipalCache
from api.context import ALERT_HUB, AUDIT, BACKEND, CONTEXT, PRINCIPALS, ApiContext, BackendCache
from api.errors import ApiError
from api.events import AlertHub
from api.headers import add_security_headers
from api.routing import MAX_BODY_BYTES, ROUTES, Route, bind
from core.supervise import Stage, Supervisor
from storage.audit import AuditLog
from storage.errors import is_transient

log = logging.getLogger("eldercare.api")


@web.middleware
async def errors_as_json(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error a JSON body; never a stack trace to the client."""
    try:
        return await handler(request)
    except ApiError as error:
        return error.response()
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return ApiError(
            error.status, error.reason.lower().replace(" ", "_"), error.reason
        ).response()
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return ApiError(500, "internal", "internal error; it has been logged").response()


async def _services(app: web.Application) -> AsyncIterator[None]:
    """Run the audit writer and the alert feed for as long as the app runs."""
    # Each under a supervisor: a failure restarts that task alone, never silently ends it.
    parts = {"api-audit-writer": app[AUDIT].run, "api-alert-feed": app[ALERT_HUB].run}
    tasks = [
        asyncio.create_task(
            Supervisor(Stage.loop(name, run), is_outage=is_transient).run(), name=name
        )
        for name, run in parts.items()
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _end_streams(app: web.Application) -> None:
    """Shutdown waits for open requests: end the event streams so it need not."""
    app[ALERT_HUB].close()


def create_app(context: ApiContext, routes: Iterable[Route]) -> web.Application:
    """The app serving `routes` with `context`."""
    app = web.Application(
        middlewares=[errors_as_json, identify_caller], client_max_size=MAX_BODY_BYTES
    )
    app[CONTEXT] = context
    app[AUDIT] = AuditLog(context.pool)
    app[ALERT_HUB] = AlertHub(context.pool)
    app[PRINCIPALS] = PrincipalCache()
    app[BACKEND] = BackendCache()
    app.cleanup_ctx.append(_services)
    app.on_shutdown.append(_end_streams)
    app.on_response_prepare.append(add_security_headers)
    app[ROUTES] = tuple(routes)
    for route in app[ROUTES]:
        app.router.add_route(route.method, route.path, bind(route))
    return app
