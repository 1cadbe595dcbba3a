"""Simulated homes as a whole: the Python API, and record mode (files on disk).

`simulate_homes(...)` draws every home's plan (cheap) and returns a `Simulation`, whose
messages are computed lazily, home by home and day by day, merged in timestamp order.
Record mode writes three files (DESIGN.md: files that travel) and one extra:

- `homes.csv`: the registry, `home_id,device_id,type,room,timezone`;
- `recording.jsonl`: one MQTT message a line, `{"topic": ..., "payload": {...}}`, in order
  of the payloads' `ts` across all homes;
- `truth.jsonl`: the ground truth, one incident a line;
- `absences.jsonl`: multi-day absences (declared or not), for detectors that honour them.

A profile other than the classic one (`simulators.world`) adds three registry columns,
`profile` (its label), `pirs` (the home's PIR count) and `household` (`alone` or
`couple`), which the registry parser ignores and the backtest reports by; and a fifth
file, `context.jsonl`: what is not an incident but explains findings (visits, holidays,
report gaps, our pipeline's outages), one `{"home_id", "kind", "start", "end"}` a line.
With heartbeats (`simulators.pipeline`) the recording carries the ingest worker's
heartbeat lines, and the truth lists our pipeline's outages (category `system`).

The same arguments give byte-identical files: every random draw comes from a stream named
after the seed (`simulators.randomness`), nothing reads the wall clock (timing is only
reported), and ordering never depends on dict, set or hash order.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from core.kinds import Category
from core.registry import RegistryRow, format_registry_csv
from ingest.wire import format_ts
from simulators.events import Event
from simulators.home import Chunk, HomePlan, plan_home, run_home
from simulators.incidents import IncidentKind, IncidentRates, ReportGap, StayAway
from simulators.localtime import HomeCalendar, epoch_ms, from_epoch_ms, load_zone
from simulators.pipeline import NO_PIPELINE, SYSTEM_HOME_ID, PipelinePlan, heartbeat_events
from simulators.scheduled import ScheduledIncident
from simulators.truth import Absence, TruthRecord, absences, truth_records
from simulators.wireformat import WireEncoder
from simulators.world import CLASSIC, WorldProfile

DEFAULT_START = date(2026, 1, 5)
DEFAULT_TIMEZONE = "Asia/Shanghai"
# Each home keeps one day of messages in memory while homes are merged (~0.3 MB).
MAX_HOMES = 10_000
MAX_DAYS = 3_660
# The wire contract rejects timestamps before 2000 as an unset device clock.
EARLIEST_START = date(2000, 1, 2)
_WRITE_BATCH = 20_000  # lines joined per write: big enough to amortise, small in memory


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to simulate: how many homes, how many days from when, with which seed."""

    n_homes: int
    days: int
    seed: int
    start: date = DEFAULT_START
    timezone: str = DEFAULT_TIMEZONE
    rates: IncidentRates = field(default_factory=IncidentRates)
    scheduled: tuple[ScheduledIncident, ...] = ()
    world: WorldProfile = CLASSIC
    pipeline: PipelinePlan = NO_PIPELINE

    def __post_init__(self) -> None:
        for name, low, high in (("n_homes", 1, MAX_HOMES), ("days", 1, MAX_DAYS)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.start, date) or isinstance(self.start, datetime):
            raise ValueError("start must be a date")
        if self.start < EARLIEST_START:
            raise ValueError(f"start must be on or after {EARLIEST_START.isoformat()}")
        load_zone(self.timezone)
        for entry in self.scheduled:
            if entry.home >= self.n_homes:
                raise ValueError(f"scheduled incident for home {entry.home}: only {self.n_homes}")
        if self.pipeline.heartbeat_ms and self.pipeline.heartbeat_ms < 1000:
            raise ValueError("heartbeats must be at least a second apart")


@dataclass(frozen=True, slots=True)
class RecordingStats:
    """What record mode wrote, and how fast."""

    homes: int
    days: int
    messages: int
    truth_records: int
    seconds: float

    @property
    def messages_per_minute(self) -> float:
        """Throughput of the run, readings per minute of wall time."""
        return self.messages * 60 / self.seconds if self.seconds > 0 else float("inf")


