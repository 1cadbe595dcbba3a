"""Backtest: the detector engine over a recording, in event time, as fast as it can go.

No broker and no database: each recorded message is decoded (arrival time = its own
`ts`), fed to the same Engine the service runs, and the absence timers are ticked every
simulated minute between messages, with a ManualClock standing in for the wall clock.
Lines in the recorder's own layout whose values the wire contract plainly accepts are
taken apart by `recording.fast_fields` (the same values, without building a Reading:
tests hold it to the wire decoder's verdict); every other line goes through the wire
decoder itself, rejections and all.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from core.clock import ManualClock
from core.kinds import Category
from core.pipeline import HEARTBEAT_TOPIC_PREFIX
from core.readings import Reading
from core.registry import RegistryRow
from detectors.engine import Engine
from detectors.findings import Finding, finding_to_json
from detectors.localtime import from_epoch
from detectors.recording import (
    DEVICE_AT,
    HEAD,
    STATUS_TS,
    TELEMETRY_TS,
    TS_KEY,
    decode_line,
    fast_parser,
    fast_ts,
    line_ts,
    split_line,
)
from detectors.settings import DEFAULT_HOME_SETTINGS, EngineSettings, HomeSettings
from ingest.wire import decode_heartbeat

# How often the absence timers run in simulated time. Finer ticks shave detection
# delay below a minute but cost a heap peek each; a minute is finer than any rule.
TICK_S = 60.0
RULES = ("engine", "shanghai12h")


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """What a backtest produced and how fast."""

    findings: tuple[Finding, ...]
    homes: int
    messages: int
    readings: int
    rejected: dict[str, int] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    elapsed_s: float = 0.0

    @property
    def span_days(self) -> float:
        """Days between the first and last accepted reading."""
        if self.start is None or self.end is None:
            return 0.0
        return (self.end - self.start).total_seconds() / 86400.0

    @property
    def messages_per_s(self) -> float:
        """Recording lines decoded and run per second of wall time."""
        return self.messages / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class DeclaredAbsence:
    """A period the service was told the resident would be away (e.g. a hospital stay)."""

    home_id: str
    start: datetime
    end: datetime


def load_absences(path: Path) -> list[DeclaredAbsence]:
    """The declared absences of an absences JSON Lines file (undeclared ones are skipped:
    nobody told the service about those)."""
    out = []
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
                if not obj.get("declared", True):
                    continue
                start = datetime.fromisoformat(obj["start"]).astimezone(UTC)
                end = datetime.fromisoformat(obj["end"]).astimezone(UTC)
                out.append(DeclaredAbsence(str(obj["home_id"]), start, end))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(f"line {number}: not an absence ({exc})") from None
    out.sort(key=lambda a: a.start)
    return out


@dataclass(frozen=True, slots=True)
class _Job:
    """What one partition of a backtest runs: its share of the homes, by registry order."""

    rows: tuple[RegistryRow, ...]
    recording: Path
    settings: EngineSettings
    home_settings: HomeSettings
    absences: tuple[DeclaredAbsence, ...]
    index: int
    count: int


@dataclass(frozen=True, slots=True)
class _Part:
    """What one partition found."""

    findings: list[Finding]
    homes: int
    messages: int
    readings: int
    rejected: dict[str, int]
    first: float | None
    last: float


def run_backtest(
    rows: Sequence[RegistryRow],
    recording: Path,
    rule: str = "engine",
    settings: EngineSettings | None = None,
    absences: Sequence[DeclaredAbsence] = (),
    workers: int = 1,
    home_settings: HomeSettings = DEFAULT_HOME_SETTINGS,
) -> BacktestResult:
    """Run the detectors (or only the street rule) over a recording file.

    Declared absences are told to the engine when they begin, as a family would. With
    `workers` > 1 the homes are split between processes, each reading the whole file
    (its own homes' lines decoded and run, the others only timing the clock), which is
    how the service partitions detectors by home too.
    """
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    settings = settings or EngineSettings()
    if rule == "shanghai12h":
        settings = replace(settings, only_street_rule=True)
    homes = list(dict.fromkeys(row.home_id for row in rows))
    workers = min(workers, max(len(homes), 1))
    jobs = [
        _Job(tuple(rows), recording, settings, home_settings, tuple(absences), index, workers)
        for index in range(workers)
    ]
    started = time.perf_counter()
    if workers == 1:
        parts = [_run_partition(jobs[0])]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(_run_partition, jobs))
    elapsed = time.perf_counter() - started
    findings: list[Finding] = []
    rejected: Counter[str] = Counter()
    for part in parts:
        # Every partition sees the pipeline's silences; the first speaks for all.
        findings.extend(
            f for f in part.findings if part is parts[0] or f.category is not Category.SYSTEM
        )
        rejected.update(part.rejected)
    findings.sort(key=lambda f: (f.at, f.home_id, f.kind))
    first = parts[0].first
    return BacktestResult(
        findings=tuple(findings),
        homes=sum(part.homes for part in parts),
        messages=sum(part.messages for part in parts),
        readings=sum(part.readings for part in parts),
        rejected=dict(rejected),
        start=from_epoch(first) if first is not None else None,
        end=from_epoch(parts[0].last) if first is not None else None,
        elapsed_s=elapsed,
    )


class _Replay:
    """One partition's event-time loop: the clock, the minute ticks, the absences."""

    def __init__(self, engine: Engine, absences: Sequence[DeclaredAbsence]) -> None:
        self.engine = engine
        self.out: list[Finding] = []
        self.clock: ManualClock | None = None
        self.first: float | None = None
        self.last = 0.0
        self.next_tick = 0.0
        known = set(engine.home_ids)
        self.pending = [a for a in absences if a.home_id in known]
        self.pending_at = self.pending[0].start.timestamp() if self.pending else math.inf

    def advance(self, ts: float) -> None:
        """Move event time to `ts`, running every minute tick passed on the way."""
        if self.clock is None:
            self.clock = ManualClock(from_epoch(ts))
            self.first = ts
            self.next_tick = (ts // TICK_S + 1) * TICK_S
        tick = self.engine.tick_epoch
        while self.next_tick <= ts:
            self.clock.set(from_epoch(self.next_tick))
            tick(self.next_tick, self.out)
            self.next_tick += TICK_S
        if ts > self.last:
            self.last = ts
        while ts >= self.pending_at:
            absence = self.pending.pop(0)
            self.engine.declare_away(absence.home_id, absence.start, absence.end)
            self.pending_at = self.pending[0].start.timestamp() if self.pending else math.inf

    def finish(self) -> None:
        """Run the timers up to the last moment of the recording."""
        if self.clock is not None:
            self.clock.set(from_epoch(self.last))
            self.engine.tick_epoch(self.last, self.out)


def _run_partition(job: _Job) -> _Part:
    homes = list(dict.fromkeys(row.home_id for row in job.rows))
    mine = {home for i, home in enumerate(homes) if i % job.count == job.index}
    own_rows = [row for row in job.rows if row.home_id in mine]
    engine = Engine(own_rows, job.settings, default_home_settings=job.home_settings)
    replay = _Replay(engine, job.absences)
    types = {row.device_id: row.type for row in job.rows}
    own_devices = {row.device_id for row in own_rows}
    own = {row.device_id.encode(): (row.device_id, fast_parser(row.type)) for row in own_rows}
    foreign = {row.device_id.encode() for row in job.rows if row.device_id not in own_devices}
    rejected: Counter[str] = Counter()
    messages = readings = heartbeats = 0
    fast = 0  # readings taken by the fast path
    last_received = from_epoch(0.0)
    feed = engine.feed_into
    feed_fields = engine.feed_fields
    out = replay.out
    # Another partition's lines only tell the clock that time passed. Within a minute
    # that has no tick or absence left to run (`quiet_minute`, the ts text's first 16
    # characters), they are not even parsed: only the latest one is kept (`heard`) and
    # the clock moved to it before anything that could read it (a tick, another line).
    quiet_minute = b"\x00"
    heard = b""
    # Own readings before this instant need no clock work (no tick, no absence due).
    calm_until = -math.inf

    def hear() -> None:
        nonlocal heard
        ts = fast_ts(heard)
        heard = b""
        if ts is not None:
            replay.advance(ts)

    def moved(ts: float, text: bytes) -> bytes:
        """Run the clock to `ts`; the minute that is now quiet (or none)."""
        nonlocal calm_until
        replay.advance(ts)
        calm_until = min(replay.next_tick, replay.pending_at)
        minute_end = (ts // TICK_S + 1) * TICK_S
        if replay.next_tick >= minute_end and replay.pending_at >= minute_end:
            return text[:16]
        return b"\x00"

    with job.recording.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.startswith(HEAD):
                slash = raw.find(b"/", DEVICE_AT)
                device = raw[DEVICE_AT:slash]
                info = own.get(device)
                if info is None:
                    if device in foreign:
                        if raw.startswith(TELEMETRY_TS, slash):
                            at = slash + len(TELEMETRY_TS)
                        elif raw.startswith(STATUS_TS, slash):
                            at = slash + len(STATUS_TS)
                        else:
                            at = 0
                        utc = at and raw.startswith(b'Z"', at + 23)
                        if utc and raw.startswith(quiet_minute, at):
                            text = raw[at : at + 24]
                            if text > heard:
                                heard = text
                            continue
                        if heard:
                            hear()
                        ts = line_ts(raw)  # only moves the clock
                        if ts is not None:
                            quiet_minute = moved(ts, raw[at : at + 16] if utc else b"\x00")
                        continue
                else:
                    fields = info[1](raw, slash)
                    if fields is not None:
                        ts = fields[0]
                        if ts >= calm_until:
                            if heard:
                                hear()
                            at = raw.find(TS_KEY, slash) + len(TS_KEY)
                            quiet_minute = moved(ts, raw[at : at + 16])
                        elif ts > replay.last:
                            replay.last = ts
                        elif ts < replay.last:
                            # Written where it was delivered, later than it was measured:
                            # it arrives now.
                            fields = (ts, replay.last, *fields[2:])
                        fast += 1
                        feed_fields(info[0], *fields, out)
                        continue
            if not raw.strip():
                continue
            # The wire decoder's path: every line not of the recorder's canonical shapes.
            if heard:
                hear()
            quiet_minute = b"\x00"
            line = split_line(raw, number)
            # An unreadable ts is rejected by the decoder; the last arrival stands in.
            received_at = line.ts if line.ts is not None else last_received
            last_received = received_at
            ts = received_at.timestamp()
            if line.topic.startswith(HEARTBEAT_TOPIC_PREFIX):
                beat = decode_heartbeat(line.topic, line.payload, received_at)
                if beat is not None:  # an ingest heartbeat: the pipeline delivered until then
                    replay.advance(ts)
                    engine.heartbeat(beat.worker, ts, out)
                    heartbeats += 1
                    continue
            arrived = max(ts, replay.last)
            for reading in decode_line(line, types.get, received_at):
                if not isinstance(reading, Reading):
                    if job.index == 0:  # rejections are counted once, by the first partition
                        messages += 1
                        rejected[reading.reason] += 1
                    continue
                replay.advance(ts)
                if reading.device_id not in own_devices:
                    continue
                messages += 1
                readings += 1
                feed(reading, out, arrived)
    if heard:
        hear()
    replay.finish()
    messages += fast
    readings += fast
    return _Part(out, len(mine), messages, readings, dict(rejected), replay.first, replay.last)


def write_findings(findings: Sequence[Finding], path: Path) -> None:
    """Write findings as JSON Lines (DESIGN.md findings format)."""
    with path.open("w", encoding="utf-8") as handle:
        for finding in findings:
            handle.write(json.dumps(finding_to_json(finding), ensure_ascii=False) + "\n")
