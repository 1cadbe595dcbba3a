"""One JSON POST with a result instead of an exception: shared by the HTTP channels."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from alerts.channels.base import DeliveryResult, http_result

# A gateway that has not answered in this long is treated as down for this attempt;
# the dispatcher's own timeout (longer) is the backstop.
HTTP_TIMEOUT_S = 10.0
MAX_DETAIL_CHARS = 200  # of a gateway's error body kept in the attempt record


async def post_json(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    ref_field: str | None = None,
    timeout_s: float = HTTP_TIMEOUT_S,
) -> DeliveryResult:
    """POST `body` (JSON bytes); the gateway's `ref_field` from the answer is the reference."""
    all_headers = {"Content-Type": "application/json", **headers}
    try:
        async with session.post(
            url, data=body, headers=all_headers, timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as response:
            text = await response.text()
            ref = _field(text, ref_field) if ref_field else None
            return http_result(response.status, text[:MAX_DETAIL_CHARS], ref)
    except TimeoutError:
        return DeliveryResult.retry(f"no answer within {timeout_s} s")
    except aiohttp.ClientError as exc:
        return DeliveryResult.retry(f"{type(exc).__name__}: {exc}"[:MAX_DETAIL_CHARS])


def _field(text: str, name: str) -> str | None:
    try:
        value: Any = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, dict) and value.get(name) is not None:
        return str(value[name])
    return None


def bearer(token: str | None) -> dict[str, str]:
    """An Authorization header for a gateway token, or none."""
    return {"Authorization": f"Bearer {token}"} if token else {}
