"""Access logs without personal data: one key=value line per request with the method, the
route's pattern (`/api/v1/homes/{home_id}`, not the home), the status and the duration.
No client address, no query string, no user name: the audit log says who read what."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from core.logs import kv

log = logging.getLogger("eldercare.api.access")


class AccessLogger(AbstractAccessLogger):
    """aiohttp's access-log hook (pass as `access_log_class`)."""

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        super().__init__(log, log_format)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route = getattr(request, "match_info", None)
        resource = route.route.resource if route is not None else None
        pattern = resource.canonical if resource is not None else "-"
        log.info(kv("http", method=request.method, route=pattern, status=response.status,
                    ms=round(time * 1000, 1)))  # fmt: skip
