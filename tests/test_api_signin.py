"""Sign-in throttling (OWASP ASVS V2.2) through the HTTP API on a real database: every
guess counted under a row lock, growing delays instead of a lock-out, the client address
from X-Forwarded-For only behind a trusted proxy, answers in the request's language."""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from datetime import timedelta

from aiohttp.test_utils import make_mocked_request

from api.auth import throttle
from api.auth.client import client_address
from api.principal import Role
from tests.api_helpers import PASSWORD, ApiClient, ApiWorld, add_user, api_world

LOGIN = "/api/v1/auth/login"
WRONG = "not the password at all"
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


async def _login(client: ApiClient, username: str, password: str, **headers: str) -> int:
    body = {"username": username, "password": password}
    async with client.post(LOGIN, json=body, headers=headers) as resp:
        await resp.read()
        return resp.status


async def _failures(world: ApiWorld, key: str) -> int:
    count: int | None = await world.pool.fetchval(
        "SELECT failures FROM login_throttle WHERE key = $1", key
    )
    return count or 0


async def test_200_simultaneous_guesses_are_counted_and_almost_all_refused(db_url: str) -> None:
    async with api_world(db_url) as world:
        await add_user(world.pool, "wang", Role.ADVISOR)
        client = world.anonymous()
        statuses = await asyncio.gather(*(_login(client, "wang", WRONG) for _ in range(200)))
        seen = Counter(statuses)
        # The free failures and the one that starts the first delay were checked; every
        # other guess was refused before its password was looked at.
        assert seen[401] == throttle.ACCOUNT_FREE_FAILURES + 1
        assert seen[429] == 200 - seen[401]
        assert await _failures(world, "user:wang") == seen[401]
        # The owner, right password, after the wait the answer names: signed in.
        async with client.post(LOGIN, json={"username": "wang", "password": PASSWORD}) as resp:
            assert resp.status == 429
            wait_s = int(resp.headers["Retry-After"])
        assert 0 < wait_s <= throttle.MAX_DELAY.total_seconds()
        world.clock.advance(timedelta(seconds=wait_s))
        assert await _login(client, "wang", PASSWORD) == 200
        assert await _failures(world, "user:wang") == 0  # a success starts afresh


async def test_delays_grow_to_a_bound_and_the_owner_gets_in_after_a_long_attack(
    db_url: str,
) -> None:
    async with api_world(db_url) as world:
        await add_user(world.pool, "wang", Role.ADVISOR)
        attacker, owner = world.anonymous(), world.anonymous()
        waits: list[int] = []
        checked = 0
        while checked < 30:  # an attacker guessing as fast as the delays allow
            body = {"username": "wang", "password": f"{WRONG} {checked}"}
            async with attacker.post(LOGIN, json=body) as resp:
                if resp.status == 401:
                    checked += 1
                    continue
                assert resp.status == 429
                waits.append(int(resp.headers["Retry-After"]))
            world.clock.advance(timedelta(seconds=waits[-1]))
        assert waits == sorted(waits)  # they grow...
        assert waits[0] == 1 and max(waits) == throttle.MAX_DELAY.total_seconds()  # ...to a cap
        # The attacker stops; however long the attack was, the owner waits at most the cap.
        async with owner.post(LOGIN, json={"username": "wang", "password": PASSWORD}) as resp:
            wait_s = int(resp.headers.get("Retry-After", "0"))
        assert wait_s <= throttle.MAX_DELAY.total_seconds()
        world.clock.advance(timedelta(seconds=wait_s))
        assert await _login(owner, "wang", PASSWORD) == 200


async def test_the_throttled_answer_is_in_the_request_language(db_url: str) -> None:
    async with api_world(db_url) as world:
        client = world.anonymous()
        for _ in range(throttle.ACCOUNT_FREE_FAILURES + 1):
            assert await _login(client, "zhao", WRONG) == 401  # unknown names count too
        body = {"username": "zhao", "password": WRONG}
        english = await client.json(
            "POST", LOGIN, 429, json=body, headers={"Accept-Language": "en-US,en;q=0.9"}
        )
        chinese = await client.json(
            "POST", LOGIN, 429, json=body, headers={"Accept-Language": "zh-CN"}
        )
        assert english["error"]["message"].startswith("too many failed sign-ins; try again in")
        assert chinese["error"]["message"].startswith("登录失败次数过多")
        assert "too many" not in chinese["error"]["message"]