def _home_events(plan: HomePlan) -> Iterator[Event]:
    for chunk in run_home(plan):
        yield from chunk.events


class Simulation:
    """A set of simulated homes: registry, ground truth, and their messages on demand."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.calendar = HomeCalendar(config.start, config.days, config.timezone)
        self.homes: tuple[HomePlan, ...] = tuple(
            plan_home(
                config.seed,
                index,
                self.calendar,
                config.rates,
                tuple(s.incident() for s in config.scheduled if s.home == index),
                config.world,
                config.pipeline,
            )
            for index in range(config.n_homes)
        )
        self.encoder = WireEncoder(tuple(home.home_id for home in self.homes))

    @property
    def start(self) -> datetime:
        """When the simulated time begins (local midnight of the start date), UTC."""
        return from_epoch_ms(self.calendar.start_ms)

    @property
    def end(self) -> datetime:
        """When the simulated time ends (local midnight after the last day), UTC."""
        return from_epoch_ms(self.calendar.end_ms)

    def registry(self) -> list[RegistryRow]:
        """The registry rows of every device of every home, home by home."""
        return [
            RegistryRow(
                home.home_id, spec.device_id, spec.type, spec.room or None, self.config.timezone
            )
            for home in self.homes
            for spec in home.installed
        ]

    def registry_csv(self) -> str:
        """The registry as CSV; a profile's homes carry `profile`, `pirs` and `household`."""
        if self.config.world.classic:
            return format_registry_csv(self.registry())
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["home_id", "device_id", "type", "room", "timezone", "profile", "pirs",
                         "household"])  # fmt: skip
        label = self.config.world.label
        for home in self.homes:
            household = "couple" if home.setup.couple else "alone"
            for spec in home.installed:
                writer.writerow([home.home_id, spec.device_id, spec.type.value, spec.room,
                                 self.config.timezone, label, len(home.setup.pirs),
                                 household])  # fmt: skip
        return out.getvalue()

    def truth(self) -> list[TruthRecord]:
        """Every home's ground truth, by start time (our pipeline's outages: home `*`)."""
        records = [
            rec for home in self.homes for rec in truth_records(home.home_id, home.incidents)
        ]
        records += [
            TruthRecord(SYSTEM_HOME_ID, Category.SYSTEM, IncidentKind.PIPELINE_OUTAGE, s, e)
            for s, e in self.config.pipeline.outages
        ]
        return sorted(records, key=lambda r: (r.start_ms, r.home_id, r.end_ms, r.kind.value))

    def context(self) -> list[dict[str, Any]]:
        """What is not an incident but explains findings, by start time (see the module)."""
        rows: list[tuple[int, str, int, str]] = []
        for home in self.homes:
            for visit in home.visits:
                kind = "overnight_visit" if visit.overnight else "visit"
                rows.append((visit.start_ms, home.home_id, visit.end_ms, kind))
            for inc in home.incidents:
                if isinstance(inc, ReportGap) or (
                    isinstance(inc, StayAway) and inc.kind is IncidentKind.HOLIDAY
                ):
                    rows.append((inc.start_ms, home.home_id, inc.end_ms, inc.kind.value))
        for start, end in self.config.pipeline.outages:
            rows.append((start, SYSTEM_HOME_ID, end, IncidentKind.PIPELINE_OUTAGE.value))
        rows.sort()
        return [
            {"home_id": home, "kind": kind, "start": format_ts(from_epoch_ms(start)),
             "end": format_ts(from_epoch_ms(end))}
            for start, home, end, kind in rows
        ]  # fmt: skip

    def absences(self) -> list[Absence]:
        """Every home's multi-day absences, by start time."""
        out = [a for home in self.homes for a in absences(home.home_id, home.incidents)]
        return sorted(out, key=lambda a: (a.start_ms, a.home_id))

    def chunks(self, home_index: int) -> Iterator[Chunk]:
        """One home's timeline and messages, waking to waking (for analysis and tests)."""
        return run_home(self.homes[home_index])

    def events(self) -> Iterator[Event]:
        """All messages as event tuples in recording order, computed as they are taken."""
        homes = [_home_events(home) for home in self.homes]
        if self.config.pipeline.heartbeat_ms:
            cal = self.calendar
            homes.append(heartbeat_events(self.config.pipeline, cal.start_ms, cal.end_ms))
        return heapq.merge(*homes)

    def messages(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """All messages as (topic, payload) in recording order, computed as they are taken."""
        topic, payload = self.encoder.topic, self.encoder.payload
        return ((topic(event), payload(event)) for event in self.events())

    def encoded_messages(self) -> Iterator[tuple[str, bytes]]:
        """All messages as (topic, payload bytes), the fast path for publishers."""
        topic, payload = self.encoder.topic, self.encoder.payload_bytes
        return ((topic(event), payload(event)) for event in self.events())

    def cursor(self) -> MessageCursor:
        """A cursor over the messages for a live publisher that follows a clock."""
        return MessageCursor(self)


class MessageCursor:
    """Hands out the messages up to a moment, a slice at a time, never computing ahead."""

    def __init__(self, simulation: Simulation) -> None:
        self._encoder = simulation.encoder
        self._events = simulation.events()
        self._next: Event | None = next(self._events, None)

    @property
    def next_ts(self) -> datetime | None:
        """The timestamp of the next message, or None when the simulation is over."""
        return None if self._next is None else from_epoch_ms(self._next[0])

    def _take(self, until: datetime) -> list[Event]:
        limit = epoch_ms(until)
        taken = []
        while self._next is not None and self._next[0] < limit:
            taken.append(self._next)
            self._next = next(self._events, None)
        return taken

    def advance(self, until: datetime) -> list[tuple[str, dict[str, Any]]]:
        """The messages with ts before `until` not handed out yet, as (topic, payload)."""
        topic, payload = self._encoder.topic, self._encoder.payload
        return [(topic(event), payload(event)) for event in self._take(until)]

    def advance_encoded(self, until: datetime) -> list[tuple[str, bytes]]:
        """As `advance`, with payloads already encoded for the wire."""
        topic, payload = self._encoder.topic, self._encoder.payload_bytes
        return [(topic(event), payload(event)) for event in self._take(until)]


def simulate_homes(
    n_homes: int,
    days: int,
    seed: int,
    start: date = DEFAULT_START,
    timezone: str = DEFAULT_TIMEZONE,
    rates: IncidentRates | None = None,
    scheduled: tuple[ScheduledIncident, ...] = (),
    world: WorldProfile = CLASSIC,
    pipeline: PipelinePlan = NO_PIPELINE,
) -> Simulation:
    """Plan `n_homes` homes for `days` days from `start`; messages are made on demand."""
    config = SimulationConfig(
        n_homes, days, seed, start, timezone, rates or IncidentRates(), scheduled, world, pipeline
    )
    return Simulation(config)


def _write_jsonl(path: Path, objects: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for obj in objects:
            out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")


def write_recording(
    simulation: Simulation,
    out_dir: Path,
    progress: Callable[[int], None] | None = None,
    progress_every_s: float = 5.0,
) -> RecordingStats:
    """Write homes.csv, recording.jsonl, truth.jsonl and absences.jsonl into `out_dir`;
    `progress(messages written)` is called every `progress_every_s` seconds of work."""
    began = time.perf_counter()  # for the throughput report only; never in the output
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "homes.csv").write_text(simulation.registry_csv(), encoding="utf-8")
    truth = simulation.truth()
    _write_jsonl(out_dir / "truth.jsonl", [rec.to_json() for rec in truth])
    _write_jsonl(out_dir / "absences.jsonl", [a.to_json() for a in simulation.absences()])
    config = simulation.config
    if not config.world.classic or config.pipeline.heartbeat_ms:
        _write_jsonl(out_dir / "context.jsonl", simulation.context())
    count = 0
    line = simulation.encoder.line
    events = simulation.events()
    reported = time.perf_counter()
    with (out_dir / "recording.jsonl").open("w", encoding="utf-8", newline="\n") as out:
        while batch := list(islice(events, _WRITE_BATCH)):
            out.write("".join(map(line, batch)))
            count += len(batch)
            if progress is not None and time.perf_counter() - reported >= progress_every_s:
                reported = time.perf_counter()
                progress(count)
    return RecordingStats(
        homes=simulation.config.n_homes,
        days=simulation.config.days,
        messages=count,
        truth_records=len(truth),
        seconds=time.perf_counter() - began,
    )
