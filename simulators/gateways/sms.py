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
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

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

MAX_TEXT_CHARS = 1600  # ten concatenated SMS segments
_FIELDS = frozenset({"to", "text", "idempotency_key"})


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


OUTBOX = web.AppKey("sms_outbox", SmsOutbox)
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


def init_sms_app() -> web.Application:
    """The SMS gateway application."""
    app = web.Application()
    app[OUTBOX] = SmsOutbox()
    app[FAILURES] = FailureSwitch()
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


@asynccontextmanager
async def sms_gateway(host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[SmsGateway]:
    """Run an SMS gateway for the block (port 0: a free one)."""
    app = init_sms_app()
    async with serving(app, host, port) as url:
        yield SmsGateway(url, app)
