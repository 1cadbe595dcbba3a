"""What every handler can reach: the database pool, the clocks and the services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry

from alerts.channels.outbound import OutboundPolicy
from alerts.service import AlertService
from api.auth.client import IpNetwork
from api.auth.sessions import PrincipalCache
from api.events import AlertHub
from core.clock import Clock, WallClock
from core.retention import RetentionPolicy
from storage.audit import AuditLog
from storage.backend import Backend, detect_backend


@dataclass(frozen=True, slots=True)
class ApiContext:
    """The API's dependencies, built once by whoever runs the app."""

    pool: asyncpg.Pool
    clock: Clock  # the alerts' clock (simulated time in the demo)
    alerts: AlertService
    # Is the broker reachable? (for /readyz); None where the process runs no MQTT part.
    broker_check: Callable[[], Awaitable[bool]] | None = None
    # Sessions, login throttling and the audit log keep real time even when the demo
    # runs the alerts' clock faster.
    wall_clock: Clock = field(default_factory=WallClock)
    # Mark the session cookie Secure and send HSTS (served over https). Off here for
    # tests on plain http; `eldercare run` takes ELDERCARE_API_SECURE_COOKIES (on).
    secure_cookies: bool = False
    # Reverse proxies whose X-Forwarded-For names the client (sign-in throttling).
    trusted_proxies: tuple[IpNetwork, ...] = ()
    # How long an integration token lasts unless its creator says otherwise.
    token_lifetime: timedelta = timedelta(days=90)
    # What Prometheus must send for /metrics; None: /metrics only on the local port.
    metrics_token: str | None = None
    # Where contacts' webhooks may point (public addresses, and the hosts allowed).
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)
    # Messages ingest has received and not yet committed (its queue), when ingest runs
    # in this process; None (no metric) otherwise.
    ingest_unacked: Callable[[], int | None] | None = None
    # How long each kind of data is kept (shown to admins; the job applies it).
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    # This process's own metrics (core/telemetry.py), for /metrics; None: none here.
    metrics_registry: CollectorRegistry | None = None


class BackendCache:
    """The storage backend (TimescaleDB or plain PostgreSQL), detected once per app
    rather than per request: it cannot change under a running app."""

    def __init__(self) -> None:
        self._backend: Backend | None = None

    async def get(self, conn: asyncpg.Connection) -> Backend:
        if self._backend is None:
            self._backend = await detect_backend(conn)
        return self._backend


CONTEXT = web.AppKey("context", ApiContext)
# Per-app services with a lifetime (a task each), started and stopped by api/server.py.
AUDIT = web.AppKey("audit", AuditLog)
ALERT_HUB = web.AppKey("alert_hub", AlertHub)
# Who recent credentials belong to (api/auth/sessions.py says for how long).
PRINCIPALS = web.AppKey("principals", PrincipalCache)
BACKEND = web.AppKey("backend", BackendCache)
