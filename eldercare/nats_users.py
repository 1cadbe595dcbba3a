"""Per-device NATS users (pure): each device may publish only its own two subjects and
subscribe to nothing; the services' user may do everything. The output is a nats-server
`authorization` block, included by every node's config."""

from __future__ import annotations

import json
from collections.abc import Iterable

from core.readings import DEVICE_ID_PATTERN

SERVICE_SUBJECTS = ">"


def device_subjects(device_id: str) -> list[str]:
    """The subjects a device publishes on: its telemetry and its status."""
    return [f"eldercare.v1.devices.{device_id}.{channel}" for channel in ("telemetry", "status")]


def authorization_block(
    devices: Iterable[tuple[str, str]], service_user: str, service_password: str
) -> str:
    """`authorization { users: [...] }` for the services' user and every (device id,
    password); a device id that is not one, or an empty password, is a ValueError."""
    users = [
        {
            "user": service_user,
            "password": service_password,
            "permissions": {
                "publish": {"allow": [SERVICE_SUBJECTS]},
                "subscribe": {"allow": [SERVICE_SUBJECTS]},
            },
        }
    ]
    seen = {service_user}
    for number, (device_id, password) in enumerate(devices, start=1):
        if not DEVICE_ID_PATTERN.fullmatch(device_id):
            raise ValueError(f"line {number}: {device_id!r} is not a device id")
        if not password:
            raise ValueError(f"line {number}: device {device_id} has no password")
        if device_id in seen:
            raise ValueError(f"line {number}: {device_id} is listed twice")
        seen.add(device_id)
        users.append(
            {
                "user": device_id,
                "password": password,
                "permissions": {
                    "publish": {"allow": device_subjects(device_id)},
                    "subscribe": {"deny": [">"]},
                },
            }
        )
    # nats-server's config format accepts JSON for a value.
    return "authorization {\n  users: " + json.dumps(users, indent=2) + "\n}\n"
