"""SMS through a provider-neutral HTTP JSON gateway.

`POST {base}/v1/messages {"to", "text", "idempotency_key"}` → 202 (`{"id": ...}`). The
gateway drops a repeated idempotency key, which is what makes a resend after a crash
deliver once.
"""

from __future__ import annotations

import json

import aiohttp

from alerts.channels.base import DeliveryResult
from alerts.channels.http import bearer, post_json
from core.outbox import Delivery

# Ten concatenated SMS segments: what gateways accept in one message. Longer texts are
# cut (deterministically, so a resend carries the same text under the same key).
MAX_SMS_CHARS = 1600


class SmsChannel:
    """Sends text messages through the SMS gateway."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, token: str | None = None
    ) -> None:
        self._session = session
        self._url = base_url.rstrip("/") + "/v1/messages"
        self._headers = bearer(token)

    async def send(self, delivery: Delivery) -> DeliveryResult:
        """Hand one message to the gateway."""
        body = json.dumps(
            {
                "to": delivery.address,
                "text": _fit(delivery.text),
                "idempotency_key": delivery.idempotency_key,
            },
            ensure_ascii=False,
        ).encode()
        return await post_json(self._session, self._url, body, self._headers, ref_field="id")


def _fit(text: str) -> str:
    return text if len(text) <= MAX_SMS_CHARS else text[: MAX_SMS_CHARS - 1] + "…"
