"""Who hears about a home, on which channels, in which language. Pure values.

A home's routing lists its contacts by role: the resident (reached only by the voice
check-in call), primary and backup advisors, the supervisor (street office), family in
order, the emergency step, and the operations desk that receives system problems.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


class Role(enum.StrEnum):
    """A recipient's part in a home's care."""

    RESIDENT = "resident"
    PRIMARY_ADVISOR = "primary_advisor"
    BACKUP_ADVISOR = "backup_advisor"
    SUPERVISOR = "supervisor"
    FAMILY = "family"
    EMERGENCY = "emergency"
    OPERATIONS = "operations"


class ChannelKind(enum.StrEnum):
    """How a message travels."""

    SMS = "sms"
    EMAIL = "email"
    WEBHOOK = "webhook"
    VOICE = "voice"


class Language(enum.StrEnum):
    """The languages messages are written in."""

    ZH = "zh-CN"
    EN = "en"

    @classmethod
    def parse(cls, text: str | None) -> Language:
        """A language tag to a Language; Chinese unless it is clearly English."""
        if text and text.lower().startswith("en"):
            return cls.EN
        return cls.ZH


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window, in the home's local time, when only critical messages go out.

    `start` after `end` spans midnight (22:00–07:00).
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("quiet hours need a start different from the end")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are local wall-clock times, without a zone")

    def contains(self, local: time) -> bool:
        """True when the local time of day falls inside the window."""
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, moment: datetime, timezone: str) -> datetime | None:
        """When the window holding `moment` ends (aware UTC), or None if outside it."""
        zone = ZoneInfo(timezone)
        local = moment.astimezone(zone)
        if not self.contains(local.time().replace(tzinfo=None)):
            return None
        end = datetime.combine(local.date(), self.end, zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, zone)
        return end.astimezone(moment.tzinfo)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One address on one channel."""

    channel: ChannelKind
    address: str

    def __post_init__(self) -> None:
        if not self.address.strip():
            raise ValueError("an endpoint needs an address")


@dataclass(frozen=True, slots=True)
class Contact:
    """One person (or desk) to tell, with their endpoints in order of use."""

    role: Role
    position: int
    person_ref: str
    language: Language
    endpoints: tuple[Endpoint, ...]
    quiet_hours: QuietHours | None = None

    def __post_init__(self) -> None:
        if not self.person_ref:
            raise ValueError("a contact needs a person_ref")
        if not self.endpoints:
            raise ValueError("a contact needs at least one endpoint")


SYSTEM_HOME_ID = "*"  # the detectors' pipeline findings, and the operations desk


@dataclass(frozen=True, slots=True)
class HomeRouting:
    """Everything needed to address messages about one home."""

    home_id: str
    timezone: str
    address: str | None  # messages name the home by its address when it has one
    contacts: tuple[Contact, ...]

    def with_role(self, role: Role) -> tuple[Contact, ...]:
        """The contacts of one role, in their order."""
        return tuple(sorted((c for c in self.contacts if c.role is role), key=_position))


def _position(contact: Contact) -> int:
    return contact.position


@dataclass(frozen=True, slots=True)
class Recipient:
    """One contact reached on one endpoint."""

    contact: Contact
    endpoint: Endpoint


def recipients(routing: HomeRouting, roles: Iterable[Role]) -> tuple[Recipient, ...]:
    """The endpoints to use for `roles`, each address once, in role then contact order.

    The resident is reached only by the check-in call; everyone else by every endpoint
    they have except voice (the voice gateway places check-in calls, nothing else).
    """
    seen: set[tuple[ChannelKind, str]] = set()
    out: list[Recipient] = []
    for role in roles:
        for contact in routing.with_role(role):
            for endpoint in contact.endpoints:
                is_voice = endpoint.channel is ChannelKind.VOICE
                if is_voice != (role is Role.RESIDENT):
                    continue
                key = (endpoint.channel, endpoint.address)
                if key in seen:  # the backup advisor may also be family; one message
                    continue
                seen.add(key)
                out.append(Recipient(contact, endpoint))
    return tuple(out)
