"""The authorization matrix: every route of the app × every role (and nobody), checked
against a rule table written here, independently of the route declarations.

A new route without a rule fails the suite, and so does a rule for a route that is gone.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import ClientResponse

from api.principal import ALL_ROLES, MANAGERS, STAFF, Role
from api.server import all_routes
from tests.api_helpers import api_world

ADMIN = frozenset({Role.ADMIN})
FAMILY = frozenset({Role.FAMILY})
PUBLIC: frozenset[Role] = frozenset()

# (method, path) → the roles allowed; PUBLIC: no sign-in needed at all.
RULES: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): ALL_ROLES,
    ("GET", "/api/v1/auth/me"): ALL_ROLES,
    ("POST", "/api/v1/auth/password"): ALL_ROLES,
    # Alerts: staff only; family members hear about alerts through /family.
    ("GET", "/api/v1/alerts"): STAFF,
    ("GET", "/api/v1/alerts/stream"): STAFF,
    ("GET", "/api/v1/alerts/{alert_id}"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/claim"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/arrive"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/comment"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): STAFF,
    # Homes: staff read; managers change; family may only see and declare away periods.
    ("GET", "/api/v1/homes"): STAFF,
    ("GET", "/api/v1/homes/{home_id}"): STAFF,
    ("GET", "/api/v1/homes/{home_id}/readings"): STAFF,
    ("GET", "/api/v1/homes/{home_id}/devices"): STAFF,
    ("GET", "/api/v1/devices"): STAFF,
    ("GET", "/api/v1/residents"): STAFF,
    ("GET", "/api/v1/homes/{home_id}/settings"): STAFF,
    ("PUT", "/api/v1/homes/{home_id}/settings"): MANAGERS,
    ("GET", "/api/v1/homes/{home_id}/away"): ALL_ROLES,
    ("POST", "/api/v1/homes/{home_id}/away"): ALL_ROLES,
    ("GET", "/api/v1/homes/{home_id}/contacts"): STAFF,
    # The resident's profile: staff of the home, family their relative's basics.
    ("GET", "/api/v1/homes/{home_id}/profile"): ALL_ROLES,
    ("PUT", "/api/v1/homes/{home_id}/profile"): MANAGERS,
    ("PUT", "/api/v1/homes/{home_id}/contacts/{role}/{position}"): MANAGERS,
    ("DELETE", "/api/v1/homes/{home_id}/contacts/{role}/{position}"): MANAGERS,
    ("GET", "/api/v1/policies"): MANAGERS,
    # Duty: the street office sees and changes who is on duty.
    ("GET", "/api/v1/duty"): MANAGERS,
    ("GET", "/api/v1/duty/rotations"): MANAGERS,
    ("POST", "/api/v1/duty/overrides"): MANAGERS,
    ("DELETE", "/api/v1/duty/overrides/{override_id}"): MANAGERS,
    ("DELETE", "/api/v1/duty/rotations/{rotation_id}"): MANAGERS,
    ("PUT", "/api/v1/policies/{name}"): ADMIN,
    ("DELETE", "/api/v1/policies/{name}"): ADMIN,
    # Family view: family only (staff have the console).
    ("GET", "/api/v1/family"): FAMILY,
    ("GET", "/api/v1/family/preferences/{home_id}"): FAMILY,
    ("PUT", "/api/v1/family/preferences/{home_id}"): FAMILY,
    # District dashboard: supervisors (their street) and admins.
    ("GET", "/api/v1/dashboard"): MANAGERS,
    ("GET", "/api/v1/dashboard.csv"): MANAGERS,
    ("GET", "/api/v1/dashboard/now"): MANAGERS,
    # Users and tokens: admins.
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users/{username}/disable"): ADMIN,
    ("POST", "/api/v1/users/{username}/enable"): ADMIN,
    ("PUT", "/api/v1/users/{username}/password"): ADMIN,
    ("POST", "/api/v1/users/{username}/tokens"): ADMIN,
    ("GET", "/api/v1/tokens"): ADMIN,
    ("DELETE", "/api/v1/tokens/{token_id}"): ADMIN,
    # A resident's export and erasure: admins.
    ("GET", "/api/v1/residents/{resident_id}/export"): ADMIN,
    ("POST", "/api/v1/residents/{resident_id}/erase"): ADMIN,
    ("GET", "/api/v1/retention"): ADMIN,
    # The audit log: admins (everything) and supervisors (their street's homes).
    ("GET", "/api/v1/audit"): MANAGERS,
    ("GET", "/api/v1/audit.csv"): MANAGERS,
    # Operations and the API's description: public, they hold no one's data.
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,  # but see METRICS_TOKEN_ONLY
    ("GET", "/metrics/database"): PUBLIC,  # likewise
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    # Which notification channels are failing: staff, for the console's banner.
    ("GET", "/api/v1/ops/banner"): STAFF,
    ("GET", "/api/v1/texts"): PUBLIC,
}

# Public in the sense of "no user": they answer only to the metrics token (401 to every
# user, signed in or not).
METRICS_TOKEN_ONLY = {("GET", "/metrics"), ("GET", "/metrics/database")}

# Path parameters: values of the right shape that name nothing that exists.
SAMPLE_PARAMETERS = {
    "alert_id": "987654",
    "home_id": "no-such-home",
    "username": "nobody",
    "token_id": "987654",
    "override_id": "987654",
    "rotation_id": "987654",
    "resident_id": "987654",
    "role": "family",
    "position": "0",
    "name": "critical",
}


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: SAMPLE_PARAMETERS.get(m[1], "x"), path)


def test_every_route_has_a_rule_and_every_rule_a_route() -> None:
    routes = {(r.method, r.path) for r in all_routes()}
    assert sorted(routes - RULES.keys()) == [], "routes without a rule in RULES"
    assert sorted(RULES.keys() - routes) == [], "rules for routes that do not exist"


async def test_every_route_answers_every_role_by_the_rules(db_url: str) -> None:
    failures: list[str] = []
    async with api_world(db_url) as world:
        clients = {"anonymous": world.anonymous()}
        for role in Role:
            street = "east" if role is Role.SUPERVISOR else None
            clients[role.value] = await world.bearer(f"matrix-{role.value}", role, street=street)
        for route in all_routes():
            allowed = RULES.get((route.method, route.path))
            if allowed is None:
                failures.append(f"{route.method} {route.path}: no rule")
                continue
            path = _concrete(route.path)
            for who, client in clients.items():
                body = {} if route.method in ("POST", "PUT", "PATCH") else None
                async with client.request(route.method, path, json=body) as resp:
                    status = await _status(resp)
                if (route.method, route.path) in METRICS_TOKEN_ONLY:
                    ok, want = status == 401, "401 (the metrics token only)"
                elif allowed == PUBLIC:
                    ok = status not in (401, 403)
                    want = "not 401/403 (public)"
                elif who == "anonymous":
                    ok, want = status == 401, "401"
                elif Role(who) in allowed:
                    ok, want = status not in (401, 403), "not 401/403"
                else:
                    ok, want = status == 403, "403"
                if not ok or status >= 500:
                    failures.append(f"{route.method} {path} as {who}: {status}, want {want}")
    assert failures == []


async def _status(resp: ClientResponse) -> int:
    """The status; an event stream is left unread (it would not end by itself)."""
    if resp.content_type != "text/event-stream":
        await asyncio.wait_for(resp.read(), 30)
    return resp.status
