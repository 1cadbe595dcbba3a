"""The voice gateway's answers: an aiohttp handler that checks the signature, validates
the body and hands the answer to the AlertService.

Body: `{"call_id": str, "result": "fine" | "help" | "no_answer", "idempotency_key": str}`,
signed `X-Signature: sha256=<hmac hex of the body>`. A repeated callback is accepted and
changes nothing, so the gateway may retry freely.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from alerts.checkin import CheckinResult
from alerts.service import AlertService
from alerts.signing import CALLBACK_SIGNATURE_HEADER, verify_body
from storage.alerts_outbox import ReplyStatus

VOICE_CALLBACK_PATH = "/callbacks/voice"
MAX_CALLBACK_BYTES = 4096
MAX_CALL_ID_CHARS = 128


class CallbackError(ValueError):
    """A callback body we cannot use."""


def parse_callback(body: bytes) -> tuple[str, str, CheckinResult]:
    """(idempotency_key, call_id, result) from a callback body, or CallbackError."""
    try:
        obj: Any = json.loads(body)
    except ValueError as exc:
        raise CallbackError("body is not JSON") from exc
    if not isinstance(obj, dict):
        raise CallbackError("body must be a JSON object")
    key, call_id, result = obj.get("idempotency_key"), obj.get("call_id"), obj.get("result")
    try:
        key = str(uuid.UUID(str(key)))
    except ValueError:
        raise CallbackError("idempotency_key must be a UUID") from None
    if not isinstance(call_id, str) or not 0 < len(call_id) <= MAX_CALL_ID_CHARS:
        raise CallbackError(f"call_id must be a string of 1 to {MAX_CALL_ID_CHARS} characters")
    try:
        return key, call_id, CheckinResult(str(result))
    except ValueError:
        raise CallbackError("result must be fine, help or no_answer") from None


def voice_callback_handler(
    service: AlertService, secret: bytes
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler for VOICE_CALLBACK_PATH, bound to a service and the shared secret."""

    async def handle(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_CALLBACK_BYTES:
            return web.json_response({"error": "body too large"}, status=413)
        body = await request.content.read(MAX_CALLBACK_BYTES + 1)
        if len(body) > MAX_CALLBACK_BYTES:
            return web.json_response({"error": "body too large"}, status=413)
        if not verify_body(secret, body, request.headers.get(CALLBACK_SIGNATURE_HEADER)):
            return web.json_response({"error": "bad signature"}, status=401)
        try:
            key, call_id, result = parse_callback(body)
        except CallbackError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        receipt = await service.record_checkin_answer(key, call_id, result)
        if receipt.status is ReplyStatus.UNKNOWN:
            return web.json_response({"error": "unknown call"}, status=404)
        return web.json_response({"status": receipt.status.value})

    return handle


def add_voice_callback(app: web.Application, service: AlertService, secret: bytes) -> None:
    """Mount the voice callback route on an application."""
    app.router.add_post(VOICE_CALLBACK_PATH, voice_callback_handler(service, secret))
