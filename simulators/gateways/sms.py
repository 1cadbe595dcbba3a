"""An SMS gateway stand-in: accepts messages, remembers them, and can be told to fail.

HTTP API (JSON in and out):

    POST /v1/messages  {"to": "+8613800138000", "text": "...", "idempotency_key": "..."}
        202 {"id": "sms-000001", "status": "accepted"}
        The same idempotency key again with the same message: 202 with the same id; it is
        not sent (or recorded) twice. With a different message: 409, field
        "idempotency_key". Bad input: 400 {"error": {"field": "to", "message": "..."}}
        (`to` E.164; `text` 1-1600 characters; `idempotency_key` 1-200 printable ASCII;
        unknown fields are refused).
    GET  /v1/messages  200 {"messages": [{"id", "to", "text", "idempotency_key",
                                          "received_at"}, ...]}  in order of arrival
    POST /control/fail {"status": 503, "count": 3[, "retry_after_s": 1]}
        the next `count` POST /v1/messages answer `status` (with Retry-After if given),
        accept nothing and consume no idempotency key; count 0 switches it off.

Replies (inbound messages), when started with a secret and an inbound webhook URL:

    POST /v1/inbound   {"from": "+8613800138000", "text": "1"}
        a handset sends `text` to our number: the gateway POSTs
        {"message_id": "in-000001", "from", "text", "sent_at": <Unix seconds>} to the
        inbound webhook, signed as `simulators.gateways.signing` describes (the voice
        gateway's scheme), retrying a failed delivery up to INBOUND_ATTEMPTS times with
        the same message_id. When the webhook answers 2xx with `{"reply": "..."}`, the
        gateway texts that reply back to the sender (it appears in GET /v1/messages).
        200 {"message_id", "callback_status": "delivered" | "failed", "reply"}
    POST /control/inbound {"url": "http://.../callbacks/sms"}  where replies go
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from simulators.gateways.common import (
    Failure,
    FailureSwitch,
    InputError,
    control_fail_handler,
    error_response,
    idempotency_key_field,
    json_object,
    phone_field,
    serving,
    text_field,
)
from simulators.gateways.signing import signed_callback

MAX_TEXT_CHARS = 1600  # ten concatenated SMS segments
_FIELDS = frozenset({"to", "text", "idempotency_key"})
INBOUND_ATTEMPTS = 3
INBOUND_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class SmsRecord:
    """One accepted message."""

    id: str
    to: str
    text: str
    idempotency_key: str
    received_at: str  # RFC 3339, UTC


class SmsOutbox:
    """What the gateway accepted, by idempotency key."""

    def __init__(self) -> None:
        self.messages: list[SmsRecord] = []
        self._by_key: dict[str, SmsRecord] = {}
        self._ids = itertools.count(1)

    def accept(self, to: str, text: str, key: str) -> SmsRecord:
        """Record a message once per key; a key reused for another message is refused."""
        known = self._by_key.get(key)
        if known is not None:
            if (known.to, known.text) != (to, text):
                raise InputError("idempotency_key", "key already used for another message", 409)
            return known
        record = SmsRecord(f"sms-{next(self._ids):06d}", to, text, key,
                           datetime.now(UTC).isoformat(timespec="milliseconds"))  # fmt: skip
        self.messages.append(record)
        self._by_key[key] = record
        return record


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """One message a handset sent us, and what became of its webhook delivery."""

    message_id: str
    sender: str
    text: str
    callback_status: str  # delivered or failed
    reply: str | None


class Inbound:
    """Where replies go and how they are signed; the replies received so far."""

    def __init__(self, secret: bytes | None, url: str | None) -> None:
        self.secret = secret
        self.url = url
        self.received: list[InboundRecord] = []
        self._ids = itertools.count(1)

    def next_id(self) -> str:
        """A fresh gateway message id."""
        return f"in-{next(self._ids):06d}"


OUTBOX = web.AppKey("sms_outbox", SmsOutbox)
INBOUND = web.AppKey("sms_inbound", Inbound)
FAILURES = web.AppKey("sms_failures", FailureSwitch)


async def send_message(request: web.Request) -> web.Response:
    """POST /v1/messages."""
    failure = request.app[FAILURES].take()
    if failure is not None:
        return failure
    try:
        body = await json_object(request, _FIELDS)
        to = phone_field(body)
        text = text_field(body, "text", MAX_TEXT_CHARS)
        key = idempotency_key_field(body)
        record = request.app[OUTBOX].accept(to, text, key)
    except InputError as error:
        return error_response(error)
    return web.json_response({"id": record.id, "status": "accepted"}, status=202)


async def list_messages(request: web.Request) -> web.Response:
    """GET /v1/messages."""
    return web.json_response({"messages": [asdict(m) for m in request.app[OUTBOX].messages]})


async def receive_inbound(request: web.Request) -> web.Response:
    """POST /v1/inbound: a handset's message, handed to our inbound webhook."""
    inbound = request.app[INBOUND]
    try:
        body = await json_object(request, frozenset({"from", "text"}))
        sender = phone_field(body, "from")
        text = text_field(body, "text", MAX_TEXT_CHARS)
        if inbound.secret is None or inbound.url is None:
            raise InputError(None, "no inbound webhook configured", 409)
    except InputError as error:
        return error_response(error)
    message_id = inbound.next_id()
    fields = {"message_id": message_id, "from": sender, "text": text}
    status, reply = "failed", None
    timeout = aiohttp.ClientTimeout(total=INBOUND_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for _ in range(INBOUND_ATTEMPTS):
            payload, headers = signed_callback(inbound.secret, fields, time.time())
            try:
                async with session.post(inbound.url, data=payload, headers=headers) as r:
                    if 200 <= r.status < 300:
                        answer = await r.json(content_type=None)
                        status = "delivered"
                        if isinstance(answer, dict) and isinstance(answer.get("reply"), str):
                            reply = answer["reply"]
                        break
            except (aiohttp.ClientError, TimeoutError, ValueError):
                continue
    if reply:
        request.app[OUTBOX].accept(sender, reply[:MAX_TEXT_CHARS], f"reply-{uuid.uuid4()}")
    inbound.received.append(InboundRecord(message_id, sender, text, status, reply))
    return web.json_response({"message_id": message_id, "callback_status": status, "reply": reply})


async def set_inbound(request: web.Request) -> web.Response:
    """POST /control/inbound: where replies are delivered."""
    try:
        body = await json_object(request, frozenset({"url"}))
        url = text_field(body, "url", 2000)
    except InputError as error:
        return error_response(error)
    request.app[INBOUND].url = url
    return web.json_response({"url": url})


def init_sms_app(secret: bytes | None = None, inbound_url: str | None = None) -> web.Application:
    """The SMS gateway application; replies are signed with `secret` and posted to
    `inbound_url` (both needed for POST /v1/inbound)."""
    app = web.Application()
    app[OUTBOX] = SmsOutbox()
    app[FAILURES] = FailureSwitch()
    app[INBOUND] = Inbound(secret, inbound_url)
    app.router.add_post("/v1/inbound", receive_inbound)
    app.router.add_post("/control/inbound", set_inbound)
    app.router.add_post("/v1/messages", send_message)
    app.router.add_get("/v1/messages", list_messages)
    app.router.add_post("/control/fail", control_fail_handler(app[FAILURES]))
    return app


@dataclass(frozen=True)
class SmsGateway:
    """A running SMS gateway: its base URL and what it received."""

    url: str
    app: web.Application

    @property
    def messages(self) -> list[SmsRecord]:
        """The accepted messages, in order of arrival."""
        return list(self.app[OUTBOX].messages)

    def fail_next(self, status: int, count: int, retry_after_s: int | None = None) -> None:
        """Answer the next `count` sends with `status` (as POST /control/fail does)."""
        self.app[FAILURES].set(Failure(status, count, retry_after_s))

    def texts_to(self, number: str) -> list[str]:
        """The texts accepted for `number`, in order."""
        return [m.text for m in self.messages if m.to == number]

    def send_replies_to(self, url: str) -> None:
        """As POST /control/inbound: deliver replies to `url`."""
        self.app[INBOUND].url = url

    async def reply(self, sender: str, text: str) -> dict[str, object]:
        """A handset at `sender` texts `text` to us, over HTTP as a phone network would."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url + "/v1/inbound", json={"from": sender, "text": text}) as r,
        ):
            answer: dict[str, object] = await r.json()
            return answer


@asynccontextmanager
async def sms_gateway(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    secret: bytes | None = None,
    inbound_url: str | None = None,
) -> AsyncIterator[SmsGateway]:
    """Run an SMS gateway for the block (port 0: a free one)."""
    app = init_sms_app(secret, inbound_url)
    async with serving(app, host, port) as url:
        yield SmsGateway(url, app)
