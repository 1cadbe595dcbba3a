"""Choosing the endpoints to reach for a step of an alert's escalation. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from core.contacts import ChannelKind, HomeRouting, Recipient, Role

# Roles besides the resident that may be phoned (when their contact has a voice endpoint).
CALLED_ROLES = frozenset({Role.PRIMARY_ADVISOR, Role.BACKUP_ADVISOR})


def recipients(routing: HomeRouting, roles: Iterable[Role]) -> tuple[Recipient, ...]:
    """The endpoints to use for `roles`, each address once, in role then contact order.

    The resident is reached only by the check-in call; everyone else by every endpoint
    they have except voice, but for advisors on duty who asked to be phoned too (only
    duty contacts carry a voice endpoint: the escalation call answered with a key press).
    """
    seen: set[tuple[ChannelKind, str]] = set()
    out: list[Recipient] = []
    for role in roles:
        for contact in routing.with_role(role):
            for endpoint in contact.endpoints:
                is_voice = endpoint.channel is ChannelKind.VOICE
                if is_voice != (role is Role.RESIDENT) and role not in CALLED_ROLES:
                    continue
                key = (endpoint.channel, endpoint.address)
                if key in seen:  # the backup advisor may also be family; one message
                    continue
                seen.add(key)
                out.append(Recipient(contact, endpoint))
    return tuple(out)
