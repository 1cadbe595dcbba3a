"""Helpers for API tests (no tests here): the app on a real loopback socket over the
test's database, users of each role, signed-in clients, homes and assignments, alerts.

    async with api_world(db_url) as world:
        await add_home(world.pool, "home-1", street="east")
        await add_user(world.pool, "wang", Role.ADVISOR)
        await assign(world.pool, "home-1", "wang")
        wang = await world.sign_in("wang")          # cookie + X-CSRF-Token
        ops = await world.bearer("ops", Role.ADMIN)  # creates the user, then a token
        resp = await wang.get("/api/v1/alerts")
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from alerts.service import AlertService
from api.auth.accounts import NewUser, create_token, create_user
from api.auth.sessions import CSRF_HEADER
from api.context import ApiContext
from api.principal import Role
from api.server import create_api_app
from core.clock import ManualClock
from core.kinds import Category, Severity
from detectors.findings import Finding

PASSWORD = "correct horse battery"  # every test user's, unless a test says otherwise
# 09:00 on a Monday in Shanghai: daytime, outside anyone's quiet hours.
START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
_sms_numbers = itertools.count(13_900_000_000)


class ApiClient:
    """An HTTP client of the test app with fixed headers (CSRF token, bearer token).

    `await client.get(path)` gives the response, like aiohttp's TestClient.
    """

    def __init__(
        self, session: aiohttp.ClientSession, headers: dict[str, str], csrf_token: str | None
    ) -> None:
        self.session = session
        self.headers = headers
        self.csrf_token = csrf_token

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.session.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    async def json(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        """The JSON answer of a request, asserting its status."""
        async with self.request(method, path, **kwargs) as resp:
            body = await resp.json() if resp.content_type == "application/json" else None
            assert resp.status == expect, (resp.status, body)
            return body


@dataclass
class ApiWorld:
    """The app served on loopback over the test's database, with a ManualClock."""

    pool: asyncpg.Pool
    clock: ManualClock
    alerts: AlertService
    context: ApiContext
    client: TestClient  # anonymous
    _sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    @property
    def server(self) -> TestServer:
        server = self.client.server
        assert isinstance(server, TestServer)
        return server

    def _session(self) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(
            base_url=str(self.server.make_url("/")),
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies for 127.0.0.1
        )
        self._sessions.append(session)
        return session

    def anonymous(self) -> ApiClient:
        """A client with no credentials and its own cookie jar."""
        return ApiClient(self._session(), {}, None)

    async def sign_in(self, username: str, password: str = PASSWORD) -> ApiClient:
        """Sign in through POST /api/v1/auth/login; the client keeps the cookie and
        sends the CSRF token with every request."""
        session = self._session()
        body = {"username": username, "password": password}
        async with session.post("/api/v1/auth/login", json=body) as resp:
            answer = await resp.json()
            assert resp.status == 200, answer
        csrf = answer["csrf_token"]
        return ApiClient(session, {CSRF_HEADER: csrf}, csrf)

    async def user_signed_in(
        self, username: str, role: Role, *, street: str | None = None
    ) -> ApiClient:
        """Create a user of `role` (a supervisor's street defaults to "east"), then sign in."""
        await add_user(self.pool, username, role, street=street)
        return await self.sign_in(username)

    async def bearer(
        self, username: str, role: Role | None = None, *, street: str | None = None
    ) -> ApiClient:
        """A client sending a fresh bearer token of `username` (created first when `role`
        is given); no cookie, no CSRF token."""
        if role is not None:
            await add_user(self.pool, username, role, street=street)
        created = await create_token(self.pool, username, "test", self.clock)
        assert created is not None, f"no user {username}"
        return ApiClient(self._session(), {"Authorization": f"Bearer {created[1]}"}, None)

    async def open_alert(
        self,
        home_id: str,
        kind: str = "motion_inactivity",
        category: Category = Category.INACTIVITY,
        severity: Severity = Severity.HIGH,
        at: datetime | None = None,
    ) -> int:
        """Raise an alert through AlertService.ingest, as a detector would; its id."""
        finding = Finding(
            home_id, category, kind, severity, at or self.clock.now(), f"{kind} in the test"
        )
        (result,) = await self.alerts.ingest([finding])
        assert result.alert_id is not None
        return result.alert_id


@asynccontextmanager
async def api_world(
    db_url: str, start: datetime = START, **context_options: Any
) -> AsyncIterator[ApiWorld]:
    """The whole API app on a loopback port over `db_url`; `context_options` are more
    ApiContext fields (trusted_proxies, secure_cookies, outbound, ...)."""
    pool = await asyncpg.create_pool(db_url, min_size=2, max_size=10)
    clock = ManualClock(start)
    alerts = AlertService(pool, clock)
    context = ApiContext(pool, clock, alerts, wall_clock=clock, **context_options)
    client = TestClient(TestServer(create_api_app(context)))
    world = ApiWorld(pool, clock, alerts, context, client)
    try:
        await client.start_server()
        yield world
    finally:
        for session in world._sessions:
            await session.close()
        await client.close()
        await pool.close()


async def add_user(
    pool: asyncpg.Pool,
    username: str,
    role: Role,
    *,
    password: str = PASSWORD,
    street: str | None = None,
    display_name: str | None = None,
    language: str = "zh-CN",
) -> None:
    """Create a user (a supervisor's street defaults to "east")."""
    if role is Role.SUPERVISOR and street is None:
        street = "east"
    new = NewUser.model_validate(
        {
            "username": username,
            "password": password,
            "display_name": display_name or username,
            "role": role,
            "language": language,
            "street": street,
        }
    )
    await create_user(pool, new, ManualClock(START))


async def add_home(
    pool: asyncpg.Pool,
    home_id: str,
    *,
    street: str | None = "east",
    timezone: str = "Asia/Shanghai",
    address: str | None = None,
    resident: str | None = "resident",
) -> None:
    """A home, with one resident unless `resident` is None."""
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO homes (id, address, street, timezone) VALUES ($1, $2, $3, $4)",
            home_id,
            address or f"{home_id} address",
            street,
            timezone,
        )
        if resident is not None:
            await conn.execute(
                "INSERT INTO residents (home_id, display_name, phone) VALUES ($1, $2, $3)",
                home_id,
                resident,
                f"+86{next(_sms_numbers)}",  # the check-in call of the first escalation step
            )


async def assign(
    pool: asyncpg.Pool,
    home_id: str,
    username: str,
    role: str = "primary_advisor",
    position: int | None = None,
) -> None:
    """Make `username` a contact of `home_id` in `role` (primary_advisor, backup_advisor,
    supervisor, family): what gives advisors and family their homes. Next free position
    unless given; reached by SMS at a made-up number."""
    async with pool.acquire() as conn:
        if position is None:
            position = await conn.fetchval(
                "SELECT coalesce(max(position) + 1, 0) FROM alert_contacts"
                " WHERE home_id = $1 AND role = $2",
                home_id,
                role,
            )
        await conn.execute(
            "INSERT INTO alert_contacts (home_id, role, position, person_ref, sms)"
            " VALUES ($1, $2, $3, $4, $5)",
            home_id,
            role,
            position,
            username,
            f"+86{next(_sms_numbers)}",
        )
