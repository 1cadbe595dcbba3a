"""A voice-call gateway stand-in: "calls" a resident and posts the answer to a signed webhook.

HTTP API (JSON in and out):

    POST /v1/calls  {"to": "+8613800138000", "script": "...", "language": "zh-CN" | "en",
                     "callback_url": "http://...", "idempotency_key": "..."}
        202 {"call_id": "call-000001", "status": "queued"}
        The same idempotency key again with the same call: 202 with the same call_id, and
        no second call. With a different call: 409, field "idempotency_key". Bad input:
        400 {"error": {"field": "language", "message": "..."}}; unknown fields are refused.
    After `answer_delay_s` the gateway POSTs to callback_url
        {"call_id": "...", "result": "fine" | "help" | "no_answer" | "answered",
         "idempotency_key": "...", "to": "...", "sent_at": <Unix seconds>}
        ("answered" when the callee pressed keys: then also "digits": "1")
        signed as `simulators.gateways.signing` describes (X-Signature: sha256=<hex
        HMAC-SHA256 of the body>, X-Signature-Timestamp: sent_at) with the secret given
        at start-up. A non-2xx answer or a network error is retried with backoff, up to
        CALLBACK_ATTEMPTS times; every attempt is signed afresh (a new sent_at).
    GET  /v1/calls   200 {"calls": [{...the call..., "result", "callback_status":
                      "pending" | "delivered" | "failed", "callback_attempts"}, ...]}
    POST /control/answers {"+8613800138000": "help", "+8613900000001": "press:1",
                           "default": "no_answer"}
        what the simulated callees answer (press:<keys> is a key press, DTMF): per
        number, else the default (initially
        "fine"); merged into the current table; the answer is looked up when the call is made.
    POST /control/fail {"status": 503, "count": 3[, "retry_after_s": 1]}
        the next `count` POST /v1/calls answer `status`; nothing is queued.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import re
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from core.backoff import Backoff
from simulators.gateways.common import (
    PHONE_PATTERN,
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

ANSWERS = ("fine", "help", "no_answer")
KEY_PRESS = re.compile(r"press:[0-9*#]{1,16}")
LANGUAGES = ("zh-CN", "en")
MAX_SCRIPT_CHARS = 2000
DEFAULT_ANSWER_DELAY_SECONDS = 1.0
CALLBACK_ATTEMPTS = 5
CALLBACK_TIMEOUT_SECONDS = 5.0
CALLBACK_RETRY_BASE_SECONDS = 0.2  # short: the stand-in runs in tests
CALLBACK_RETRY_CAP_SECONDS = 5.0
# Calls waiting for their callback; beyond it the gateway answers 503, like a busy provider.
MAX_PENDING_CALLS = 1000
_FIELDS = frozenset({"to", "script", "language", "callback_url", "idempotency_key"})


@dataclass(frozen=True, slots=True)
class VoiceCall:
    """One call and what became of it."""

    call_id: str
    to: str
    script: str
    language: str
    callback_url: str
    idempotency_key: str
    received_at: str  # RFC 3339, UTC
    result: str | None = None  # decided when the call is made
    callback_status: str = "pending"  # pending, delivered or failed
    callback_attempts: int = 0

    def same_request(self, other: VoiceCall) -> bool:
        """Whether two calls ask for the same thing (an idempotent repeat)."""
        fields = ("to", "script", "language", "callback_url")
        return all(getattr(self, f) == getattr(other, f) for f in fields)


class AnswerBook:
    """What each simulated resident says when called."""

    def __init__(self, default: str = "fine") -> None:
        self.default = default
        self.table: dict[str, str] = {}

    def update(self, answers: Mapping[str, str]) -> None:
        """Merge `{number or "default": answer}` after checking every entry."""
        for number, answer in answers.items():
            if answer not in ANSWERS and not KEY_PRESS.fullmatch(answer):
                raise InputError(
                    number, f"answer must be one of {', '.join(ANSWERS)} or press:<keys>"
                )
            if number != "default" and not PHONE_PATTERN.fullmatch(number):
                raise InputError(number, "keys must be E.164 numbers or 'default'")
        for number, answer in answers.items():
            if number == "default":
                self.default = answer
            else:
                self.table[number] = answer

    def answer_for(self, number: str) -> str:
        """The answer of the resident at `number`."""
        return self.table.get(number, self.default)


class Dialer:
    """Places calls: after the delay, decides the answer and delivers the signed callback.

    Each pending call is a task held here and cancelled when the gateway stops.
    """

    def __init__(self, secret: bytes, answer_delay_s: float, answers: AnswerBook) -> None:
        self.calls: dict[str, VoiceCall] = {}
        self._by_key: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._secret = secret
        self._delay_s = answer_delay_s
        self._answers = answers
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the HTTP client for callbacks."""
        timeout = aiohttp.ClientTimeout(total=CALLBACK_TIMEOUT_SECONDS)
        self._session = aiohttp.ClientSession(timeout=timeout)

    async def stop(self) -> None:
        """Cancel the calls still pending and close the HTTP client."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def place(self, call: VoiceCall) -> VoiceCall:
        """Queue a call once per idempotency key; the known call for a repeat."""
        known_id = self._by_key.get(call.idempotency_key)
        if known_id is not None:
            known = self.calls[known_id]
            if not known.same_request(call):
                raise InputError("idempotency_key", "key already used for another call", 409)
            return known
        if len(self._tasks) >= MAX_PENDING_CALLS:
            raise InputError(None, "too many calls in progress", 503)
        call = dataclasses.replace(call, call_id=f"call-{next(self._ids):06d}")
        self.calls[call.call_id] = call
        self._by_key[call.idempotency_key] = call.call_id
        task = asyncio.get_running_loop().create_task(
            self._dial(call.call_id), name=f"voice-{call.call_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return call

    def _update(self, call_id: str, **changes: Any) -> VoiceCall:
        call = dataclasses.replace(self.calls[call_id], **changes)
        self.calls[call_id] = call
        return call

    async def _dial(self, call_id: str) -> None:
        await asyncio.sleep(self._delay_s)
        call = self._update(call_id, result=self._answers.answer_for(self.calls[call_id].to))
        fields = {"call_id": call.call_id, "result": call.result,
                  "idempotency_key": call.idempotency_key, "to": call.to}  # fmt: skip
        if call.result and call.result.startswith("press:"):
            fields.update(result="answered", digits=call.result.removeprefix("press:"))
        backoff = Backoff(CALLBACK_RETRY_BASE_SECONDS, CALLBACK_RETRY_CAP_SECONDS)
        assert self._session is not None
        for attempt in range(1, CALLBACK_ATTEMPTS + 1):
            body, headers = signed_callback(self._secret, fields, time.time())
            try:
                async with self._session.post(call.callback_url, data=body, headers=headers) as r:
                    delivered = 200 <= r.status < 300
            except (aiohttp.ClientError, TimeoutError):
                delivered = False
            self._update(call_id, callback_attempts=attempt)
            if delivered:
                self._update(call_id, callback_status="delivered")
                return
            if attempt < CALLBACK_ATTEMPTS:
                await asyncio.sleep(backoff.next_delay_s())
        self._update(call_id, callback_status="failed")


DIALER = web.AppKey("voice_dialer", Dialer)
ANSWER_BOOK = web.AppKey("voice_answers", AnswerBook)
FAILURES = web.AppKey("voice_failures", FailureSwitch)


def _callback_url(body: dict[str, Any]) -> str:
    value = text_field(body, "callback_url", 2000)
    try:
        url = URL(value)
    except ValueError:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise InputError("callback_url", "callback_url must be an absolute http(s) URL")
    return value


async def place_call(request: web.Request) -> web.Response:
    """POST /v1/calls."""
    failure = request.app[FAILURES].take()
    if failure is not None:
        return failure
    try:
        body = await json_object(request, _FIELDS)
        to = phone_field(body)
        script = text_field(body, "script", MAX_SCRIPT_CHARS)
        language = text_field(body, "language", 8)
        if language not in LANGUAGES:
            raise InputError("language", f"language must be one of {', '.join(LANGUAGES)}")
        call = VoiceCall("", to, script, language, _callback_url(body),
                         idempotency_key_field(body),
                         datetime.now(UTC).isoformat(timespec="milliseconds"))  # fmt: skip
        call = request.app[DIALER].place(call)
    except InputError as error:
        return error_response(error)
    return web.json_response({"call_id": call.call_id, "status": "queued"}, status=202)


async def list_calls(request: web.Request) -> web.Response:
    """GET /v1/calls."""
    return web.json_response({"calls": [asdict(c) for c in request.app[DIALER].calls.values()]})


async def set_answers(request: web.Request) -> web.Response:
    """POST /control/answers."""
    book = request.app[ANSWER_BOOK]
    try:
        body = await json_object(request, None)  # the keys are phone numbers
        if not all(isinstance(v, str) for v in body.values()):
            raise InputError(None, f"answers must be one of {', '.join(ANSWERS)}")
        book.update(body)
    except InputError as error:
        return error_response(error)
    return web.json_response({"answers": book.table, "default": book.default})


def init_voice_app(
    secret: bytes,
    answer_delay_s: float = DEFAULT_ANSWER_DELAY_SECONDS,
    default_answer: str = "fine",
) -> web.Application:
    """The voice-call gateway application; callbacks are signed with `secret`."""
    if not secret:
        raise ValueError("the callback secret must not be empty")
    if default_answer not in ANSWERS:
        raise ValueError(f"default_answer must be one of {', '.join(ANSWERS)}")
    app = web.Application()
    app[ANSWER_BOOK] = AnswerBook(default_answer)
    app[DIALER] = Dialer(secret, answer_delay_s, app[ANSWER_BOOK])
    app[FAILURES] = FailureSwitch()

    async def dialer_lifetime(app: web.Application) -> AsyncIterator[None]:
        await app[DIALER].start()
        yield
        await app[DIALER].stop()

    app.cleanup_ctx.append(dialer_lifetime)
    app.router.add_post("/v1/calls", place_call)
    app.router.add_get("/v1/calls", list_calls)
    app.router.add_post("/control/answers", set_answers)
    app.router.add_post("/control/fail", control_fail_handler(app[FAILURES]))
    return app


@dataclass(frozen=True)
class VoiceGateway:
    """A running voice-call gateway: its base URL, its calls, its scenario."""

    url: str
    app: web.Application

    @property
    def calls(self) -> list[VoiceCall]:
        """Every call placed, in order, with its result and callback state."""
        return list(self.app[DIALER].calls.values())

    def set_answers(self, answers: Mapping[str, str]) -> None:
        """As POST /control/answers: `{number or "default": answer}`."""
        self.app[ANSWER_BOOK].update(answers)

    def fail_next(self, status: int, count: int, retry_after_s: int | None = None) -> None:
        """Answer the next `count` calls with `status` (as POST /control/fail does)."""
        self.app[FAILURES].set(Failure(status, count, retry_after_s))


@asynccontextmanager
async def voice_gateway(
    secret: bytes, *, host: str = "127.0.0.1", port: int = 0,
    answer_delay_s: float = DEFAULT_ANSWER_DELAY_SECONDS, default_answer: str = "fine",
) -> AsyncIterator[VoiceGateway]:  # fmt: skip
    """Run a voice-call gateway for the block (port 0: a free one)."""
    app = init_voice_app(secret, answer_delay_s, default_answer)
    async with serving(app, host, port) as url:
        yield VoiceGateway(url, app)
