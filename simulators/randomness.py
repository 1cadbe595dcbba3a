"""Deterministic random streams: one per (seed, home, purpose, …), independent of each other.

Streams are `random.Random` seeded from a text label. CPython seeds from text through
SHA-512, so a label gives the same stream on every run and machine, whatever
PYTHONHASHSEED is. Separate streams keep parts independent: drawing one more incident
does not change anybody's daily routine, and any day's routine can be rebuilt alone.
Scalar draws from `random.Random` are also several times cheaper than numpy's for the
one-at-a-time draws a routine needs.
"""

from __future__ import annotations

import math
import random


def stream(seed: int, *labels: object) -> random.Random:
    """The random stream for `seed` and a path of labels, e.g. (seed, "home", 3, "day", 12)."""
    return random.Random("eldercare-sim/" + "/".join(str(x) for x in (seed, *labels)))


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count (Knuth's method; fine for the small means used here)."""
    if mean <= 0:
        return 0
    if mean > 50:  # normal approximation keeps the loop short for big means
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    count = 0
    product = rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
