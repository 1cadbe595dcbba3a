"""Argument types shared by several commands: a bad value is argparse's one-line error."""

from __future__ import annotations

import argparse

MAX_RECORD_ID = 2**63 - 1  # PostgreSQL's bigint: a larger id cannot even be asked for


def record_id(text: str) -> int:
    """A stored row's id (what `list` shows): a whole number from 1 to MAX_RECORD_ID."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an id: {text!r}") from None
    if not 1 <= value <= MAX_RECORD_ID:
        raise argparse.ArgumentTypeError(f"an id is from 1 to {MAX_RECORD_ID}, got {text}")
    return value
