"""The water meter: a cumulative index fed by the home's flows, reported on a fixed
interval and whenever the flow changes (starts, stops, or another tap opens).

The index is kept as an exact integer (millilitres-per-minute × milliseconds) so that it
never decreases through rounding and is identical on every machine; it is reported in
0.1 L steps, as meters resolve. A replacement sets the index to the new meter's reading.
"""

from __future__ import annotations

import heapq

from simulators.events import METER, RawEvent
from simulators.localtime import MS_PER_MINUTE
from simulators.timeline import Flow

REPORT_INTERVAL_MS = 15 * MS_PER_MINUTE
_UNITS_PER_DL = 6_000_000  # (mL/min × ms) per decilitre: 60 000 ms/min × 100 mL/dL


class WaterMeter:
    """One meter's state, advanced chunk by chunk in time order."""

    __slots__ = (
        "_base_dl",
        "_edges",
        "_flow",
        "_last_ms",
        "_next_report",
        "_resets",
        "_units",
        "number",
    )

    def __init__(
        self,
        number: int,
        index_dl: int,
        start_ms: int,
        resets: tuple[tuple[int, int], ...] = (),
    ) -> None:
        if index_dl < 0:
            raise ValueError("a meter index cannot be negative")
        self.number = number
        self._base_dl = index_dl
        self._units = 0  # volume since the base, in mL/min × ms
        self._flow = 0  # current total flow, mL/min
        self._last_ms = start_ms
        self._edges: list[tuple[int, int]] = []  # (ms, change of flow)
        self._resets = sorted(resets)  # (ms, new index in dL)
        self._next_report = start_ms + (-start_ms) % REPORT_INTERVAL_MS

    @property
    def index_dl(self) -> int:
        """The index now, in decilitres."""
        return self._base_dl + self._units // _UNITS_PER_DL

    def _run_to(self, ms: int) -> None:
        self._units += self._flow * (ms - self._last_ms)
        self._last_ms = ms

    def advance(self, flows: list[Flow], until_ms: int, out: list[RawEvent]) -> None:
        """Add `flows` (starting at or after the last advance) and report until `until_ms`."""
        edges = self._edges
        for start, end, rate in flows:
            start = max(start, self._last_ms)  # the past is already on the index
            if end > start:
                heapq.heappush(edges, (start, rate))
                heapq.heappush(edges, (end, -rate))
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
        self._run_to(until_ms)
