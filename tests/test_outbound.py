"""Requests the server makes for a supervisor: webhook URLs to loopback, private,
link-local and other non-public addresses are refused when set (API and CLI) and again
at send time after resolving the name (DNS rebinding), unless an admin allowed the host;
what a peer answers never reaches staff, only a status and a category of ours."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from alerts.channels.outbound import (
    OutboundPolicy,
    OutboundRefused,
    is_public,
    resolve_target,
)
from alerts.channels.webhook import WebhookChannel
from alerts.signing import WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER, verify_webhook
from api.principal import Role
from core.clock import ManualClock
from core.contacts import ChannelKind, Language
from core.outbox import Delivery
from eldercare.cli import main
from tests.api_helpers import START, add_home, api_world

SECRET = b"webhook-secret-0123456789"
PUBLIC_ADDRESS = "93.184.215.14"  # a public address: only ever checked, never contacted
NOT_PUBLIC = [
    "http://127.0.0.1:8080/hook",
    "http://localhost:8080/hook",  # a name resolving to loopback
    "http://10.1.2.3/hook",
    "http://172.16.0.5/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data",  # the cloud metadata address
    "http://100.64.0.1/hook",  # shared address space (carrier NAT)
    "http://0.0.0.0:8080/hook",
    "http://[::1]:8080/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
    "http://[64:ff9b::a01:203]/hook",  # NAT64 of 10.1.2.3
    "http://224.0.0.1/hook",
]


def test_which_addresses_are_public() -> None:
    assert is_public(ipaddress.ip_address(PUBLIC_ADDRESS))
    assert is_public(ipaddress.ip_address("2606:4700::1111"))
    for text in ("127.0.0.1", "10.0.0.1", "169.254.1.1", "::1", "fe80::1", "fc00::1",
                 "::ffff:10.0.0.1", "2002:7f00:1::", "64:ff9b::7f00:1", "198.51.100.1",
                 "ff02::1", "239.1.1.1"):  # fmt: skip
        assert not is_public(ipaddress.ip_address(text)), text


async def test_set_time_refuses_non_public_webhooks_unless_allowed(db_url: str) -> None:
    async with api_world(db_url) as world:
        await add_home(world.pool, "home-1", street="east")
        office = await world.user_signed_in("office", Role.SUPERVISOR, street="east")
        path = "/api/v1/homes/home-1/contacts/emergency/0"
        for url in NOT_PUBLIC:
            body = {"person_ref": "desk", "webhook_url": url}
            refused = await office.json("PUT", path, 422, json=body)
            assert refused["error"]["field"] == "webhook_url", url
            assert "not a public address" in refused["error"]["message"], url
        with_login = {"person_ref": "desk", "webhook_url": f"http://u:p@{PUBLIC_ADDRESS}/h"}
        assert (await office.json("PUT", path, 422, json=with_login))["error"]["field"] == (
            "webhook_url"
        )
        public = {"person_ref": "desk", "webhook_url": f"https://{PUBLIC_ADDRESS}/hook"}
        saved = await office.json("PUT", path, json=public)
        assert saved["contacts"][0]["webhook_url"] == f"https://{PUBLIC_ADDRESS}/hook"
    allowed = OutboundPolicy(("127.0.0.1", "intranet.example", "10.0.0.0/8"))
    async with api_world(db_url, outbound=allowed) as world:
        office = await world.sign_in("office")
        for url in ("http://127.0.0.1:8080/hook", "http://10.1.2.3/hook"):
            await office.json("PUT", path, json={"person_ref": "desk", "webhook_url": url})
        await office.json(
            "PUT", path, 422, json={"person_ref": "desk", "webhook_url": "http://192.168.1.1/h"}
        )


async def test_cli_refuses_a_loopback_webhook(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ELDERCARE_DATABASE_URL", db_url)
    argv = ["alerts", "contacts", "add", "*", "--role", "operations", "--person", "ops",
            "--webhook", "http://127.0.0.1:9/hook"]  # fmt: skip
    assert await asyncio.to_thread(main, argv) == 2
    assert "--webhook: 127.0.0.1 leads to 127.0.0.1" in capsys.readouterr().err
    monkeypatch.setenv("ELDERCARE_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    assert await asyncio.to_thread(main, argv) == 0


class Receiver:
    """A webhook receiver on loopback answering `status` with `body`."""

    def __init__(self, status: int = 200, body: str = "ok", location: str = "") -> None:
        self.status, self.body, self.location = status, body, location
        self.requests: list[tuple[dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        headers = {"Location": self.location} if self.location else None
        return web.Response(status=self.status, text=self.body, headers=headers)


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    app.router.add_post("/elsewhere", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def _delivery(url: str) -> Delivery:
    return Delivery(1, "key-1", ChannelKind.WEBHOOK, url, Language.EN, "Smoke", "Smoke at H1",
                    None, 1, alert_id=7, home_id="H1")  # fmt: skip


class Rebinding:
    """A name server whose answer changes: public when the URL is set, loopback later
    (outside our system, so a stand-in here)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return [self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]]


