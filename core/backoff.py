"""Jittered exponential backoff for reconnecting to brokers, databases and gateways."""

from __future__ import annotations

import random


class Backoff:
    """Delays that double from `base_s` up to `cap_s`, each drawn uniformly below the bound.

    Full jitter spreads a fleet of workers that lost the same server so they do not
    all come back in the same instant.
    """

    def __init__(self, base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random | None = None):
        if not 0 < base_s <= cap_s:
            raise ValueError("need 0 < base_s <= cap_s")
        self._base_s = base_s
        self._cap_s = cap_s
        self._attempt = 0
        self._rng = rng or random.Random()

    def next_delay_s(self) -> float:
        """The wait before the next attempt, in seconds."""
        bound = min(self._cap_s, self._base_s * 2**self._attempt)
        self._attempt = min(self._attempt + 1, 32)
        return self._rng.uniform(self._base_s / 2, bound)

    def reset(self) -> None:
        """Start again from the shortest delay after a success."""
        self._attempt = 0

    @property
    def failures(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._attempt
