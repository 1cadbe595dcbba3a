"""What a room name tells the presence model: entrance, bathroom, bedroom or other."""

from __future__ import annotations

import enum

# Registry room names are free text; these cover the names installers and the
# simulators use. Anything else is an ordinary living room.
_ENTRANCE_WORDS = ("entrance", "entry", "hall", "door", "foyer", "porch", "corridor")
_BATHROOM_WORDS = ("bath", "toilet", "wc", "restroom", "washroom", "lavatory", "shower")
_BEDROOM_WORDS = ("bed", "sleep")


class RoomKind(enum.IntEnum):
    """The role of a motion sensor's room; ints so state stays compact."""

    OTHER = 0
    ENTRANCE = 1
    BATHROOM = 2
    BEDROOM = 3


def classify_room(room: str | None) -> RoomKind:
    """Map a free-text room name to its role (case-insensitive substring match)."""
    if not room:
        return RoomKind.OTHER
    name = room.lower()
    if any(word in name for word in _ENTRANCE_WORDS):
        return RoomKind.ENTRANCE
    if any(word in name for word in _BATHROOM_WORDS):
        return RoomKind.BATHROOM
    if any(word in name for word in _BEDROOM_WORDS):
        return RoomKind.BEDROOM
    return RoomKind.OTHER
