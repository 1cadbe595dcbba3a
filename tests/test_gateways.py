"""The SMS and voice-call gateway stand-ins, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from simulators.gateways.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature, verify
from simulators.gateways.sms import sms_gateway
from simulators.gateways.voice import voice_gateway
from tests.ingest_helpers import wait_until
from tests.services import free_ports

SECRET = b"test-callback-secret"
NUMBER = "+8613800138000"


async def _post(session: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with session.post(url, data=data, headers={"Content-Type": "application/json"}) as r:
        return r.status, await r.json()


async def test_sms_idempotency_key_sends_once() -> None:
    async with sms_gateway() as gw, aiohttp.ClientSession() as session:
        body = {"to": NUMBER, "text": "王阿姨家 no water for 12 h", "idempotency_key": "alert-1"}
        first = await _post(session, f"{gw.url}/v1/messages", body)
        again = await _post(session, f"{gw.url}/v1/messages", body)
        assert first == (202, {"id": first[1]["id"], "status": "accepted"})
        assert again == first
        other = await _post(session, f"{gw.url}/v1/messages", {**body, "text": "different"})
        assert other[0] == 409 and other[1]["error"]["field"] == "idempotency_key"
        async with session.get(f"{gw.url}/v1/messages") as r:
            listed = (await r.json())["messages"]
    assert [(m["id"], m["to"], m["text"]) for m in listed] == [
        (first[1]["id"], NUMBER, body["text"])
    ]
    assert len(gw.messages) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "hi", "idempotency_key": "k"}, "to"),
        ({"to": "13800138000", "text": "hi", "idempotency_key": "k"}, "to"),
        ({"to": NUMBER, "text": "", "idempotency_key": "k"}, "text"),
        ({"to": NUMBER, "text": 5, "idempotency_key": "k"}, "text"),
        ({"to": NUMBER, "text": "x" * 1601, "idempotency_key": "k"}, "text"),
        ({"to": NUMBER, "text": "hi"}, "idempotency_key"),
        ({"to": NUMBER, "text": "hi", "idempotency_key": "has space"}, "idempotency_key"),
        ({"to": NUMBER, "text": "hi", "idempotency_key": "k", "from": "x"}, "from"),
        (b"{not json", None),
        ([1, 2], None),
    ],
)
async def test_sms_bad_input_is_a_400_naming_the_field(body: Any, field: str | None) -> None:
    async with sms_gateway() as gw, aiohttp.ClientSession() as session:
        status, answer = await _post(session, f"{gw.url}/v1/messages", body)
    assert status == 400
    assert answer["error"]["field"] == field and answer["error"]["message"]
    assert gw.messages == []


async def test_sms_failure_mode_fails_the_next_requests_then_recovers() -> None:
    body = {"to": NUMBER, "text": "retry me", "idempotency_key": "alert-2"}
    async with sms_gateway() as gw, aiohttp.ClientSession() as session:
        control = await _post(session, f"{gw.url}/control/fail", {"status": 503, "count": 2})
        assert control == (200, {"status": 503, "count": 2})
        async with session.post(f"{gw.url}/v1/messages", json={**body, "retry_after_s": 1}) as r:
            assert r.status == 503  # a failure comes before any validation, like an outage
        assert (await _post(session, f"{gw.url}/v1/messages", body))[0] == 503
        assert (await _post(session, f"{gw.url}/v1/messages", body))[0] == 202
        bad = await _post(session, f"{gw.url}/control/fail", {"status": 200, "count": 1})
        assert bad[0] == 400
    assert [m.idempotency_key for m in gw.messages] == ["alert-2"]


@asynccontextmanager
async def callback_receiver(
    statuses: list[int],
) -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A webhook receiver answering `statuses` in turn (then 200); yields URL and requests."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=statuses.pop(0) if statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/hook", received
    finally:
        await runner.cleanup()


def _call(callback_url: str, key: str, to: str = NUMBER) -> dict[str, str]:
    return {"to": to, "script": "您好，这里是社区养老服务中心。您还好吗？", "language": "zh-CN",
            "callback_url": callback_url, "idempotency_key": key}  # fmt: skip


async def test_voice_call_callback_is_signed_and_carries_the_scenario_answer() -> None:
    async with (
        callback_receiver([500]) as (hook, received),
        voice_gateway(SECRET, answer_delay_s=0.05, default_answer="no_answer") as gw,
        aiohttp.ClientSession() as session,
    ):
        answers = await _post(session, f"{gw.url}/control/answers", {NUMBER: "help"})
        assert answers == (200, {"answers": {NUMBER: "help"}, "default": "no_answer"})
        status, placed = await _post(session, f"{gw.url}/v1/calls", _call(hook, "check-1"))
        assert status == 202 and placed["status"] == "queued"
        again = await _post(session, f"{gw.url}/v1/calls", _call(hook, "check-1"))
        assert again == (202, placed)
        other = await _post(session, f"{gw.url}/v1/calls", _call(hook, "check-2", "+8613900000000"))

        async def delivered() -> bool:
            return all(c.callback_status == "delivered" for c in gw.calls)

        await wait_until(delivered, timeout_s=10, what="both callbacks delivered")
    # The first callback got a 500 and was retried, signed afresh; one call per key.
    assert len(received) == 3 and len(gw.calls) == 2
    by_call = {json.loads(body)["call_id"]: (headers, body) for headers, body in received}
    headers, body = by_call[placed["call_id"]]
    fields = json.loads(body)
    assert fields == {"call_id": placed["call_id"], "result": "help", "idempotency_key": "check-1",
                      "to": NUMBER, "sent_at": int(headers[TIMESTAMP_HEADER])}  # fmt: skip
    assert verify(SECRET, headers, body, time.time())
    assert headers[SIGNATURE_HEADER] == signature(SECRET, body)
    assert json.loads(by_call[other[1]["call_id"]][1])["result"] == "no_answer"
    assert [c.callback_attempts for c in gw.calls] == [2, 1]
    # A changed body, another secret or an old timestamp do not verify.
    assert not verify(SECRET, headers, body.replace(b"help", b"fine"), time.time())
    assert not verify(b"other", headers, body, time.time())
    assert not verify(SECRET, headers, body, time.time() + 3600)
    assert not verify(SECRET, {**headers, TIMESTAMP_HEADER: str(int(time.time()) + 1)}, body,
                      time.time())  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"language": "fr"}, "language"),
        ({"callback_url": "ftp://example.org/x"}, "callback_url"),
        ({"callback_url": "not a url"}, "callback_url"),
        ({"script": ""}, "script"),
        ({"to": "+0123"}, "to"),
    ],
)
async def test_voice_bad_input_is_a_400_naming_the_field(
    change: dict[str, str], field: str
) -> None:
    async with voice_gateway(SECRET) as gw, aiohttp.ClientSession() as session:
        body = {**_call("http://127.0.0.1:1/hook", "k"), **change}
        status, answer = await _post(session, f"{gw.url}/v1/calls", body)
    assert (status, answer["error"]["field"]) == (400, field)
    assert gw.calls == []


async def test_voice_failure_mode_and_bad_answers() -> None:
    async with voice_gateway(SECRET, answer_delay_s=60) as gw, aiohttp.ClientSession() as session:
        await _post(session, f"{gw.url}/control/fail", {"status": 500, "count": 1})
        call = _call("http://127.0.0.1:1/hook", "k")
        assert (await _post(session, f"{gw.url}/v1/calls", call))[0] == 500
        assert (await _post(session, f"{gw.url}/v1/calls", call))[0] == 202
        bad = await _post(session, f"{gw.url}/control/answers", {NUMBER: "maybe"})
        assert bad[0] == 400 and bad[1]["error"]["field"] == NUMBER
        bad = await _post(session, f"{gw.url}/control/answers", {"12345": "fine"})
        assert bad[0] == 400
    # The gateway stopped with a call still waiting: its task was cancelled, not leaked.
    assert [c.callback_status for c in gw.calls] == ["pending"]


# `eldercare gateways` through its own parser (cli.COMMAND_MODULES lists the commands).
_GATEWAYS_MAIN = """
import argparse, sys
from core.settings import Settings
from eldercare.commands import gateways
parser = argparse.ArgumentParser(prog="eldercare")
gateways.add_parser(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.handler(args, Settings.from_env()))
"""


async def test_gateways_command_serves_both_until_interrupted() -> None:
    sms_port, voice_port = free_ports(2)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _GATEWAYS_MAIN, "gateways", "--sms-port", str(sms_port),
        "--voice-port", str(voice_port), "--secret", "s3cret",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        banner = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert f"http://127.0.0.1:{sms_port}/v1/messages" in banner.decode()
        async with aiohttp.ClientSession() as session:
            body = {"to": NUMBER, "text": "hi", "idempotency_key": "cli"}
            assert (await _post(session, f"http://127.0.0.1:{sms_port}/v1/messages", body))[
                0
            ] == 202
            async with session.get(f"http://127.0.0.1:{voice_port}/v1/calls") as r:
                assert await r.json() == {"calls": []}
        proc.send_signal(signal.SIGTERM)  # as `docker stop` does
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_gateways_command_refuses_one_port_for_both() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _GATEWAYS_MAIN, "gateways", "--sms-port", "8025",
        "--voice-port", "8025", stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"must differ" in err
