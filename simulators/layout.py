"""The home: five rooms, up to six PIR motion sensors, a water meter and a smoke alarm.

Devices are numbered within a home; a room PIR's number is its room's, so a segment's
room is also the index of the sensor that can see the resident. The sixth PIR watches
the hall (the corridor the rooms open onto): it sees the resident pass from room to room
and come and go, not sit in a room. Which of them a home has is its profile's choice
(`simulators.world`); the classic home has the five room PIRs.
"""

from __future__ import annotations

from core.readings import DeviceType

ENTRANCE = 0
LIVING_ROOM = 1
KITCHEN = 2
BATHROOM = 3
BEDROOM = 4
AWAY = -1  # not a room: the resident is out of the home
ROOM_NAMES: tuple[str, ...] = ("entrance", "living_room", "kitchen", "bathroom", "bedroom")

WATER_METER = 5
SMOKE_ALARM = 6
HALL = 7  # the hall PIR (a device number, not a room the resident is in)
DEVICE_COUNT = 8
PIR_DEVICES: tuple[int, ...] = (ENTRANCE, LIVING_ROOM, KITCHEN, BATHROOM, BEDROOM)
ALL_PIRS: tuple[int, ...] = (*PIR_DEVICES, HALL)
CLASSIC_DEVICES: tuple[int, ...] = (*PIR_DEVICES, WATER_METER, SMOKE_ALARM)
HALL_NAME = "hall"


def device_type(device: int) -> DeviceType:
    """The registry type of device number `device`."""
    if device == WATER_METER:
        return DeviceType.WATER_METER
    if device == SMOKE_ALARM:
        return DeviceType.SMOKE
    if 0 <= device < len(ROOM_NAMES) or device == HALL:
        return DeviceType.PIR
    raise ValueError(f"no device number {device}")


def device_room(device: int) -> str:
    """The room a device is registered in ('' for the water meter, which has none)."""
    if device == WATER_METER:
        return ""
    if device == SMOKE_ALARM:
        return ROOM_NAMES[KITCHEN]
    return HALL_NAME if device == HALL else ROOM_NAMES[device]


def device_firmware(device: int) -> str:
    """The firmware version a device reports when it comes online."""
    return {DeviceType.PIR: "pir-1.4.2", DeviceType.WATER_METER: "wm-3.0.7"}.get(
        device_type(device), "sa-2.2.0"
    )


def device_id(home_id: str, device: int) -> str:
    """The device id: the home id and the device's role, e.g. `H0003-pir-kitchen`."""
    if device == WATER_METER:
        return f"{home_id}-water"
    if device == SMOKE_ALARM:
        return f"{home_id}-smoke"
    return f"{home_id}-pir-{device_room(device)}"
