"""Calls through a voice gateway: the resident's check-in call, and the escalation call to
an advisor on duty who asked to be phoned (the script comes with the delivery).

`POST {base}/v1/calls {"to", "script", "language", "callback_url", "idempotency_key"}`
→ 202 `{"call_id": ...}`. The gateway later posts the answer to `callback_url`
(`alerts.callbacks`), signed, carrying the same idempotency key.
"""

from __future__ import annotations

import json

import aiohttp

from alerts.channels.base import DeliveryResult
from alerts.channels.http import bearer, post_json
from alerts.templates import checkin_script
from core.outbox import Delivery


class VoiceChannel:
    """Places calls (check-in and escalation)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        callback_url: str,
        token: str | None = None,
    ) -> None:
        self._session = session
        self._url = base_url.rstrip("/") + "/v1/calls"
        self._callback_url = callback_url
        self._headers = bearer(token)

    async def send(self, delivery: Delivery) -> DeliveryResult:
        """Ask the gateway to place the call."""
        script = delivery.payload.get("script") or checkin_script(delivery.language)
        body = json.dumps(
            {
                "to": delivery.address,
                "script": script,
                "language": delivery.language.value,
                "callback_url": self._callback_url,
                "idempotency_key": delivery.idempotency_key,
            },
            ensure_ascii=False,
        ).encode()
        return await post_json(self._session, self._url, body, self._headers, ref_field="call_id")
