"""Signed webhooks: a JSON POST with an HMAC-SHA256 signature over timestamp and body.

Headers: `X-Eldercare-Timestamp` (unix seconds), `X-Eldercare-Signature: sha256=<hex>`
of `<timestamp>.<body>`, and `Idempotency-Key`. `alerts.signing.verify_webhook` is what
a receiver runs.

Webhook URLs are set by supervisors, so each send resolves the host, checks every
address (alerts/channels/outbound.py) and connects to the checked one: the URL's host
goes into the Host header and the TLS name, never back to the resolver.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from alerts.channels.base import DeliveryResult
from alerts.channels.http import post_json
from alerts.channels.outbound import (
    HostUnresolved,
    OutboundPolicy,
    OutboundRefused,
    Resolver,
    resolve_target,
    system_resolver,
)
from alerts.signing import WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER, sign_webhook
from core.clock import Clock
from core.outbox import Delivery


class WebhookChannel:
    """POSTs each message to the recipient's URL, if it leads where it may."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        secret: bytes,
        clock: Clock,
        policy: OutboundPolicy | None = None,
        resolve: Resolver = system_resolver,
    ) -> None:
        self._session = session
        self._secret = secret
        self._clock = clock
        self._policy = policy or OutboundPolicy()
        self._resolve = resolve

    async def send(self, delivery: Delivery) -> DeliveryResult:
        """POST the message, signed, to a checked address."""
        try:
            target = await resolve_target(delivery.address, self._policy, self._resolve)
        except HostUnresolved:
            return DeliveryResult.retry("host does not resolve")  # DNS may come back
        except OutboundRefused:
            return DeliveryResult.permanent("address refused (not public)")
        url = URL(delivery.address)
        pinned = url.with_host(str(target.addresses[0]))
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
            "Host": urlsplit(delivery.address).netloc,  # no user info: split_url refuses it
            WEBHOOK_TIMESTAMP_HEADER: str(timestamp),
            WEBHOOK_SIGNATURE_HEADER: sign_webhook(self._secret, body, timestamp),
            "Idempotency-Key": delivery.idempotency_key,
        }
        tls_name = target.host if target.scheme == "https" else None
        return await post_json(self._session, pinned, body, headers, server_hostname=tls_name)
