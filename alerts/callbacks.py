"""The gateways' callbacks: aiohttp handlers that check the signature, validate the body
and hand it to the AlertService.

Voice: `{"call_id": str, "result": "fine" | "help" | "no_answer" | "answered",
"idempotency_key": str[, "digits": "1"]}`; "answered" carries the keys pressed (DTMF). For
the resident's check-in call 1 is fine and 2 help (any other key: no answer); for an
advisor's escalation call 1 acknowledges and 3 passes it on, as that advisor.
SMS replies: `{"message_id": str, "from": "+86...", "text": str}` (alerts/replies.py says
what a reply may ask); the answer `{"status": ..., "reply": "..."}` carries the text the
gateway sends back to the sender. Both are signed `X-Signature: sha256=<hmac hex of the
body>` with the same shared secret. A repeated callback is accepted and changes nothing,
so a gateway may retry freely.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from alerts.checkin import CheckinResult
from alerts.service import AlertService
from alerts.signing import CALLBACK_SIGNATURE_HEADER, verify_body
from core.contact_points import phone_number
from storage.alerts_outbox import ReplyStatus

VOICE_CALLBACK_PATH = "/callbacks/voice"
SMS_CALLBACK_PATH = "/callbacks/sms"
MAX_CALLBACK_BYTES = 4096
MAX_CALL_ID_CHARS = 128
MAX_REPLY_CHARS = 1600


class CallbackError(ValueError):
    """A callback body we cannot use."""


DIGITS = re.compile(r"[0-9*#]{1,16}")
CHECKIN_KEYS = {"1": CheckinResult.FINE, "2": CheckinResult.HELP}


def parse_callback(body: bytes) -> tuple[str, str, CheckinResult, str | None]:
    """(idempotency_key, call_id, result, digits) from a callback body, or CallbackError;
    a key press ("answered") is also given as the check-in result its key means."""
    try:
        obj: Any = json.loads(body)
    except ValueError as exc:
        raise CallbackError("body is not JSON") from exc
    if not isinstance(obj, dict):
        raise CallbackError("body must be a JSON object")
    key, call_id, result = obj.get("idempotency_key"), obj.get("call_id"), obj.get("result")
    digits = obj.get("digits")
    if digits is not None and (not isinstance(digits, str) or not DIGITS.fullmatch(digits)):
        raise CallbackError("digits must be 1 to 16 of 0-9, * and #")
    try:
        key = str(uuid.UUID(str(key)))
    except ValueError:
        raise CallbackError("idempotency_key must be a UUID") from None
    if not isinstance(call_id, str) or not 0 < len(call_id) <= MAX_CALL_ID_CHARS:
        raise CallbackError(f"call_id must be a string of 1 to {MAX_CALL_ID_CHARS} characters")
    if result == "answered":
        if digits is None:
            raise CallbackError("an answered call needs its digits")
        return key, call_id, CHECKIN_KEYS.get(digits, CheckinResult.NO_ANSWER), digits
    try:
        return key, call_id, CheckinResult(str(result)), digits
    except ValueError:
        raise CallbackError("result must be fine, help, no_answer or answered") from None


def parse_sms_reply(body: bytes) -> tuple[str, str, str]:
    """(message_id, sender, text) from an inbound SMS callback body, or CallbackError."""
    try:
        obj: Any = json.loads(body)
    except ValueError as exc:
        raise CallbackError("body is not JSON") from exc
    if not isinstance(obj, dict):
        raise CallbackError("body must be a JSON object")
    message_id, sender, text = obj.get("message_id"), obj.get("from"), obj.get("text")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_CALL_ID_CHARS:
        raise CallbackError(f"message_id must be a string of 1 to {MAX_CALL_ID_CHARS} characters")
    if not isinstance(text, str) or len(text) > MAX_REPLY_CHARS:
        raise CallbackError(f"text must be a string of at most {MAX_REPLY_CHARS} characters")
    try:
        return message_id, phone_number(str(sender)), text
    except ValueError:
        raise CallbackError("from must be a phone number in E.164 form") from None


async def _signed_body(request: web.Request, secret: bytes) -> bytes | web.Response:
    if request.content_length is not None and request.content_length > MAX_CALLBACK_BYTES:
        return web.json_response({"error": "body too large"}, status=413)
    body = await request.content.read(MAX_CALLBACK_BYTES + 1)
    if len(body) > MAX_CALLBACK_BYTES:
        return web.json_response({"error": "body too large"}, status=413)
    if not verify_body(secret, body, request.headers.get(CALLBACK_SIGNATURE_HEADER)):
        return web.json_response({"error": "bad signature"}, status=401)
    return body


def sms_reply_handler(
    service: AlertService, secret: bytes
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler for SMS_CALLBACK_PATH: an advisor's reply to an alert SMS."""

    async def handle(request: web.Request) -> web.Response:
        body = await _signed_body(request, secret)
        if isinstance(body, web.Response):
            return body
        try:
            message_id, sender, text = parse_sms_reply(body)
        except CallbackError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        receipt = await service.record_sms_reply(message_id, sender, text)
        return web.json_response({"status": receipt.outcome.value, "reply": receipt.reply})

    return handle


def voice_callback_handler(
    service: AlertService, secret: bytes
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler for VOICE_CALLBACK_PATH, bound to a service and the shared secret."""

    async def handle(request: web.Request) -> web.Response:
        body = await _signed_body(request, secret)
        if isinstance(body, web.Response):
            return body
        try:
            key, call_id, result, digits = parse_callback(body)
        except CallbackError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        receipt = await service.record_checkin_answer(key, call_id, result)
        if receipt.status is not ReplyStatus.UNKNOWN:
            return web.json_response({"status": receipt.status.value})
        call = await service.record_key_press(key, digits)  # an advisor's escalation call
        if call.status is ReplyStatus.UNKNOWN:
            return web.json_response({"error": "unknown call"}, status=404)
        outcome = call.outcome.value if call.outcome else None
        return web.json_response({"status": call.status.value, "outcome": outcome})

    return handle


def add_voice_callback(app: web.Application, service: AlertService, secret: bytes) -> None:
    """Mount the gateways' callback routes (voice answers, SMS replies) on an application."""
    app.router.add_post(VOICE_CALLBACK_PATH, voice_callback_handler(service, secret))
    app.router.add_post(SMS_CALLBACK_PATH, sms_reply_handler(service, secret))
