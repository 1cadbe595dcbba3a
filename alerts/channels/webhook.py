"""Signed webhooks: a JSON POST with an HMAC-SHA256 signature over timestamp and body.

Headers: `X-Eldercare-Timestamp` (unix seconds), `X-Eldercare-Signature: sha256=<hex>`
of `<timestamp>.<body>`, and `Idempotency-Key`. `alerts.signing.verify_webhook` is what
a receiver runs.
"""

from __future__ import annotations

import json

import aiohttp

from alerts.channels.base import Delivery, DeliveryResult
from alerts.channels.http import post_json
from alerts.signing import WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER, sign_webhook
from core.clock import Clock


class WebhookChannel:
    """POSTs each message to the recipient's URL."""

    def __init__(self, session: aiohttp.ClientSession, secret: bytes, clock: Clock) -> None:
        self._session = session
        self._secret = secret
        self._clock = clock

    async def send(self, delivery: Delivery) -> DeliveryResult:
        """POST the message, signed."""
        body = json.dumps(
            {
                "idempotency_key": delivery.idempotency_key,
                "alert_id": delivery.alert_id,
                "home_id": delivery.home_id,
                "language": delivery.language.value,
                "subject": delivery.subject,
                "text": delivery.text,
            },
            ensure_ascii=False,
        ).encode()
        timestamp = int(self._clock.now().timestamp())
        headers = {
            WEBHOOK_TIMESTAMP_HEADER: str(timestamp),
            WEBHOOK_SIGNATURE_HEADER: sign_webhook(self._secret, body, timestamp),
            "Idempotency-Key": delivery.idempotency_key,
        }
        return await post_json(self._session, delivery.address, body, headers)
