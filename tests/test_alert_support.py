"""Real peers on loopback for the alert tests (no tests here; the test modules import it).

- `Gateway`: an aiohttp server speaking the SMS and voice gateway protocol
  (`POST /v1/messages`, `POST /v1/calls`), deduplicating by idempotency key as a real
  provider does, able to fail (`fail_status`) or to hang after accepting (`hang`); it
  posts check-in answers back to the callback URL, signed.
- `SmtpServer`: aiosmtpd in the test's event loop, keeping every message.
- `WebhookReceiver`: an aiohttp server verifying our webhook signatures.
- `AlertWorld`: a pool, a ManualClock, the service, sweeper and dispatcher, and helpers
  to register a home with its contacts.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from alerts.callbacks import add_voice_callback
from alerts.channels.base import Channel
from alerts.channels.email import EmailChannel
from alerts.channels.outbound import OutboundPolicy
from alerts.channels.sms import SmsChannel
from alerts.channels.voice import VoiceChannel
from alerts.channels.webhook import WebhookChannel
from alerts.config import AlertConfig, SmtpTarget
from alerts.dispatcher import DispatchConfig, Dispatcher
from alerts.service import AlertService
from alerts.signing import (
    CALLBACK_SIGNATURE_HEADER,
    WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_TIMESTAMP_HEADER,
    sign_body,
    verify_webhook,
)
from alerts.sweeper import Sweeper
from core.clock import ManualClock
from core.contacts import ChannelKind, Contact, Endpoint, Language, QuietHours, Role
from core.kinds import Category, Severity
from detectors.findings import Finding
from storage.alerts_routing import put_contact

CALLBACK_SECRET = b"callback-secret-0123456789"
WEBHOOK_SECRET = b"webhook-secret-0123456789"
# 09:00 on a Monday in Shanghai: daytime, outside anyone's quiet hours.
START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
HOME = "home-1"


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


class Gateway:
    """SMS and voice gateway stand-in: the protocol, over a real socket."""

    def __init__(self) -> None:
        self.messages: dict[str, dict[str, Any]] = {}  # idempotency key → first body
        self.calls: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (path, body), every one
        self.fail_status: int | None = None
        self.hang: asyncio.Event | None = None  # accept, then hold the answer back
        self.received = asyncio.Event()
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Listen on loopback."""
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/calls", self._calls)
        self._runner, self.base_url = await _serve(app)
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        """Stop listening, releasing any held answer first."""
        if self.hang is not None:
            self.hang.set()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _accept(
        self, request: web.Request, store: dict[str, dict[str, Any]], fields: set[str], ref: str
    ) -> web.Response:
        body = await request.json()
        self.requests.append((request.path, body))
        if set(body) != fields:
            return web.json_response({"error": f"expected fields {sorted(fields)}"}, status=400)
        if self.fail_status is not None:
            return web.json_response({"error": "unavailable"}, status=self.fail_status)
        key = body["idempotency_key"]
        store.setdefault(key, body)  # a repeated key is accepted again, never sent twice
        self.received.set()
        if self.hang is not None:
            await self.hang.wait()
        return web.json_response({ref: f"{ref}-{list(store).index(key) + 1}"}, status=202)

    async def _messages(self, request: web.Request) -> web.Response:
        return await self._accept(request, self.messages, {"to", "text", "idempotency_key"}, "id")

    async def _calls(self, request: web.Request) -> web.Response:
        fields = {"to", "script", "language", "callback_url", "idempotency_key"}
        return await self._accept(request, self.calls, fields, "call_id")

    def texts_to(self, number: str) -> list[str]:
        """Every distinct SMS text sent to `number`."""
        return [m["text"] for m in self.messages.values() if m["to"] == number]

    async def answer(self, key: str, result: str, secret: bytes = CALLBACK_SECRET) -> int:
        """Post a check-in answer to the call's callback URL, signed; returns the status."""
        call = self.calls[key]
        body = json.dumps({"call_id": "c-1", "result": result, "idempotency_key": key}).encode()
        assert self._session is not None
        headers = {CALLBACK_SIGNATURE_HEADER: sign_body(secret, body)}
        async with self._session.post(call["callback_url"], data=body, headers=headers) as resp:
            return resp.status


