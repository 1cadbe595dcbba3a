"""Operations endpoints: liveness, readiness that notices a dead database or broker,
and metrics in the Prometheus text format (behind the metrics token, or alone on a local
port)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from alerts.service import AlertService
from api.app import create_app
from api.context import ApiContext
from api.routes import ops
from api.server import create_metrics_app, running_api, serving
from core.clock import ManualClock
from tests.api_helpers import api_world
from tests.prometheus_text import parse_prometheus
from tests.services import free_port
from tests.view_data import NOW, alert, device, home

METRICS_TOKEN = "metrics-token-0123456789"


async def test_health_ready_and_metrics(db_url: str) -> None:
    async with api_world(db_url, start=NOW) as world:
        async with world.pool.acquire() as conn:
            await home(conn, "h1")
            await device(conn, "m1", "h1", seen=timedelta(seconds=30))
            await alert(conn, "h1", "no_water", "high")
        client = world.anonymous()  # public: probes do not sign in
        assert await client.json("GET", "/healthz") == {"status": "ok"}
        assert await client.json("GET", "/readyz") == {"database": True, "broker": None}
        # No metrics token configured: /metrics on the API's port answers nobody.
        for path in ("/metrics", "/metrics/database"):
            async with client.get(path) as resp:
                assert resp.status == 401 and "ELDERCARE_METRICS_TOKEN" in await resp.text()
                assert "eldercare_open_alerts" not in await resp.text()

        context = dataclasses.replace(world.context, metrics_token=METRICS_TOKEN)
        scraper = TestClient(TestServer(create_app(context, ops.routes())))
        await scraper.start_server()
        try:
            wrong = {"Authorization": "Bearer not-the-token-at-all"}
            for path in ("/metrics", "/metrics/database"):
                assert (await scraper.get(path, headers=wrong)).status == 401
                assert (await scraper.get(path)).status == 401
            token = {"Authorization": f"Bearer {METRICS_TOKEN}"}
            own = await scraper.get("/metrics", headers=token)
            assert own.status == 200
            assert own.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            process = parse_prometheus(await own.text())
            resp = await scraper.get("/metrics/database", headers=token)
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            samples = parse_prometheus(await resp.text())
        finally:
            await scraper.close()
        # The database's figures are in their own scrape only, never in a process's.
        assert not [name for name in process if "open_alerts" in name or "devices" in name]
        assert samples['eldercare_open_alerts{severity="high"}'] == 1
        assert samples['eldercare_open_alerts{severity="critical"}'] == 0
        assert samples['eldercare_unacknowledged_alerts{severity="high"}'] == 1
        assert samples["eldercare_oldest_unacknowledged_alert_age_seconds"] == 3600
        assert samples["eldercare_devices_reporting"] == 1
        assert samples["eldercare_last_message_age_seconds"] == 30
        assert samples["eldercare_outbox_backlog"] >= 0
        assert samples["eldercare_database_size_bytes"] > 0
        assert "eldercare_heartbeat_age_seconds" not in samples  # no heartbeat ever: unknown
        assert "eldercare_readings_total" in samples
        assert "eldercare_dead_letters_total" in samples
        assert "eldercare_ingest_unacked_messages" not in samples  # no ingest in this process


async def test_metrics_show_the_queue_of_ingest_in_the_same_process(db_url: str) -> None:
    async with api_world(db_url, start=NOW) as world:
        context = ApiContext(world.pool, world.clock, world.alerts, ingest_unacked=lambda: 7,
                             metrics_token=METRICS_TOKEN)  # fmt: skip
        client = TestClient(TestServer(create_app(context, ops.routes())))
        await client.start_server()
        try:
            resp = await client.get(
                "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
            )
            samples = parse_prometheus(await resp.text())
        finally:
            await client.close()
    assert samples["eldercare_ingest_unacked_messages"] == 7


async def test_metrics_without_a_token_on_the_local_port_only(db_url: str) -> None:
    async with (
        api_world(db_url, start=NOW) as world,
        serving(create_metrics_app(world.context), "127.0.0.1", 0) as local,
        running_api(world.context, "127.0.0.1", 0) as api,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(f"{local}/metrics/database") as resp:
            assert resp.status == 200
            assert "eldercare_open_alerts" in await resp.text()
        async with session.get(f"{local}/metrics") as resp:
            assert resp.status == 200
        async with session.get(f"{local}/api/v1/alerts") as resp:
            assert resp.status == 404  # the local port serves metrics and nothing else
        for path in ("/metrics", "/metrics/database"):
            async with session.get(f"{api}{path}") as resp:
                assert resp.status == 401


async def _probe(context: ApiContext) -> tuple[int, object]:
    client = TestClient(TestServer(create_app(context, ops.routes())))
    await client.start_server()
    try:
        resp = await client.get("/readyz")
        return resp.status, await resp.json()
    finally:
        await client.close()


async def test_not_ready_without_a_database(db_url: str) -> None:
    # Nothing listens on this port: every connection attempt is refused.
    dead = await asyncpg.create_pool(f"postgresql://postgres@127.0.0.1:{free_port()}/x",
                                     min_size=0)  # fmt: skip
    clock = ManualClock(NOW)
    try:
        context = ApiContext(dead, clock, AlertService(dead, clock))
        assert await _probe(context) == (503, {"database": False, "broker": None})
    finally:
        await dead.close()


async def test_not_ready_when_the_broker_is_down(db_url: str) -> None:
    pool = await asyncpg.create_pool(db_url, min_size=1, max_size=2)
    clock = ManualClock(NOW)

    async def broker_down() -> bool:
        return False

    try:
        context = ApiContext(pool, clock, AlertService(pool, clock), broker_check=broker_down)
        assert await _probe(context) == (503, {"database": True, "broker": False})
    finally:
        await pool.close()


async def test_access_log_names_the_route_not_the_home_or_the_caller(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with api_world(db_url) as world:
        context = ApiContext(world.pool, world.clock, world.alerts, wall_clock=world.clock)
        with caplog.at_level(logging.INFO, logger="eldercare.api.access"):
            async with (
                running_api(context, "127.0.0.1", 0) as base_url,
                aiohttp.ClientSession() as session,
                session.get(f"{base_url}/api/v1/homes/H0042?hours=48") as response,
            ):
                assert response.status == 401
    (line,) = [r.getMessage() for r in caplog.records if r.name == "eldercare.api.access"]
    assert "route=/api/v1/homes/{home_id}" in line and "status=401" in line
    assert "H0042" not in line and "127.0.0.1" not in line and "hours" not in line
