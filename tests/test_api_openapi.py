"""The OpenAPI document matches the app, and the app survives what it says it accepts
(schemathesis, against the app on a real loopback port, signed in as an admin)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aiohttp
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from api.auth.accounts import create_token
from api.context import ApiContext
from api.openapi import openapi_path
from api.principal import Role
from api.server import running_api
from tests.api_helpers import add_home, add_user, api_world, assign

# A handful per operation keeps the run to seconds; the point is every route and both
# valid and invalid input, not exhaustive search.
EXAMPLES_PER_OPERATION = int(os.environ.get("ELDERCARE_TEST_FUZZ_EXAMPLES", "6"))
# Never ends by itself; its behaviour is tested in test_api_alerts.py.
UNFUZZED = {("GET", "/api/v1/alerts/stream")}


def _router_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route of the app except static files and HEAD twins."""
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        if "directory" in info or route.method == "HEAD":
            continue
        path = info.get("formatter") or info.get("path")
        if path == "/":  # the console's page (a file)
            continue
        found.add((route.method, openapi_path(path)))
    return found


async def test_every_served_route_is_documented_and_nothing_else(db_url: str) -> None:
    async with api_world(db_url) as world:
        doc = await world.anonymous().json("GET", "/api/v1/openapi.json")
        app = world.server.app
    documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert documented == _router_routes(app)
    assert doc["openapi"].startswith("3.1")
    alerts = doc["paths"]["/api/v1/alerts"]["get"]
    params = {p["name"]: p for p in alerts["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 500 and not params["limit"]["required"]
    ok = alerts["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/AlertList"}
    assert alerts["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert "AlertJson" in doc["components"]["schemas"]
    assert doc["paths"]["/api/v1/auth/login"]["post"]["security"] == []
    assert {"cookieAuth": []} in alerts["security"] and {"bearerAuth": []} in alerts["security"]
    claim = doc["paths"]["/api/v1/alerts/{alert_id}/claim"]["post"]
    assert claim["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Claim"
    }
    path_param = claim["parameters"][0]
    assert (path_param["name"], path_param["in"], path_param["required"]) == (
        "alert_id",
        "path",
        True,
    )
    # Every $ref points at a schema that is there.
    refs = _refs(doc)
    assert refs and all(ref.removeprefix("#/components/schemas/") in doc["components"]["schemas"]
                        for ref in refs)  # fmt: skip


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def _fuzz(doc: dict[str, Any], base_url: str, token: str) -> list[str]:
    """Run schemathesis over every operation; the 5xx answers found (blocking: a thread)."""
    schema = schemathesis.openapi.from_dict(doc)
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in UNFUZZED:
            continue
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def check(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        check()
    return failures


async def test_schemathesis_finds_no_server_errors(db_url: str) -> None:
    async with api_world(db_url) as world:  # data to find: a home, an alert, users
        await add_home(world.pool, "home-1")
        await add_user(world.pool, "wang", Role.ADVISOR)
        await assign(world.pool, "home-1", "wang")
        await world.open_alert("home-1")
        await add_user(world.pool, "root", Role.ADMIN)
        created = await create_token(world.pool, "root", "schemathesis", world.clock)
        assert created is not None
        context = ApiContext(world.pool, world.clock, world.alerts, wall_clock=world.clock)
        async with running_api(context, "127.0.0.1", 0) as base_url:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{base_url}/api/v1/openapi.json") as resp,
            ):
                doc = await resp.json()
            failures = await asyncio.to_thread(_fuzz, doc, base_url, created[1])
    assert failures == []
