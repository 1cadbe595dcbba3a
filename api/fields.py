"""Field types shared by request models."""

from __future__ import annotations

from datetime import time
from typing import Annotated

import pydantic

from core.contact_points import email_address, phone_number


def _no_zone(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("give a local time of day (HH:MM) without a zone offset")
    return value


# Quiet hours and the like: a wall-clock time in the home's own time zone.
LocalTime = Annotated[time, pydantic.AfterValidator(_no_zone)]


# Addresses are checked as everywhere else (core.contact_points) and stored in one form.
PhoneNumber = Annotated[
    str,
    pydantic.Field(max_length=32, examples=["+8613800138000"],
                   description="international (E.164) form: +, country code, number"),
    pydantic.AfterValidator(phone_number),
]  # fmt: skip
EmailAddress = Annotated[
    str,
    pydantic.Field(max_length=254, examples=["li.na@example.org"]),
    pydantic.AfterValidator(email_address),
]
