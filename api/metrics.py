"""The two Prometheus expositions: this process's own figures, and the database's.

`/metrics` is this process: the stages' histograms and counters (core/telemetry.py, on
the registry the process owns) and ingest's queue when ingest runs here. Every replica
has its own, so every replica is scraped.

`/metrics/database` is the deployment: devices, open alerts, the outbox, the heartbeat,
read fresh from the database at each scrape (storage/metrics.py). Every replica would
say the same, so it is scraped once, as a job of its own (deploy/prometheus); it is
never part of `/metrics`, so adding replicas never repeats it.

prometheus_client writes the text format (numbers included: 1234567 is written exactly,
never rounded to six digits).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from storage.metrics import Metrics

# The classic text format generate_latest writes.
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Families(Collector):
    """A collector of metric families computed before the scrape (from an async read)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def _exposition(families: Iterable[Metric]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)


def process_exposition(registry: CollectorRegistry | None, ingest_unacked: int | None) -> bytes:
    """This process's metrics: its stages' figures and ingest's queue (when it runs here)."""
    extra: list[Metric] = []
    if ingest_unacked is not None:  # no ingest here: no sample, never a made-up zero
        extra.append(GaugeMetricFamily(
            "eldercare_ingest_unacked_messages",
            "Messages this process's ingest holds, received but not yet committed (its queue).",
            value=ingest_unacked,
        ))  # fmt: skip
    own = generate_latest(registry) if registry is not None else b""
    return own + _exposition(extra)


def _gauge(name: str, help_: str, value: float | None) -> Iterator[Metric]:
    # Unknown (no message ever, nothing overdue) is no sample, never a made-up zero; the
    # family is still declared, so a dashboard or rule naming it finds it.
    yield (
        GaugeMetricFamily(name, help_)
        if value is None
        else GaugeMetricFamily(name, help_, value=value)
    )


def _by_severity(name: str, help_: str, counts: dict[str, int]) -> Metric:
    family = GaugeMetricFamily(name, help_, labels=["severity"])
    for severity, n in counts.items():
        family.add_metric([severity], n)
    return family


def database_families(m: Metrics) -> Iterator[Metric]:
    """The deployment-wide figures of one snapshot."""
    yield CounterMetricFamily(
        "eldercare_readings",
        "Readings inserted (PostgreSQL statistics; resets with them).",
        value=m.readings_inserted,
    )
    yield GaugeMetricFamily(
        "eldercare_readings_rows_estimate",
        "Rows in the readings table (planner estimate).",
        value=m.readings_estimated_rows,
    )
    yield GaugeMetricFamily(
        "eldercare_devices", "Active registered devices.", value=m.devices_total
    )
    yield GaugeMetricFamily(
        "eldercare_devices_reporting",
        "Devices heard from in the last 5 minutes.",
        value=m.devices_reporting,
    )
    yield from _gauge(
        "eldercare_last_message_age_seconds",
        "Seconds since any device message was received.",
        m.last_received_age_s,
    )
    yield CounterMetricFamily(
        "eldercare_dead_letters",
        "Messages refused by ingest and kept as dead letters.",
        value=m.dead_letters,
    )
    yield from _gauge(
        "eldercare_detector_state_age_seconds",
        "Now minus the latest event time the detectors have saved their state at.",
        m.detector_lag_s,
    )
    yield from _gauge(
        "eldercare_heartbeat_age_seconds",
        "Seconds since any ingest worker last committed its own heartbeat.",
        m.heartbeat_age_s,
    )
    yield GaugeMetricFamily(
        "eldercare_outbox_backlog", "Notifications pending or being sent.", value=m.outbox_backlog
    )
    yield from _gauge(
        "eldercare_outbox_oldest_due_age_seconds",
        "How overdue the oldest pending notification is.",
        m.outbox_oldest_due_age_s,
    )
    yield _by_severity("eldercare_open_alerts", "Active alerts by severity.", m.open_alerts)
    yield _by_severity(
        "eldercare_unacknowledged_alerts",
        "Open alerts nobody has acknowledged yet, by severity.",
        m.unacknowledged_alerts,
    )
    yield from _gauge(
        "eldercare_oldest_unacknowledged_alert_age_seconds",
        "How long the oldest alert nobody has acknowledged has been open.",
        m.oldest_unacknowledged_age_s,
    )
    yield GaugeMetricFamily(
        "eldercare_database_size_bytes",
        "Size of the database on disk.",
        value=m.database_bytes,
    )


def database_exposition(m: Metrics) -> bytes:
    """The deployment-wide metrics of one snapshot, in the text format."""
    return _exposition(database_families(m))
