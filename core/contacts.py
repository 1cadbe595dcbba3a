"""Who hears about a home, on which channels, in which language. Pure values shared by
the alert stage, its storage and the API.

A home's routing lists its contacts by role: the resident (reached only by the voice
check-in call), primary and backup advisors, the supervisor (street office), family in
order, the emergency step, and the operations desk that receives system problems.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.contact_points import email_address, phone_number, webhook_url


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


# Every address is checked, and kept in one form, wherever it comes from.
ADDRESS_FORMS: dict[ChannelKind, Callable[[str], str]] = {
    ChannelKind.SMS: phone_number,
    ChannelKind.VOICE: phone_number,
    ChannelKind.EMAIL: email_address,
    ChannelKind.WEBHOOK: webhook_url,
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One address on one channel."""

    channel: ChannelKind
    address: str

    def __post_init__(self) -> None:
        if not self.address.strip():
            raise ValueError("an endpoint needs an address")
        check = ADDRESS_FORMS[self.channel]
        if check(self.address) != self.address:  # raises when it is no address at all
            raise ValueError(f"give {self.address!r} as {check(self.address)!r}")


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

    def without_channels(self, channels: Iterable[ChannelKind]) -> HomeRouting:
        """The same routing with no endpoint on `channels` (contacts left with none go)."""
        avoid = frozenset(channels)
        kept = []
        for contact in self.contacts:
            endpoints = tuple(e for e in contact.endpoints if e.channel not in avoid)
            if endpoints:
                kept.append(replace(contact, endpoints=endpoints))
        return replace(self, contacts=tuple(kept))


def _position(contact: Contact) -> int:
    return contact.position


@dataclass(frozen=True, slots=True)
class Recipient:
    """One contact reached on one endpoint."""

    contact: Contact
    endpoint: Endpoint
