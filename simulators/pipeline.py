"""Our own pipeline in a recording: the ingest heartbeat, and outages of broker or ingest.

A recording may carry the heartbeat an ingest worker sends through the broker
(`core.pipeline`: topic `eldercare/v1/ingest/{worker}/heartbeat`, payload `{"ts", "seq"}`)
every `interval_s`. During a simulated pipeline outage nothing reaches the recording: no
heartbeat and no device data. Devices that keep what they could not send (meters: their
interval reads, as one batched upload) send it afterwards; the others' messages are lost,
and each connected device says it is online again within minutes of the broker's return.
The ground truth lists each outage as category `system`, home `*` (every home).

A recording without heartbeat lines means a pipeline healthy throughout.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from simulators.devices import DeviceSpec
from simulators.events import INGEST_HEARTBEAT, Event
from simulators.localtime import MS_PER_HOUR, MS_PER_MINUTE, MS_PER_SECOND
from simulators.randomness import stream

WORKER_ID = "sim-ingest"
SYSTEM_HOME_ID = "*"
PIPELINE_HOME = -1  # the home index of heartbeat events: before every home at one instant
DEFAULT_OUTAGE_MINUTES = (10.0, 240.0)
_BACK_ONLINE_MS = (30 * MS_PER_SECOND, 3 * MS_PER_MINUTE)
_EDGE_MS = 2 * MS_PER_HOUR  # outages keep this far from the start and end of a recording
_SPACING_MS = 6 * MS_PER_HOUR  # and this far from each other


@dataclass(frozen=True, slots=True)
class PipelinePlan:
    """Heartbeats every `heartbeat_ms` (0: none) and outages as [start, end) UTC ms."""

    heartbeat_ms: int = 0
    outages: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if self.heartbeat_ms < 0:
            raise ValueError("the heartbeat interval cannot be negative")
        if self.outages and not self.heartbeat_ms:
            raise ValueError("pipeline outages need heartbeats (a recording without them "
                             "means a healthy pipeline)")  # fmt: skip
        for start, end in self.outages:
            if end <= start:
                raise ValueError("a pipeline outage must end after it starts")

    def down(self, ms: int) -> bool:
        """True while the pipeline is down."""
        return any(start <= ms < end for start, end in self.outages)


NO_PIPELINE = PipelinePlan()


def draw_outages(
    seed: int, start_ms: int, end_ms: int, count: int, minutes: tuple[float, float]
) -> tuple[tuple[int, int], ...]:
    """`count` outages placed at random (seeded), apart from each other and the edges."""
    low, high = minutes
    if count < 0 or not 0 < low <= high:
        raise ValueError("need a count >= 0 and a range of minutes 0 < low <= high")
    rng = stream(seed, "pipeline", "outages")
    placed: list[tuple[int, int]] = []
    for _ in range(count * 40):
        if len(placed) == count:
            break
        length = round(rng.uniform(low, high) * MS_PER_MINUTE)
        first, last = start_ms + _EDGE_MS, end_ms - _EDGE_MS - length
        if last <= first:
            break
        at = rng.randrange(first, last)
        if not any(s - _SPACING_MS < at + length and at < e + _SPACING_MS for s, e in placed):
            placed.append((at, at + length))
    if len(placed) < count:
        raise ValueError(f"{count} pipeline outages of {low:g}–{high:g} min do not fit")
    return tuple(sorted(placed))


def heartbeat_events(plan: PipelinePlan, start_ms: int, end_ms: int) -> Iterator[Event]:
    """The ingest worker's heartbeats in [start_ms, end_ms), none while it is down."""
    if not plan.heartbeat_ms:
        return
    seq = 0
    for ts in range(start_ms, end_ms, plan.heartbeat_ms):
        if not plan.down(ts):
            yield (ts, PIPELINE_HOME, 0, seq, INGEST_HEARTBEAT, 0, 0)
            seq += 1


def back_online(
    plan: PipelinePlan, devices: tuple[DeviceSpec, ...], meter: int, rng: random.Random
) -> tuple[tuple[int, int], ...]:
    """(ms, device) of each connected device saying it is online again after each of our
    outages (index-only meters, which hold no connection, say nothing)."""
    out = []
    for _, end in plan.outages:
        for spec in devices:
            if spec.heartbeat_mode != "none" or spec.number != meter:
                out.append((end + rng.randrange(*_BACK_ONLINE_MS), spec.number))
    return tuple(sorted(out))