class _MailHandler:
    def __init__(self, inbox: list[EmailMessage]) -> None:
        self._inbox = inbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._inbox.append(message)
        return "250 OK"


@asynccontextmanager
async def smtp_server() -> AsyncIterator[tuple[SmtpTarget, list[EmailMessage]]]:
    """A real SMTP server on loopback, in this event loop; yields its target and inbox."""
    inbox: list[EmailMessage] = []
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(_MailHandler(inbox), hostname="localhost", loop=loop), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    try:
        yield SmtpTarget("127.0.0.1", port), inbox
    finally:
        server.close()
        await server.wait_closed()


class WebhookReceiver:
    """Receives webhooks and checks each signature with the receiver's own routine."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.received: list[tuple[bool, dict[str, Any], Mapping[str, str]]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on loopback."""
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner, base = await _serve(app)
        self.url = base + "/hook"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        valid = verify_webhook(
            WEBHOOK_SECRET,
            body,
            request.headers.get(WEBHOOK_TIMESTAMP_HEADER),
            request.headers.get(WEBHOOK_SIGNATURE_HEADER),
            self.clock.now(),
        )
        self.received.append((valid, json.loads(body), dict(request.headers)))
        return web.json_response({"ok": valid}, status=200 if valid else 401)


@dataclass
class AlertWorld:
    """Everything an alert test drives: the clock, the service, sweeper and dispatcher."""

    pool: asyncpg.Pool
    clock: ManualClock
    config: AlertConfig
    service: AlertService
    sweeper: Sweeper
    dispatcher: Dispatcher
    gateway: Gateway
    inbox: list[EmailMessage]
    webhooks: WebhookReceiver
    channels: dict[ChannelKind, Channel] = field(default_factory=dict)

    async def advance(self, **delta: float) -> None:
        """Move the clock on, then let the sweeper and dispatcher do what is due."""
        self.clock.advance(timedelta(**delta))
        await self.sweeper.sweep_once()
        await self.dispatcher.dispatch_once()

    async def deliveries(self, **where: Any) -> list[dict[str, Any]]:
        """Deliveries (optionally filtered by column values), oldest first."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM alert_deliveries ORDER BY id")
        return [dict(r) for r in rows if all(r[k] == v for k, v in where.items())]


def finding(
    kind: str = "motion_inactivity",
    category: Category = Category.INACTIVITY,
    severity: Severity = Severity.HIGH,
    at: datetime = START,
    clears: bool = False,
    home_id: str = HOME,
) -> Finding:
    """A detector finding for the test home."""
    return Finding(home_id, category, kind, severity, at, f"{kind} seen by the test", clears)


def smoke(at: datetime = START) -> Finding:
    """The smoke detector's alarm."""
    return finding("smoke_alarm", Category.SMOKE, Severity.CRITICAL, at)


