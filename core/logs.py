"""Structured key=value logging: ids and counts, never a resident's details."""

from __future__ import annotations

import logging
import sys
from typing import Any


def kv(event: str, **fields: Any) -> str:
    """Format an event and its fields as `event key=value ...` for one log line."""
    parts = [event]
    for key, value in fields.items():
        text = str(value)
        if not text or any(ch in text for ch in ' "='):
            text = '"' + text.replace('"', '\\"') + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


def configure_logging(level: str) -> None:
    """Send logs to stderr with time, level and logger name before the key=value record."""
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        force=True,
    )
    # The embedded broker's state machine narrates every transition at INFO.
    for chatty in ("transitions", "amqtt"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(level)))
