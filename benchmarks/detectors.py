"""Detector benchmarks: backtest throughput, timer sweeps, baseline refits.

`run()` measures and prints the figures the issue asks for and returns them as a dict
(the `eldercare bench detectors` command prints the same). Everything is synthetic and
self-contained: homes come from `detectors.scenario`, written to a temporary recording.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from core.registry import RegistryRow
from detectors.backtest import run_backtest
from detectors.baseline import fit_baseline
from detectors.engine import Engine
from detectors.findings import Finding
from detectors.recording import DEVICE_AT, decode_line, fast_fields, split_line
from detectors.scenario import Scenario, replay
from detectors.settings import DEFAULT_HOME_SETTINGS, EngineSettings
from ingest.wire import encode_payload, format_ts, topic_for

START = datetime(2026, 1, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
PAYLOAD_FIELDS = ("volume_l", "flow_lpm", "motion", "room", "alarm", "test", "online")


def _write_recording(homes: int, days: int, directory: Path) -> tuple[list[RegistryRow], Path]:
    rows: list[RegistryRow] = []
    readings = []
    for index in range(homes):
        scenario = Scenario(f"B{index:05d}")
        rows += scenario.rows()
        readings += scenario.ordinary_days(START, days, seed=index)
    readings.sort(key=lambda r: r.ts)
    path = directory / "recording.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for r in readings:
            payload: dict[str, Any] = {"ts": format_ts(r.ts), "seq": r.seq}
            payload.update({f: getattr(r, f) for f in PAYLOAD_FIELDS if getattr(r, f) is not None})
            topic = topic_for(r.device_id, r.channel)
            handle.write(f'{{"topic":"{topic}","payload":{encode_payload(payload).decode()}}}\n')
    return rows, path


def bench_backtest(homes: int, days: int, workers: int) -> dict[str, Any]:
    """Throughput of the whole backtest (decoding included), and its two halves."""
    with tempfile.TemporaryDirectory() as tmp:
        rows, path = _write_recording(homes, days, Path(tmp))
        figures: dict[str, Any] = {"backtest_messages": 0}
        for count in sorted({1, workers}):
            result = run_backtest(rows, path, workers=count)
            figures["backtest_messages"] = result.messages
            figures[f"backtest_msgs_per_s_{count}_workers"] = round(result.messages_per_s)
        types = {row.device_id: row.type for row in rows}
        raw = path.read_bytes().splitlines(keepends=True)
        started = time.process_time()
        readings = []
        for number, line in enumerate(raw, start=1):
            split = split_line(line, number)
            assert split.ts is not None
            readings.extend(decode_line(split, types.get, split.ts))
        decode_s = time.process_time() - started
        started = time.process_time()
        for line in raw:  # the backtest's path for the recorder's own layout
            slash = line.find(b"/", DEVICE_AT)
            fast_fields(line, slash, types[line[DEVICE_AT:slash].decode()])
        fast_decode_s = time.process_time() - started
        engine = Engine(rows, EngineSettings())
        started = time.process_time()
        replay(engine, readings)  # type: ignore[arg-type]
        engine_s = time.process_time() - started
    figures["decode_us_per_msg"] = round(decode_s / len(raw) * 1e6, 2)
    figures["fast_decode_us_per_msg"] = round(fast_decode_s / len(raw) * 1e6, 2)
    figures["engine_us_per_reading"] = round(engine_s / len(raw) * 1e6, 2)
    return figures


def bench_sweep(homes: int) -> dict[str, Any]:
    """Timer sweeps over `homes` full homes: nothing due, then every home due at once."""
    rows: list[RegistryRow] = []
    first: list = []
    at = START + timedelta(hours=9)
    for index in range(homes):
        scenario = Scenario(f"S{index:06d}")
        rows += scenario.rows()
        first.append(scenario.water(at))
        first.append(scenario.motion(at, "kitchen"))  # someone at home: inactivity is timed
        for role in ("entrance", "living_room", "bathroom", "bedroom", "smoke"):
            first.append(scenario.status(at, role, battery=80))  # every device heard
    engine = Engine(rows, EngineSettings())
    out: list[Finding] = []
    for reading in first:
        engine.feed_into(reading, out)
    now = (START + timedelta(hours=9)).timestamp()
    started = time.perf_counter()
    engine.tick_epoch(now + 1, out)  # every home is due: its first look
    all_due_s = time.perf_counter() - started
    started = time.perf_counter()
    ticks = 60
    for minute in range(ticks):
        engine.tick_epoch(now + 2 + minute * 0.5, out)
    idle_s = (time.perf_counter() - started) / ticks
    return {
        "sweep_homes": homes,
        "sweep_all_due_s": round(all_due_s, 3),
        "sweep_nothing_due_ms": round(idle_s * 1000, 4),
    }


def bench_fit(homes: int, days: int = 42, cores: int = 2) -> dict[str, Any]:
    """Refit time per home from 6 weeks of day summaries; extrapolated to 100,000 homes."""
    scenario = Scenario("F")
    engine = Engine(scenario.rows(), EngineSettings())
    replay(engine, scenario.ordinary_days(START, 15))
    history = np.array(engine.history("F"))
    rng = np.random.default_rng(7)
    base = np.resize(history, (days, history.shape[1]))
    histories = [base * rng.uniform(0.9, 1.1, (days, 1)) for _ in range(homes)]
    started = time.process_time()
    fitted = sum(fit_baseline(h, DEFAULT_HOME_SETTINGS) is not None for h in histories)
    per_home = (time.process_time() - started) / homes
    return {
        "fit_homes": fitted,
        "fit_ms_per_home": round(per_home * 1000, 3),
        "fit_100k_homes_min_on_2_cores": round(per_home * 100_000 / cores / 60, 2),
    }


def run(
    homes: int = 50,
    days: int = 14,
    workers: int = 2,
    sweep_homes: int = 100_000,
    fit_homes: int = 1000,
) -> dict[str, Any]:
    """Run every detector benchmark, print the figures, return them."""
    figures: dict[str, Any] = {}
    figures.update(bench_backtest(homes, days, workers))
    figures.update(bench_sweep(sweep_homes))
    figures.update(bench_fit(fit_homes))
    for key, value in figures.items():
        print(f"{key:34s} {value}")
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
