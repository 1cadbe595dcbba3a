"""The metrics an operator alerts on, scraped from a running system.

A whole `eldercare run` stack (ingest, detectors, alerts, API) on a real database and a
real Mosquitto, with a real SMS gateway peer on loopback: meter readings, one message
no device could send, and a smoke alarm that goes out as text messages. Its /metrics
and /metrics/database then show what happened, counted exactly; and every metric the
shipped Prometheus rules and Grafana dashboard name is one the running system exports
(promtool checks the rules too, when it is installed).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import yaml
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from alerts.config import ChannelSettings
from api.metrics import database_exposition
from core.clock import WallClock
from core.readings import DeviceType
from core.settings import MqttTarget, Settings
from core.telemetry import FAST_BUCKETS_S, BatchHistogram
from eldercare.people import people_for, register_people
from eldercare.runtime import Broker
from eldercare.stack import Stack, running_stack
from ingest.wire import format_ts, topic_for
from simulators.gateways.sms import SmsGateway, sms_gateway
from simulators.publisher import DevicePublisher
from storage.metrics import SEVERITIES, Metrics
from tests.ingest_helpers import register_home, wait_until
from tests.prometheus_text import Exposition, family_of, parse_exposition
from tests.services import INGEST_USER, SIMULATOR_USER, Mosquitto, unique_name

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
TOKEN = "metrics-token-of-the-live-test"
HOME, METER, SMOKE = "H0001", "meter-live", "smoke-live"
READINGS = 25

# What a PromQL expression may name besides our metrics: functions, keywords, the
# labels we and Prometheus put on series, and Prometheus' own `up`.
PROMQL_WORDS = {
    "sum", "count", "max", "min", "avg", "by", "without", "on", "ignoring", "and", "or",
    "unless", "rate", "increase", "irate", "deriv", "delta", "time", "absent",
    "histogram_quantile", "predict_linear", "clamp_min", "max_over_time", "bool",
}  # fmt: skip
LABELS = {"job", "instance", "le", "reason", "channel", "outcome", "severity"}
PROMETHEUS_OWN = {"up"}
IDENTIFIER = re.compile(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*")


def names_in(expr: str) -> set[str]:
    """The identifiers of a PromQL expression, strings and range durations left out."""
    bare = re.sub(r'"[^"]*"', '""', expr)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    return set(IDENTIFIER.findall(bare))


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def shipped_expressions() -> dict[str, str]:
    """Every PromQL expression of the shipped rules and dashboards, by where it is."""
    found: dict[str, str] = {}
    rules = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            found[f"rules.yml {rule['alert']}"] = rule["expr"]
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in _panels(dashboard["panels"]):
            for target in panel.get("targets", []):
                found[f"{path.name} {panel['title']!r} {target['refId']}"] = target["expr"]
    return found


def scrape_jobs() -> set[str]:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    return {job["job_name"] for job in config["scrape_configs"]}


async def _scrape(http: aiohttp.ClientSession, url: str) -> Exposition:
    async with http.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse_exposition(await resp.text())


def _messages(now: datetime) -> list[tuple[str, dict[str, Any] | bytes]]:
    start = now - timedelta(minutes=READINGS)
    meter = topic_for(METER, "telemetry")
    out: list[tuple[str, dict[str, Any] | bytes]] = [
        (meter, {"ts": format_ts(start + timedelta(minutes=i)), "seq": i, "volume_l": i * 1.5})
        for i in range(READINGS)
    ]
    out.append((meter, b"{not json"))  # a dead letter
    out.append((topic_for(SMOKE, "telemetry"), {"ts": format_ts(now), "seq": 1, "alarm": True}))
    return out


@dataclass
class System:
    stack: Stack
    http: aiohttp.ClientSession
    sms: SmsGateway
    devices: MqttTarget  # where devices publish, as the simulator's user


@pytest.fixture
async def running_system(
    db: asyncpg.Connection, db_url: str, mosquitto: Mosquitto
) -> AsyncIterator[System]:
    """The stack with a home, its people and a real SMS gateway."""
    await register_home(db, HOME, {METER: (DeviceType.WATER_METER, "kitchen"),
                                   SMOKE: (DeviceType.SMOKE, "kitchen")})  # fmt: skip
    await register_people(db, people_for([HOME]))
    settings = Settings.from_env({"ELDERCARE_API_PORT": "0", "ELDERCARE_METRICS_TOKEN": TOKEN,
                                  "ELDERCARE_INGEST_CLIENT_ID": unique_name("ingest")})  # fmt: skip
    async with sms_gateway() as sms:
        broker = Broker(mosquitto.target(INGEST_USER), embedded=False)
        channels = ChannelSettings(sms_base_url=sms.url)
        async with (
            running_stack(settings, db_url, broker, WallClock(), channels=channels) as stack,
            aiohttp.ClientSession() as http,
        ):
            yield System(stack, http, sms, mosquitto.target(SIMULATOR_USER))


async def publish(target: MqttTarget, messages: list[tuple[str, dict[str, Any] | bytes]]) -> None:
    """Publish as devices do (QoS 1), and disconnect."""
    devices = DevicePublisher(target, unique_name("devices"))
    await asyncio.to_thread(devices.connect)
    try:
        await devices.publish_all_async(messages)
    finally:
        await asyncio.to_thread(devices.close)


async def test_a_running_system_counts_what_happened_and_exports_what_the_rules_name(
    db: asyncpg.Connection, running_system: System
) -> None:
    stack, http, sms = running_system.stack, running_system.http, running_system.sms
    await publish(running_system.devices, _messages(datetime.now(UTC)))
    stack.ingest.heartbeat_now()
    own_url, database_url = f"{stack.api_url}/metrics", f"{stack.api_url}/metrics/database"

    async def everything_measured() -> bool:
        s = (await _scrape(http, own_url)).samples
        return (
            s.get("eldercare_ingest_readings_stored_total") == READINGS + 1  # and the smoke
            and s.get("eldercare_heartbeat_round_trip_seconds_count", 0) >= 1
            and s.get("eldercare_detector_lag_seconds_count", 0) >= 1
            and s.get("eldercare_finding_to_alert_seconds_count", 0) >= 1
            and s.get('eldercare_alert_to_gateway_seconds_count{channel="sms"}', 0) >= 1
        )

    await wait_until(everything_measured, 60, "the smoke alarm's texts to be counted")

    async def deliveries_settled() -> bool:
        # Nothing due is left unsent, and every recorded result is counted (a result is
        # counted right after its transaction commits).
        due = await db.fetchval(
            "SELECT count(*) FROM alert_deliveries WHERE status IN ('pending', 'sending')"
            " AND next_attempt_at <= now()"
        )
        s = (await _scrape(http, own_url)).samples
        return (
            due == 0
            and _by_channel(s, "eldercare_alert_to_gateway_seconds_count")
            == await _deliveries(db, "sent")
            and _by_channel(s, "eldercare_delivery_failures_total")
            == await _deliveries(db, "failed")
        )

    await wait_until(deliveries_settled, 60, "the deliveries to settle")
    own = await _scrape(http, own_url)
    database = await _scrape(http, database_url)
    s, d = own.samples, database.samples

    # Ingest: every reading counted once, exactly what the database holds; the bad one
    # counted under its reason.
    stored = await db.fetchval("SELECT count(*) FROM readings")
    assert s["eldercare_ingest_readings_stored_total"] == stored == READINGS + 1
    assert sum(v for k, v in s.items() if k.startswith("eldercare_ingest_dead_letters_total{")) == 1
    assert s["eldercare_ingest_receive_to_commit_seconds_count"] >= READINGS + 2
    # The meter's readings were up to READINGS minutes old when they arrived.
    assert s['eldercare_ingest_device_to_commit_seconds_bucket{le="900.0"}'] < READINGS + 1
    assert s['eldercare_ingest_device_to_commit_seconds_bucket{le="3600.0"}'] >= READINGS + 1
    assert s["eldercare_ingest_unacked_messages"] >= 0
    assert s["eldercare_heartbeat_last_committed_timestamp_seconds"] > 0
    # The smoke alarm: texts went out through the gateway, each counted once, by channel;
    # the resident's call failed (no voice gateway configured) and is counted as such.
    texts = len(sms.messages)
    assert texts >= 1
    assert s['eldercare_alert_to_gateway_seconds_count{channel="sms"}'] == texts
    assert s['eldercare_delivery_failures_total{channel="voice",outcome="failed"}'] >= 1

    # The deployment's figures, from the database, in their own scrape only.
    assert d["eldercare_devices"] == 2 and d["eldercare_devices_reporting"] == 2
    assert d['eldercare_open_alerts{severity="critical"}'] >= 1
    assert d['eldercare_unacknowledged_alerts{severity="critical"}'] >= 1
    assert 0 <= d["eldercare_heartbeat_age_seconds"] < 60
    assert d["eldercare_dead_letters_total"] == 1
    assert not set(own.families) & set(database.families), "a figure in both scrapes"

    # Every metric the rules and the dashboard name is one this system exports.
    families = {**own.families, **database.families}
    unknown = []
    for where, expr in shipped_expressions().items():
        for name in names_in(expr):
            if name.startswith("eldercare_"):
                if family_of(name, families) is None:
                    unknown.append(f"{where}: {name}")
            elif name not in PROMQL_WORDS | LABELS | PROMETHEUS_OWN:
                unknown.append(f"{where}: {name} (not a metric, function or label we know)")
        for job in re.findall(r'job=~?"([^"]*)"', expr):
            if not any(re.fullmatch(job, name) for name in scrape_jobs()):
                unknown.append(f"{where}: job {job!r} is no job of prometheus.yml")
    assert not unknown, "\n".join(unknown)


def _by_channel(samples: dict[str, float], name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in samples.items():
        if key.startswith(name + "{"):
            channel = re.search(r'channel="([^"]*)"', key)
            assert channel is not None
            out[channel.group(1)] = out.get(channel.group(1), 0) + value
    return out


async def _deliveries(db: asyncpg.Connection, status: str) -> dict[str, float]:
    rows = await db.fetch(
        "SELECT channel, count(*) AS n FROM alert_deliveries WHERE status = $1 GROUP BY channel",
        status,
    )
    return {r["channel"]: float(r["n"]) for r in rows}


def test_counts_are_written_exactly() -> None:
    # prometheus_client writes Go's float format: 1234567 as 1.234567e+06, every digit
    # kept (never %g's 1.23457e+06).
    figures = Metrics(
        readings_inserted=1_234_567_891, readings_estimated_rows=1_234_567, devices_total=12_345,
        devices_reporting=12_001, last_received_age_s=1.5, dead_letters=1_000_003,
        detector_lag_s=None, outbox_backlog=0, outbox_oldest_due_age_s=None,
        open_alerts=dict.fromkeys(SEVERITIES, 0),
        unacknowledged_alerts=dict.fromkeys(SEVERITIES, 0),
        oldest_unacknowledged_age_s=None, heartbeat_age_s=2.25, database_bytes=123_456_789_012,
    )  # fmt: skip
    samples = parse_exposition(database_exposition(figures).decode()).samples
    assert samples["eldercare_readings_total"] == 1_234_567_891
    assert samples["eldercare_readings_rows_estimate"] == 1_234_567
    assert samples["eldercare_dead_letters_total"] == 1_000_003
    assert samples["eldercare_database_size_bytes"] == 123_456_789_012
    assert samples["eldercare_heartbeat_age_seconds"] == 2.25
    # Unknown is no sample, never a made-up zero.
    assert "eldercare_detector_state_age_seconds" not in samples


def test_batch_histograms_count_as_prometheus_client_does() -> None:
    values = [0.0, 0.001, 0.0011, 0.05, 0.3, 1.0, 7.0, 59.9, 60.0, 61.0, 3600.0, -2.0]
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    batch = BatchHistogram("latency_seconds", "x", FAST_BUCKETS_S, ours)
    single = Histogram("latency_seconds", "x", buckets=FAST_BUCKETS_S, registry=theirs)
    batch.observe_many(values[:5])
    batch.observe_many(values[5:])
    for value in values:
        single.observe(max(0.0, value))
    ours_samples = parse_exposition(generate_latest(ours).decode()).samples
    theirs_samples = parse_exposition(generate_latest(theirs).decode()).samples
    del theirs_samples["latency_seconds_created"]
    assert ours_samples == theirs_samples
    assert ours_samples['latency_seconds_bucket{le="60.0"}'] == 10


def test_promtool_accepts_the_rules_and_the_config() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    config = str(PROMETHEUS / "prometheus.yml")
    for args in (["check", "rules", str(PROMETHEUS / "rules.yml")],
                 ["check", "config", "--syntax-only", config]):  # fmt: skip
        done = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
