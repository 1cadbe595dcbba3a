"""Field types shared by request models."""

from __future__ import annotations

from datetime import time
from typing import Annotated

import pydantic


def _no_zone(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("give a local time of day (HH:MM) without a zone offset")
    return value


# Quiet hours and the like: a wall-clock time in the home's own time zone.
LocalTime = Annotated[time, pydantic.AfterValidator(_no_zone)]
