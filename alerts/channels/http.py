"""One JSON POST with a result instead of an exception: shared by the HTTP channels.

What comes back is a status and a short category of our own ("HTTP 503 (server error)",
"timeout", "connection failed"), never the peer's text: the result is shown to staff,
and a peer's answer could carry anything (an internal page, another system's data).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp
from yarl import URL

from alerts.channels.base import DeliveryResult, http_result

# A gateway that has not answered in this long is treated as down for this attempt;
# the dispatcher's own timeout (longer) is the backstop.
HTTP_TIMEOUT_S = 10.0
# Read at most this much of an answer (for the gateway's reference in it).
MAX_ANSWER_BYTES = 64 * 1024


async def post_json(
    session: aiohttp.ClientSession,
    url: str | URL,
    body: bytes,
    headers: Mapping[str, str],
    ref_field: str | None = None,
    timeout_s: float = HTTP_TIMEOUT_S,
    server_hostname: str | None = None,
) -> DeliveryResult:
    """POST `body` (JSON bytes); the gateway's `ref_field` from the answer is the reference.

    Redirects are not followed: a POST sent on elsewhere could reach an address nobody
    checked. `server_hostname` is the TLS name when `url` names an address.
    """
    all_headers = {"Content-Type": "application/json", **headers}
    try:
        async with session.post(
            url,
            data=body,
            headers=all_headers,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            allow_redirects=False,
            server_hostname=server_hostname,
        ) as response:
            ref = None
            if ref_field and 200 <= response.status < 300:
                ref = _field(await response.content.read(MAX_ANSWER_BYTES), ref_field)
            return http_result(response.status, ref)
    except TimeoutError:
        return DeliveryResult.retry(f"timeout (no answer within {timeout_s:g} s)")
    except aiohttp.ClientSSLError:
        return DeliveryResult.retry("TLS handshake or certificate failed")
    except aiohttp.ClientConnectorError:
        return DeliveryResult.retry("connection failed")
    except aiohttp.ServerDisconnectedError:
        return DeliveryResult.retry("disconnected before answering")
    except aiohttp.ClientError as exc:
        return DeliveryResult.retry(f"request failed ({type(exc).__name__})")


def _field(raw: bytes, name: str) -> str | None:
    try:
        value: Any = json.loads(raw)
    except ValueError:
        return None
    if isinstance(value, dict) and value.get(name) is not None:
        return str(value[name])[:200]
    return None


def bearer(token: str | None) -> dict[str, str]:
    """An Authorization header for a gateway token, or none."""
    return {"Authorization": f"Bearer {token}"} if token else {}
