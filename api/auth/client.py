"""The client's address: the peer's, or the one a trusted reverse proxy forwarded.

X-Forwarded-For is the client's to invent, so it is read only when the peer is one of
the configured proxies (ELDERCARE_API_TRUSTED_PROXIES); then the hops are read from the
right, skipping trusted proxies, and the first other address is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
FORWARDED_FOR = "X-Forwarded-For"


def _address(text: str) -> IpAddress | None:
    text = text.strip()
    if text.startswith("["):  # [v6]:port
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IpAddress | None, proxies: Sequence[IpNetwork]) -> bool:
    return address is not None and any(address in network for network in proxies)


def client_address(request: web.BaseRequest, proxies: Sequence[IpNetwork]) -> str:
    """The address the request came from, as text ("unknown" when there is none)."""
    peer_text = request.remote or "unknown"
    peer = _address(peer_text)
    if not _trusted(peer, proxies):
        return peer_text
    hops = [
        hop for header in request.headers.getall(FORWARDED_FOR, ()) for hop in header.split(",")
    ]
    if not hops:
        return peer_text
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # Something we cannot read stands where the client should be: count the
            # attempt against the proxy rather than trust anything left of it.
            return peer_text
        if not _trusted(address, proxies):
            return str(address)
    first = _address(hops[0])  # every hop is a proxy of ours: the first is the client
    return str(first) if first is not None else peer_text
