"""What both gateway stand-ins share: JSON errors, input checks, failure mode, serving.

Errors are `{"error": {"field": "to" | null, "message": "..."}}` with a 4xx/5xx status,
so a client can tell which field it got wrong without parsing prose.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

PHONE_PATTERN = re.compile(r"\+[1-9][0-9]{6,14}")  # E.164
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII, no spaces
MAX_BODY_BYTES = 64 * 1024


class InputError(Exception):
    """A request we refuse; becomes a JSON error naming the field (None: the whole body)."""

    def __init__(self, field: str | None, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


def error_response(error: InputError) -> web.Response:
    """The JSON error body for a refused request."""
    body = {"error": {"field": error.field, "message": error.message}}
    return web.json_response(body, status=error.status)


async def json_object(request: web.Request, fields: frozenset[str] | None) -> dict[str, Any]:
    """The request body as a JSON object with no fields but `fields` (None: any), or
    InputError."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise InputError(None, f"body larger than {MAX_BODY_BYTES} bytes", 413)
    try:
        body = await request.json()
    except ValueError:
        raise InputError(None, "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InputError(None, "body must be a JSON object")
    if fields is not None and (unknown := sorted(set(body) - fields)):
        raise InputError(unknown[0], f"unknown field {unknown[0]!r}")
    return body


def text_field(body: dict[str, Any], name: str, max_chars: int) -> str:
    """A required non-empty string of at most `max_chars` characters."""
    value = body.get(name)
    if value is None:
        raise InputError(name, f"{name} is required")
    if not isinstance(value, str):
        raise InputError(name, f"{name} must be a string")
    if not value.strip() or len(value) > max_chars:
        raise InputError(name, f"{name} must be 1 to {max_chars} characters")
    return value


def phone_field(body: dict[str, Any], name: str = "to") -> str:
    """A phone number in E.164 form, like +8613800138000."""
    value = text_field(body, name, 16)
    if not PHONE_PATTERN.fullmatch(value):
        raise InputError(name, f"{name} must be an E.164 number like +8613800138000")
    return value


def idempotency_key_field(body: dict[str, Any]) -> str:
    """The client's idempotency key: 1-200 printable ASCII characters."""
    value = text_field(body, "idempotency_key", 200)
    if not IDEMPOTENCY_KEY_PATTERN.fullmatch(value):
        raise InputError("idempotency_key", "idempotency_key must be printable ASCII")
    return value


@dataclass(frozen=True, slots=True)
class Failure:
    """A simulated outage: answer the next `count` API requests with `status`."""

    status: int
    count: int
    retry_after_s: int | None = None

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ValueError("status must be from 400 to 599")
        if self.count < 0:
            raise ValueError("count must not be negative")


class FailureSwitch:
    """Holds the current simulated failure of one gateway (`POST /control/fail`)."""

    def __init__(self) -> None:
        self._failure = Failure(503, 0)

    def set(self, failure: Failure) -> None:
        """Fail the next `failure.count` requests (0 switches failures off)."""
        self._failure = failure

    def take(self) -> web.Response | None:
        """The failure response for this request, if one is due; counts it down."""
        failure = self._failure
        if failure.count <= 0:
            return None
        self._failure = Failure(failure.status, failure.count - 1, failure.retry_after_s)
        headers = (
            {} if failure.retry_after_s is None else {"Retry-After": str(failure.retry_after_s)}
        )
        body = {"error": {"field": None, "message": "simulated failure"}}
        return web.json_response(body, status=failure.status, headers=headers)


def parse_failure(body: dict[str, Any]) -> Failure:
    """`{"status": 503, "count": 3, "retry_after_s": 1}` → Failure, or InputError."""
    values = {}
    for name in ("status", "count", "retry_after_s"):
        value = body.get(name)
        if value is None and name == "retry_after_s":
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(name, f"{name} must be an integer")
        values[name] = value
    try:
        return Failure(**values)
    except ValueError as exc:
        raise InputError(None, str(exc)) from None


def control_fail_handler(switch: FailureSwitch) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`POST /control/fail`: set the failure mode of a gateway."""

    async def handle(request: web.Request) -> web.Response:
        try:
            failure = parse_failure(
                await json_object(request, frozenset({"status", "count", "retry_after_s"}))
            )
        except InputError as error:
            return error_response(error)
        switch.set(failure)
        return web.json_response({"status": failure.status, "count": failure.count})

    return handle


@asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """Serve `app` on host:port (0: any free port) and yield its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()
