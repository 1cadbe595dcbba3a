"""The water meter: a cumulative index fed by the home's flows, reported on a fixed
interval and, for the classic meter, whenever the flow changes (starts, stops, or
another tap opens).

The index is kept as an exact integer (millilitres-per-minute × milliseconds) so that it
never decreases through rounding and is identical on every machine; it is reported in
0.1 L steps as the classic meter resolves, or in whole litres by index-only meters. A
replacement sets the index to the new meter's reading.

Three ways to report (`simulators.world.MeterKind`): the classic meter streams a report
every 15 min and at every change of flow, with the flow rate; an hourly meter streams
its index once an hour; a daily meter keeps its hourly reads and sends them once a day
as one batched upload (wire contract: at most 96 reads, oldest first). A batched upload
that fails (lost on the way, the meter silent, our pipeline down) is sent again with the
next one; beyond 96 reads the oldest are dropped. A streaming meter keeps the interval
reads it could not send while our pipeline was down and sends them as one batched upload
when it is back; what it sends while it is itself silent is lost (`devices`).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

from simulators.events import METER, METER_BATCH, RawEvent
from simulators.localtime import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE
from simulators.timeline import Flow

REPORT_INTERVAL_MS = 15 * MS_PER_MINUTE
MAX_BATCH_READS = 96  # the wire contract's limit on a batched upload
NO_FLOW = -1  # the `b` of a METER event from a meter that reports no flow rate
_UNITS_PER_DL = 6_000_000  # (mL/min × ms) per decilitre: 60 000 ms/min × 100 mL/dL
_REUPLOAD_JITTER_MS = (30_000, 5 * MS_PER_MINUTE)  # back after our outage: reconnects


@dataclass(frozen=True, slots=True)
class MeterMode:
    """How a meter reports (see the module docstring)."""

    interval_ms: int = REPORT_INTERVAL_MS
    on_change: bool = True  # a report whenever the total flow changes
    with_flow: bool = True  # reports carry the flow rate
    whole_litres: bool = False
    phase_ms: int = 0  # interval reads at phase + k × interval (UTC epoch ms)
    daily_upload_ms: int | None = None  # batched: uploads at this offset into each UTC day
    loss_share: float = 0.0  # batched: share of uploads lost on the way

    def __post_init__(self) -> None:
        if self.interval_ms <= 0 or not 0 <= self.phase_ms < self.interval_ms:
            raise ValueError("interval must be positive and the phase within it")
        if self.daily_upload_ms is not None and not 0 <= self.daily_upload_ms < MS_PER_DAY:
            raise ValueError("the daily upload offset must be within a day")


CLASSIC_MODE = MeterMode()


def hourly_mode(phase_ms: int) -> MeterMode:
    """An index-only meter streaming one whole-litre read an hour."""
    return MeterMode(MS_PER_HOUR, on_change=False, with_flow=False, whole_litres=True,
                     phase_ms=phase_ms)  # fmt: skip


def daily_mode(phase_ms: int, upload_ms: int, loss_share: float) -> MeterMode:
    """A meter sending its hourly reads as one batched upload a day."""
    return MeterMode(MS_PER_HOUR, on_change=False, with_flow=False, whole_litres=True,
                     phase_ms=phase_ms, daily_upload_ms=upload_ms,
                     loss_share=loss_share)  # fmt: skip


def _inside(ms: int, windows: tuple[tuple[int, int], ...]) -> bool:
    return any(start <= ms < end for start, end in windows)


class WaterMeter:
    """One meter's state, advanced chunk by chunk in time order."""

    __slots__ = (
        "_base_dl",
        "_blocked",
        "_edges",
        "_flow",
        "_flushes",
        "_last_ms",
        "_mode",
        "_next_report",
        "_next_upload",
        "_pending",
        "_pipeline",
        "_resets",
        "_rng",
        "_units",
        "number",
    )

    def __init__(
        self,
        number: int,
        index_dl: int,
        start_ms: int,
        resets: tuple[tuple[int, int], ...] = (),
        mode: MeterMode = CLASSIC_MODE,
        *,
        pipeline_down: tuple[tuple[int, int], ...] = (),
        silent: tuple[tuple[int, int], ...] = (),
        rng: random.Random | None = None,
    ) -> None:
        if index_dl < 0:
            raise ValueError("a meter index cannot be negative")
        self.number = number
        self._mode = mode
        self._base_dl = index_dl
        self._units = 0  # volume since the base, in mL/min × ms
        self._flow = 0  # current total flow, mL/min
        self._last_ms = start_ms
        self._edges: list[tuple[int, int]] = []  # (ms, change of flow)
        self._resets = sorted(resets)  # (ms, new index in dL)
        interval = mode.interval_ms
        self._next_report = start_ms + (mode.phase_ms - start_ms) % interval
        self._pending: list[tuple[int, int]] = []  # reads kept for a batched upload
        self._pipeline = pipeline_down
        self._rng = rng or random.Random(0)
        never = 2**62
        if mode.daily_upload_ms is not None:
            self._next_upload = start_ms + (mode.daily_upload_ms - start_ms) % MS_PER_DAY
            self._blocked = tuple(sorted(pipeline_down + silent))
            self._flushes: list[int] = []
        else:
            self._next_upload = never
            self._blocked = ()
            low, high = _REUPLOAD_JITTER_MS
            self._flushes = sorted(end + self._rng.randrange(low, high) for _, end in pipeline_down)

    @property
    def index_dl(self) -> int:
        """The index now, in decilitres."""
        return self._base_dl + self._units // _UNITS_PER_DL

    def _run_to(self, ms: int) -> None:
        self._units += self._flow * (ms - self._last_ms)
        self._last_ms = ms

    def _reported_index(self) -> int:
        index = self.index_dl
        return index - index % 10 if self._mode.whole_litres else index

    def advance(self, flows: list[Flow], until_ms: int, out: list[RawEvent]) -> None:
        """Add `flows` (starting at or after the last advance) and report until `until_ms`."""
        edges = self._edges
        for start, end, rate in flows:
            start = max(start, self._last_ms)  # the past is already on the index
            if end > start:
                heapq.heappush(edges, (start, rate))
                heapq.heappush(edges, (end, -rate))
        if self._mode is CLASSIC_MODE and not self._pipeline:
            self._advance_classic(until_ms, out)
        else:
            self._advance_modes(until_ms, out)
        self._run_to(until_ms)

    def _advance_classic(self, until_ms: int, out: list[RawEvent]) -> None:
        """The classic meter's loop, kept apart because it is most of a recording."""
        edges = self._edges
        number = self.number
        while True:
            edge_ms = edges[0][0] if edges else until_ms
            reset_ms = self._resets[0][0] if self._resets else until_ms
            report_ms = self._next_report
            now = min(edge_ms, reset_ms, report_ms)
            if now >= until_ms:
                break
            self._run_to(now)
            reported = False
            if now == reset_ms:
                _, self._base_dl = self._resets.pop(0)
                self._units = 0
                reported = True
            if now == edge_ms:
                before = self._flow
                while edges and edges[0][0] == now:
                    self._flow += heapq.heappop(edges)[1]
                reported = reported or self._flow != before
            if now == report_ms:
                reported = True
                self._next_report += REPORT_INTERVAL_MS
            if reported:  # one report per instant, whatever the reasons
                out.append((now, number, METER, self.index_dl, self._flow))

    def _advance_modes(self, until_ms: int, out: list[RawEvent]) -> None:
        mode = self._mode
        edges = self._edges
        batched = mode.daily_upload_ms is not None
        while True:
            edge_ms = edges[0][0] if edges else until_ms
            reset_ms = self._resets[0][0] if self._resets else until_ms
            flush_ms = self._flushes[0] if self._flushes else until_ms
            report_ms, upload_ms = self._next_report, self._next_upload
            now = min(edge_ms, reset_ms, report_ms, upload_ms, flush_ms)
            if now >= until_ms:
                break
            self._run_to(now)
            changed = interval_read = False
            if now == reset_ms:  # a new meter: an index-only one reads on its own hour
                _, self._base_dl = self._resets.pop(0)
                self._units = 0
                changed = mode.on_change
            if now == edge_ms:
                before = self._flow
                while edges and edges[0][0] == now:
                    self._flow += heapq.heappop(edges)[1]
                changed = changed or (mode.on_change and self._flow != before)
            if now == report_ms:
                interval_read = True
                self._next_report += mode.interval_ms
            if changed or interval_read:
                self._report(now, interval_read, batched, out)
            if now == upload_ms:
                self._next_upload += MS_PER_DAY
                self._upload(now, out)
            if now == flush_ms:
                self._flushes.pop(0)
                self._upload(now, out)

    def _report(self, now: int, interval_read: bool, batched: bool, out: list[RawEvent]) -> None:
        index = self._reported_index()
        if batched or _inside(now, self._pipeline):
            if interval_read:  # kept for the next upload; a change report is not
                self._pending.append((now, index))
                del self._pending[:-MAX_BATCH_READS]
            return
        out.append(
            (now, self.number, METER, index, self._flow if self._mode.with_flow else NO_FLOW)
        )

    def _upload(self, now: int, out: list[RawEvent]) -> None:
        if not self._pending or _inside(now, self._blocked):
            return
        if self._mode.loss_share and self._rng.random() < self._mode.loss_share:
            return  # lost on the way: the meter sends these reads again next time
        out.append((now, self.number, METER_BATCH, 0, tuple(self._pending)))
        self._pending = []
