"""Headers and transport: security headers on every answer, no software version in the
Server header, Secure cookies and HSTS by default, and a header-read deadline that slow
clients (slow-loris) cannot outlast, tested with real slow sockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

import aiohttp

from api.headers import CONTENT_SECURITY_POLICY
from api.principal import Role
from api.server import running_api
from core.settings import Settings
from tests.api_helpers import PASSWORD, add_user, api_world

SLOW_CLIENTS = 300


def _assert_secure_headers(headers: Mapping[str, str]) -> None:
    get = headers.get
    assert get("Content-Security-Policy") == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert get("X-Frame-Options") == "DENY"
    assert get("X-Content-Type-Options") == "nosniff"
    assert get("Referrer-Policy") == "no-referrer"
    assert get("Server") == "eldercare"


async def test_every_answer_carries_the_security_headers(db_url: str) -> None:
    async with api_world(db_url) as world:
        wang = await world.user_signed_in("wang", Role.ADVISOR)
        anonymous = world.anonymous()
        for client, path, status in (
            (wang, "/api/v1/alerts", 200),
            (anonymous, "/api/v1/alerts", 401),
            (anonymous, "/api/v1/no-such-route", 404),
            (anonymous, "/", 200),  # the console's page
            (anonymous, "/static/js/app.js", 200),
            (anonymous, "/healthz", 200),
        ):
            async with client.get(path) as resp:
                await resp.read()
                assert resp.status == status, path
                _assert_secure_headers(resp.headers)
                assert "aiohttp" not in resp.headers.get("Server", "")
                assert "Strict-Transport-Security" not in resp.headers  # plain http here
                if path.startswith("/api/"):
                    assert resp.headers["Cache-Control"] == "no-store"


async def test_secure_cookies_and_hsts_are_the_default(db_url: str) -> None:
    settings = Settings.from_env({})
    assert settings.api_secure_cookies is True
    assert Settings.from_env({"ELDERCARE_API_SECURE_COOKIES": "false"}).api_secure_cookies is False
    async with api_world(db_url, secure_cookies=settings.api_secure_cookies) as world:
        await add_user(world.pool, "wang", Role.ADVISOR)
        body = {"username": "wang", "password": PASSWORD}
        async with world.anonymous().post("/api/v1/auth/login", json=body) as resp:
            assert resp.status == 200
            assert "Secure" in resp.headers["Set-Cookie"]
            assert resp.headers["Strict-Transport-Security"].startswith("max-age=63072000")


async def _slow_client(host: str, port: int, stop: asyncio.Event) -> bool:
    """Open a connection and send a request's head a line at a time, never finishing;
    True when the server closed the connection."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
        n = 0
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                data = await asyncio.wait_for(reader.read(1024), 0.5)
                if not data:
                    return True  # closed by the server
            try:
                writer.write(f"X-Slow-{n}: still coming\r\n".encode())
                await writer.drain()
            except (ConnectionResetError, BrokenPipeError):
                return True
            n += 1
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def test_slow_header_clients_are_cut_off_and_others_are_served(db_url: str) -> None:
    async with (
        api_world(db_url) as world,
        running_api(world.context, "127.0.0.1", 0, header_timeout_s=2.0) as base_url,
        aiohttp.ClientSession() as session,
    ):
        host, port = base_url.removeprefix("http://").split(":")
        stop = asyncio.Event()
        slow = [asyncio.create_task(_slow_client(host, int(port), stop))
                for _ in range(SLOW_CLIENTS)]  # fmt: skip
        try:
            await asyncio.sleep(0.5)  # every slow connection is open and trickling
            async with session.get(f"{base_url}/healthz") as resp:
                assert resp.status == 200  # the server still answers others
            # Every slow client is cut off by the server, long before the test gives up.
            done, pending = await asyncio.wait(slow, timeout=60)
            assert not pending, f"{len(pending)} slow connections still open"
            assert all(task.result() for task in done)
            async with session.get(f"{base_url}/healthz") as resp:
                assert resp.status == 200
        finally:
            stop.set()
            await asyncio.gather(*slow, return_exceptions=True)
