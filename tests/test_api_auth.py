"""Signing in and out, cookies, CSRF, bearer tokens, throttling, users, the audit log,
and `eldercare users add`: through the HTTP API against real PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import io
import sys
from datetime import timedelta

import asyncpg
import pytest

from api.auth.passwords import DUMMY_HASH, parameters_match
from api.auth.sessions import COOKIE_NAME, CSRF_HEADER
from api.principal import Role
from eldercare.cli import main
from tests.api_helpers import PASSWORD, add_home, add_user, api_world, assign


async def test_login_sets_a_strict_httponly_cookie_and_me_answers(db_url: str) -> None:
    async with api_world(db_url) as world:
        await add_user(world.pool, "wang", Role.ADVISOR, display_name="王老师", language="zh-CN")
        client = world.anonymous()
        body = {"username": "wang", "password": PASSWORD}
        async with client.post("/api/v1/auth/login", json=body) as resp:
            assert resp.status == 200
            answer = await resp.json()
            set_cookie = resp.headers["Set-Cookie"]
        assert answer["user"] == {
            "username": "wang",
            "display_name": "王老师",
            "role": "advisor",
            "language": "zh-CN",
            "street": None,
        }
        assert set_cookie.startswith(f"{COOKIE_NAME}=")
        assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
        assert "Path=/" in set_cookie and "Secure" not in set_cookie  # plain http in tests
        me = await client.json("GET", "/api/v1/auth/me")
        assert me == {"user": answer["user"], "csrf_token": answer["csrf_token"]}
        async with world.pool.acquire() as conn:
            stored = await conn.fetchval("SELECT id FROM sessions")
            password_hash = await conn.fetchval("SELECT password_hash FROM users")
        token = client.session.cookie_jar.filter_cookies(world.server.make_url("/"))
        cookie = token[COOKIE_NAME].value
        assert stored == hashlib.sha256(cookie.encode()).hexdigest() != cookie
        assert password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


async def test_wrong_password_and_unknown_user_get_the_same_401(db_url: str) -> None:
    async with api_world(db_url) as world:
        await add_user(world.pool, "wang", Role.ADVISOR)
        client = world.anonymous()
        english = {"Accept-Language": "en-GB,en;q=0.9,zh-CN;q=0.5"}
        wrong = await client.json(
            "POST", "/api/v1/auth/login", 401, json={"username": "wang", "password": "nope"},
            headers=english,
        )  # fmt: skip
        unknown = await client.json(
            "POST", "/api/v1/auth/login", 401, json={"username": "zhao", "password": "nope"},
            headers=english,
        )  # fmt: skip
        assert wrong == unknown
        assert wrong["error"]["message"] == "wrong username or password"
        # One language per answer, the request's; Chinese unless English comes first.
        for language in ({}, {"Accept-Language": "zh-CN,en;q=0.8"}, {"Accept-Language": "fr"}):
            chinese = await client.json(
                "POST", "/api/v1/auth/login", 401,
                json={"username": "wang", "password": "nope"}, headers=language,
            )  # fmt: skip
            assert chinese["error"]["message"] == "用户名或密码不正确。"
        missing = await client.json("POST", "/api/v1/auth/login", 422, json={"username": "x"})
        assert missing["error"]["field"] == "password"
        async with client.post("/api/v1/auth/login", data=b"{nope") as resp:
            assert resp.status == 415  # not declared as JSON
        headers = {"Content-Type": "application/json"}
        bad = await client.json("POST", "/api/v1/auth/login", 400, data=b"{nope", headers=headers)
        assert "not valid JSON" in bad["error"]["message"]
        assert await client.json("GET", "/api/v1/auth/me", 401)
        # A NUL character (PostgreSQL text cannot hold one) is named, not a server error.
        nul = await client.json(
            "POST", "/api/v1/auth/login", 422, json={"username": "wa\x00ng", "password": "x"}
        )
        assert nul["error"]["field"] == "username"


def test_the_dummy_hash_costs_what_a_real_check_costs() -> None:
    # An unknown user is checked against DUMMY_HASH: same parameters, same time.
    assert parameters_match(DUMMY_HASH)


async def test_cookie_writes_need_the_csrf_header_and_bearer_writes_do_not(db_url: str) -> None:
    async with api_world(db_url) as world:
        await add_home(world.pool, "home-1")
        wang = await world.user_signed_in("wang", Role.ADVISOR)
        await assign(world.pool, "home-1", "wang")
        alert_id = await world.open_alert("home-1")
        path = f"/api/v1/alerts/{alert_id}/comment"
        body = {"text": "called her daughter"}
        no_header = await wang.json("POST", path, 403, json=body, headers={CSRF_HEADER: ""})
        assert no_header["error"]["code"] == "csrf"
        forged = await wang.json("POST", path, 403, json=body, headers={CSRF_HEADER: "x" * 43})
        assert forged["error"]["code"] == "csrf"
        await wang.json("POST", path, json=body)  # the client sends the session's token
        # A bearer token is not sent by browsers on their own: no CSRF token needed.
        bot = await world.bearer("wang")
        assert bot.csrf_token is None
        await bot.json("POST", path, json={"text": "from the integration"})
        me = await bot.json("GET", "/api/v1/auth/me")
        assert me["csrf_token"] is None and me["user"]["username"] == "wang"
        async with world.pool.acquire() as conn:
            actors = await conn.fetch(
                "SELECT actor FROM alert_history WHERE action = 'commented' ORDER BY id"
            )
        assert [r["actor"] for r in actors] == ["wang", "wang"]
        rejected = world.anonymous()
        rejected.headers["Authorization"] = "Bearer ect_not-a-token"
        await rejected.json("GET", "/api/v1/auth/me", 401)


async def test_logout_ends_the_session_for_whoever_holds_the_cookie(db_url: str) -> None:
    async with api_world(db_url) as world:
        wang = await world.user_signed_in("wang", Role.ADVISOR)
        cookies = wang.session.cookie_jar.filter_cookies(world.server.make_url("/"))
        stolen = cookies[COOKIE_NAME].value
        await wang.json("POST", "/api/v1/auth/logout", 403, headers={CSRF_HEADER: ""})
        async with wang.post("/api/v1/auth/logout") as resp:
            assert resp.status == 204
        await wang.json("GET", "/api/v1/auth/me", 401)
        replay = world.anonymous()
        await replay.json(
            "GET", "/api/v1/auth/me", 401, headers={"Cookie": f"{COOKIE_NAME}={stolen}"}
        )


async def test_sessions_expire_when_idle(db_url: str) -> None:
    async with api_world(db_url) as world:
        wang = await world.user_signed_in("wang", Role.ADVISOR)
        world.clock.advance(timedelta(hours=11))
        await wang.json("GET", "/api/v1/auth/me")  # activity keeps it alive
        world.clock.advance(timedelta(hours=11))
        await wang.json("GET", "/api/v1/auth/me")
        world.clock.advance(timedelta(hours=12, minutes=1))
        await wang.json("GET", "/api/v1/auth/me", 401)


async def test_admin_creates_users_and_tokens_with_errors_naming_the_field(db_url: str) -> None:
    async with api_world(db_url) as world:
        admin = await world.user_signed_in("root", Role.ADMIN)
        new = {
            "username": "li",
            "password": "a long enough password",
            "display_name": "Li",
            "role": "supervisor",
            "language": "en",
            "street": "east",
        }
        created = await admin.json("POST", "/api/v1/users", 201, json=new)
        assert created["user"]["street"] == "east"
        await admin.json("POST", "/api/v1/users", 409, json=new)
        weak = await admin.json(
            "POST", "/api/v1/users", 422, json={**new, "username": "x", "password": "short"}
        )
        assert weak["error"]["field"] == "password"
        no_street = {**new, "username": "zhao", "street": None}
        assert (await admin.json("POST", "/api/v1/users", 422, json=no_street))["error"]
        bad_role = await admin.json(
            "POST", "/api/v1/users", 422, json={**new, "username": "z", "role": "root"}
        )
        assert bad_role["error"]["field"] == "role"
        users = await admin.json("GET", "/api/v1/users")
        assert [u["username"] for u in users["users"]] == ["li", "root"]
        token = await admin.json(
            "POST", "/api/v1/users/li/tokens", 201, json={"label": "dashboard screen"}
        )
        await admin.json("POST", "/api/v1/users/nobody/tokens", 404, json={"label": "x"})
        li = world.anonymous()
        li.headers["Authorization"] = f"Bearer {token['token']}"
        assert (await li.json("GET", "/api/v1/auth/me"))["user"]["username"] == "li"
        await li.json("GET", "/api/v1/users", 403)
        async with world.pool.acquire() as conn:
            stored = await conn.fetchval("SELECT token_hash FROM api_tokens")
        assert stored == hashlib.sha256(token["token"].encode()).hexdigest()
        await li.json("POST", "/api/v1/users/li/tokens", 403, json={"label": "mine"})


async def test_the_audit_log_records_who_read_which_home(db_url: str) -> None:
    async with api_world(db_url) as world:
        await add_home(world.pool, "home-1")
        wang = await world.user_signed_in("wang", Role.ADVISOR)
        await assign(world.pool, "home-1", "wang")
        alert_id = await world.open_alert("home-1")
        await wang.json("GET", f"/api/v1/alerts/{alert_id}")
        await wang.json("GET", "/api/v1/alerts?home_id=home-1")
        admin = await world.bearer("root", Role.ADMIN)
        await admin.json("GET", "/api/v1/audit", 422, params={"limit": "0"})
        log = await admin.json("GET", "/api/v1/audit")
        entries = [
            (e["username"], e["action"], e["resource"], e["home_id"]) for e in log["entries"]
        ]
        assert entries == [
            ("wang", "alerts.list", "/api/v1/alerts?home_id=home-1", "home-1"),
            ("wang", "alert.read", f"/api/v1/alerts/{alert_id}", "home-1"),
        ]
        assert log["entries"][0]["at"] == "2026-01-05T01:00:00Z"
        older = await admin.json("GET", f"/api/v1/audit?before_id={log['entries'][0]['id']}")
        assert [e["action"] for e in older["entries"]] == ["alert.read"]
        await wang.json("GET", "/api/v1/audit", 403)
        async with world.pool.acquire() as conn:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute("DELETE FROM audit_log")


async def test_cli_users_add_creates_a_user_who_can_sign_in(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ELDERCARE_DATABASE_URL", db_url)
    monkeypatch.setenv("ELDERCARE_NEW_PASSWORD", "from the environment")
    argv = ["users", "add", "li", "--role", "supervisor", "--street", "east"]
    argv += ["--display-name", "Li Ming", "--language", "en"]
    assert await asyncio.to_thread(main, argv) == 0
    assert await asyncio.to_thread(main, argv) == 1  # exists already
    assert await asyncio.to_thread(main, ["users", "add", "zhao", "--role", "supervisor"]) == 2
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    argv = ["users", "add", "sun", "--role", "advisor", "--password-stdin"]
    assert await asyncio.to_thread(main, argv) == 2
    errors = capsys.readouterr().err
    assert "USERNAME: user li exists already" in errors
    assert "--street: a supervisor needs" in errors
    assert "password: use at least 12 characters" in errors
    async with api_world(db_url) as world:
        li = await world.sign_in("li", "from the environment")
        me = await li.json("GET", "/api/v1/auth/me")
        assert me["user"] == {
            "username": "li",
            "display_name": "Li Ming",
            "role": "supervisor",
            "language": "en",
            "street": "east",
        }