async def register_home(
    conn: asyncpg.Connection,
    home_id: str = HOME,
    *,
    family_quiet: QuietHours | None = None,
    emergency_webhook: str | None = None,
) -> None:
    """A home in Shanghai with a resident, two advisors, a supervisor, two family members,
    and the operations desk; Chinese for staff, English for the first family member."""
    await conn.execute(
        "INSERT INTO homes (id, timezone, address) VALUES ($1, 'Asia/Shanghai', '幸福路 8 号')",
        home_id,
    )
    await conn.execute(
        "INSERT INTO residents (home_id, display_name, language, phone)"
        " VALUES ($1, 'resident', 'zh-CN', '+8613800000000')",
        home_id,
    )
    zh, en, sms, mail = Language.ZH, Language.EN, ChannelKind.SMS, ChannelKind.EMAIL
    contacts = [
        Contact(Role.PRIMARY_ADVISOR, 0, "advisor-wang", zh, (Endpoint(sms, "+8613811111111"),)),
        Contact(Role.BACKUP_ADVISOR, 0, "advisor-li", zh, (Endpoint(sms, "+8613822222222"),)),
        Contact(Role.SUPERVISOR, 0, "office-east", zh, (Endpoint(mail, "office@example.org"),)),
        Contact(
            Role.FAMILY,
            0,
            "family-1",
            en,
            (Endpoint(sms, "+447700900001"), Endpoint(mail, "son@example.org")),
            family_quiet,
        ),
        Contact(Role.FAMILY, 1, "family-2", zh, (Endpoint(sms, "+8613833333333"),), family_quiet),
    ]
    if emergency_webhook:
        contacts.append(
            Contact(
                Role.EMERGENCY,
                0,
                "dispatch-centre",
                zh,
                (Endpoint(ChannelKind.WEBHOOK, emergency_webhook),),
            )
        )
    for contact in contacts:
        await put_contact(conn, home_id, contact)
    await put_contact(
        conn,
        "*",
        Contact(Role.OPERATIONS, 0, "ops-desk", en, (Endpoint(mail, "ops@example.org"),)),
    )


@asynccontextmanager
async def alert_world(
    db_url: str,
    config: AlertConfig | None = None,
    dispatch: DispatchConfig | None = None,
    start: datetime = START,
) -> AsyncIterator[AlertWorld]:
    """A running callback server, gateway, SMTP server and webhook receiver, and the
    alert service wired to them over one pool."""
    config = config or AlertConfig()
    clock = ManualClock(start)
    pool = await asyncpg.create_pool(db_url, min_size=1, max_size=6)
    gateway = Gateway()
    webhooks = WebhookReceiver(clock)
    service = AlertService(pool, clock, config)
    callback_app = web.Application()
    add_voice_callback(callback_app, service, CALLBACK_SECRET)
    session = aiohttp.ClientSession()
    callback_runner = None
    try:
        await gateway.start()
        await webhooks.start()
        callback_runner, callback_base = await _serve(callback_app)
        async with smtp_server() as (smtp, inbox):
            channels: dict[ChannelKind, Channel] = {
                ChannelKind.SMS: SmsChannel(session, gateway.base_url, token="t0ken"),
                ChannelKind.VOICE: VoiceChannel(
                    session, gateway.base_url, callback_base + "/callbacks/voice"
                ),
                ChannelKind.EMAIL: EmailChannel(smtp, "alerts@example.org", clock),
                ChannelKind.WEBHOOK: WebhookChannel(
                    session, WEBHOOK_SECRET, clock, OutboundPolicy(("127.0.0.1",))
                ),
            }
            dispatcher = Dispatcher(pool, clock, channels, config, dispatch)
            yield AlertWorld(
                pool,
                clock,
                config,
                service,
                Sweeper(pool, clock, config),
                dispatcher,
                gateway,
                inbox,
                webhooks,
                channels,
            )
    finally:
        await session.close()
        if callback_runner is not None:
            await callback_runner.cleanup()
        await webhooks.stop()
        await gateway.stop()
        await pool.close()


@asynccontextmanager
async def served_service(
    db_url: str, clock: ManualClock, config: AlertConfig, secret: bytes
) -> AsyncIterator[tuple[AlertService, asyncpg.Pool, str]]:
    """The alert service over a pool of its own, its signed callback routes served on a
    free loopback port: (service, pool, base URL of the callbacks)."""
    pool = await asyncpg.create_pool(db_url, min_size=1, max_size=4)
    service = AlertService(pool, clock, config)
    app = web.Application()
    add_voice_callback(app, service, secret)
    runner = None
    try:
        runner, base_url = await _serve(app)
        yield service, pool, base_url
    finally:
        if runner is not None:
            await runner.cleanup()
        await pool.close()


def local(hour: int, minute: int = 0, day: int = 5) -> datetime:
    """A Shanghai wall-clock time on January `day` 2026, as aware UTC."""
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


QUIET_NIGHT = QuietHours(time(22, 0), time(7, 0))
