"""Which addresses the server may send to for a contact: a webhook URL must lead to a
public address, unless an admin allowed its host (ELDERCARE_WEBHOOK_ALLOWED_HOSTS).

Checked when the URL is set (so a supervisor hears at once) and again at every send
after resolving the name, connecting to the very address that was checked: a name that
resolved to a public address yesterday and to 127.0.0.1 now (DNS rebinding) is refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) → the addresses it resolves to, as text; OSError when it does not.
Resolver = Callable[[str, int], Awaitable[list[str]]]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundRefused(ValueError):
    """A URL the server will not send to; the message says why (no peer's text)."""


class HostUnresolved(OutboundRefused):
    """The URL's host name does not resolve (now: DNS may come back)."""


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IpAddress) -> bool:
    """A globally routable unicast address: not loopback, private, link-local, shared,
    reserved, documentation or multicast, nor an IPv6 form of one."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_v4(address)
        if inner is not None and not is_public(inner):
            return False
    return address.is_global and not address.is_multicast


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """Hosts an admin allowed beyond the public internet: names, addresses, networks."""

    allowed_hosts: tuple[str, ...] = ()

    def name_allowed(self, host: str) -> bool:
        """True when `host` (a name as written in the URL) was allowed by name."""
        return host.lower().rstrip(".") in self.allowed_hosts

    def address_allowed(self, address: IpAddress) -> bool:
        """Public, or inside an allowed address or network."""
        if is_public(address):
            return True
        for entry in self.allowed_hosts:
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue  # a host name
            if address in network:
                return True
        return False


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: its host as written, its port, and the addresses it may use."""

    scheme: str
    host: str
    port: int
    addresses: tuple[IpAddress, ...]


def _literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; OutboundRefused naming what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise OutboundRefused(f"not a usable URL: {error}") from None
    if parts.scheme not in ("http", "https"):
        raise OutboundRefused("use an http:// or https:// URL")
    if not parts.hostname:
        raise OutboundRefused("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused("put no user name or password in the URL")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def system_resolver(host: str, port: int) -> list[str]:
    """The system's answer for `host` (getaddrinfo, in a thread of the event loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # (An IPv6 answer may carry a zone, "fe80::1%eth0": the address is before the %.)
    return [str(info[4][0]).split("%")[0] for info in infos]


async def resolve_target(
    url: str, policy: OutboundPolicy, resolve: Resolver = system_resolver
) -> Target:
    """The URL's addresses, every one of them allowed; OutboundRefused otherwise (also
    when the name does not resolve)."""
    scheme, host, port = split_url(url)
    literal = _literal(host)
    if literal is not None:
        addresses: tuple[IpAddress, ...] = (literal,)
    else:
        try:
            answers = await resolve(host, port)
            found = dict.fromkeys(ipaddress.ip_address(a) for a in answers)
        except (OSError, UnicodeError, ValueError):
            raise HostUnresolved(f"the host {host} does not resolve") from None
        addresses = tuple(found)
        if not addresses:
            raise HostUnresolved(f"the host {host} does not resolve")
    if literal is None and policy.name_allowed(host):
        return Target(scheme, host, port, addresses)
    refused = [a for a in addresses if not policy.address_allowed(a)]
    if refused:
        # Any refused address refuses the host: a name may not mix public and internal.
        raise OutboundRefused(
            f"{host} leads to {refused[0]}, which is not a public address; an admin can"
            " allow the host in ELDERCARE_WEBHOOK_ALLOWED_HOSTS"
        )
    return Target(scheme, host, port, addresses)