async def _send(channel: WebhookChannel, url: str) -> Any:
    return await channel.send(_delivery(url))


async def test_send_time_checks_the_resolved_address_dns_rebinding() -> None:
    receiver = Receiver()
    async with receiving(receiver) as port, aiohttp.ClientSession() as session:
        url = f"http://hooks.example:{port}/hook"
        dns = Rebinding(PUBLIC_ADDRESS, "127.0.0.1")
        strict = OutboundPolicy()
        await resolve_target(url, strict, dns)  # set: the name resolved to a public address
        channel = WebhookChannel(session, SECRET, ManualClock(START), strict, dns)
        result = await _send(channel, url)  # sent: it resolves to loopback now
        assert (result.ok, result.retryable) == (False, False)
        assert result.detail == "address refused (not public)"
        # A literal loopback URL stored before the checks existed is refused the same way.
        literal = await _send(channel, f"http://127.0.0.1:{port}/hook")
        assert literal.detail == "address refused (not public)"
        assert receiver.requests == []  # nothing reached the internal address
        with pytest.raises(OutboundRefused, match="does not resolve"):
            await resolve_target("http://no-such-host.invalid/hook", strict)


async def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    receiver = Receiver()
    clock = ManualClock(START)
    async with receiving(receiver) as port, aiohttp.ClientSession() as session:
        dns = Rebinding("127.0.0.1")
        allowed = OutboundPolicy(("127.0.0.1/32",))  # the admin allowed this address
        channel = WebhookChannel(session, SECRET, clock, allowed, dns)
        result = await _send(channel, f"http://hooks.example:{port}/hook")
    assert result.ok, result
    assert dns.asked == ["hooks.example"]  # resolved once, by us; aiohttp got the address
    ((headers, body),) = receiver.requests
    assert headers["Host"] == f"hooks.example:{port}"
    assert verify_webhook(SECRET, body, headers[WEBHOOK_TIMESTAMP_HEADER],
                          headers[WEBHOOK_SIGNATURE_HEADER], clock.now())  # fmt: skip


@pytest.mark.parametrize(
    ("status", "location", "detail", "retryable"),
    [
        (500, "", "HTTP 500 (server error)", True),
        (404, "", "HTTP 404 (rejected)", False),
        (302, "/elsewhere", "HTTP 302 (redirect refused)", False),
    ],
)
async def test_a_peers_answer_never_reaches_staff(
    status: int, location: str, detail: str, retryable: bool
) -> None:
    receiver = Receiver(status, "<html>internal admin page: db password hunter2</html>", location)
    async with receiving(receiver) as port, aiohttp.ClientSession() as session:
        channel = WebhookChannel(
            session, SECRET, ManualClock(START), OutboundPolicy(("127.0.0.1",))
        )
        result = await _send(channel, f"http://127.0.0.1:{port}/hook")
    assert (result.ok, result.detail, result.retryable) == (False, detail, retryable)
    assert "hunter2" not in result.detail
    assert len(receiver.requests) == 1  # a redirect is not followed


async def test_a_refused_connection_says_so_without_the_address() -> None:
    async with aiohttp.ClientSession() as session:
        channel = WebhookChannel(
            session, SECRET, ManualClock(START), OutboundPolicy(("127.0.0.1",))
        )
        result = await _send(channel, "http://127.0.0.1:9/hook")  # nothing listens on 9
    assert (result.ok, result.retryable, result.detail) == (False, True, "connection failed")