async def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(db_url: str) -> None:
    async with api_world(db_url) as world:
        client = world.anonymous()
        # Each guess claims another client address and another account: no use, the
        # address is the peer's, and it is throttled after its free failures.
        for n in range(throttle.ADDRESS_FREE_FAILURES + 1):
            forged = {"X-Forwarded-For": f"203.0.113.{n}"}
            assert await _login(client, f"name{n}", WRONG, **forged) == 401
        assert await _login(client, "another", WRONG, **{"X-Forwarded-For": "198.51.100.7"}) == 429
        assert await _failures(world, "addr:127.0.0.1") == throttle.ADDRESS_FREE_FAILURES + 1
        assert await _failures(world, "addr:203.0.113.1") == 0


async def test_behind_a_trusted_proxy_each_client_has_its_own_address(db_url: str) -> None:
    async with api_world(db_url, trusted_proxies=LOOPBACK) as world:
        await add_user(world.pool, "li", Role.ADVISOR)
        proxy = world.anonymous()  # every request comes from 127.0.0.1, the proxy
        guesser = {"X-Forwarded-For": "198.51.100.7"}
        for n in range(throttle.ADDRESS_FREE_FAILURES + 1):
            assert await _login(proxy, f"name{n}", WRONG, **guesser) == 401
        assert await _login(proxy, "name-x", WRONG, **guesser) == 429
        # Other people behind the same proxy are not locked out by that client.
        assert await _login(proxy, "li", PASSWORD, **{"X-Forwarded-For": "192.0.2.10"}) == 200
        # A client cannot pick its address: the proxy appends the one it saw, and the
        # rightmost address that is not a trusted proxy is the client.
        spoofed = {"X-Forwarded-For": "192.0.2.10, 198.51.100.7"}
        assert await _login(proxy, "name-y", WRONG, **spoofed) == 429
        assert await _failures(world, "addr:198.51.100.7") == throttle.ADDRESS_FREE_FAILURES + 1


def test_client_address_reads_forwarded_hops_from_the_right() -> None:
    def address(forwarded: str | None, proxies: tuple[ipaddress.IPv4Network, ...]) -> str:
        headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
        request = make_mocked_request("POST", LOGIN, headers=headers)
        request = request.clone(remote="10.0.0.2")
        return client_address(request, proxies)

    proxies = (ipaddress.ip_network("10.0.0.0/24"),)
    assert address("198.51.100.7", ()) == "10.0.0.2"  # untrusted peer: header ignored
    assert address("198.51.100.7", proxies) == "198.51.100.7"
    assert address("203.0.113.5, 198.51.100.7, 10.0.0.9", proxies) == "198.51.100.7"
    assert address("[2001:db8::7]:4711", proxies) == "2001:db8::7"
    assert address("198.51.100.7:4711", proxies) == "198.51.100.7"
    assert address("garbage, 198.51.100.7", proxies) == "198.51.100.7"
    assert address("198.51.100.7, garbage", proxies) == "10.0.0.2"  # unreadable: the proxy
    assert address("10.0.0.8, 10.0.0.9", proxies) == "10.0.0.8"  # all ours: the first
    assert address(None, proxies) == "10.0.0.2"


def test_delays_grow_from_nothing_to_the_cap() -> None:
    free = throttle.ACCOUNT_FREE_FAILURES
    waits = [throttle.delay_after(n, free).total_seconds() for n in range(1, free + 10)]
    assert waits[:free] == [0] * free
    assert waits[free : free + 6] == [1, 2, 4, 8, 16, 32]
    assert waits[free + 6 :] == [60, 60, 60]
    assert throttle.delay_after(10_000, free) == throttle.MAX_DELAY
