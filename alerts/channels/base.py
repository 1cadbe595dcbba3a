"""The channel interface: `async def send(delivery) -> DeliveryResult`, and its values.

A channel never raises for a failed delivery; it says whether a retry can help. The
dispatcher still guards against one that does, so a bug in a channel costs one attempt,
not the dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.outbox import Delivery

# HTTP statuses that mean "try again later" rather than "this request is wrong".
RETRYABLE_HTTP_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What came of one attempt."""

    ok: bool
    retryable: bool = True
    detail: str = ""
    status_code: int | None = None
    provider_ref: str | None = None  # the gateway's message or call id

    @classmethod
    def sent(
        cls, provider_ref: str | None = None, status_code: int | None = None
    ) -> DeliveryResult:
        """Accepted by the next hop."""
        return cls(True, False, "", status_code, provider_ref)

    @classmethod
    def retry(cls, detail: str, status_code: int | None = None) -> DeliveryResult:
        """Failed in a way a later attempt may not (timeouts, 5xx, refused connections)."""
        return cls(False, True, detail, status_code)

    @classmethod
    def permanent(cls, detail: str, status_code: int | None = None) -> DeliveryResult:
        """Failed in a way no retry will fix (a rejected address, a 4xx)."""
        return cls(False, False, detail, status_code)


def http_category(status: int) -> str:
    """A short name of our own for an HTTP status (never the peer's text)."""
    if 300 <= status < 400:
        return "redirect refused"
    if status in (401, 403):
        return "not authorised"
    if status in RETRYABLE_HTTP_STATUSES:
        return "try later"
    if 400 <= status < 500:
        return "rejected"
    if status >= 500:
        return "server error"
    return "unexpected status"


def http_result(status: int, provider_ref: str | None = None) -> DeliveryResult:
    """The result of an HTTP exchange by its status code."""
    if 200 <= status < 300:
        return DeliveryResult.sent(provider_ref, status)
    detail = f"HTTP {status} ({http_category(status)})"
    if status >= 500 or status in RETRYABLE_HTTP_STATUSES:
        return DeliveryResult.retry(detail, status)
    return DeliveryResult.permanent(detail, status)


class Channel(Protocol):
    """Anything that can deliver a message."""

    async def send(self, delivery: Delivery) -> DeliveryResult:
        """Try once to deliver; never raise for a delivery failure."""
        ...
