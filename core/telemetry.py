"""What each stage measures of itself for Prometheus: latencies as histograms, events as
counters, on a registry the process owns (never prometheus_client's global one, so two
stacks in one test run, or a restarted stage, never see each other's figures).

One registry per process, with the metrics of the stages that process runs and no
others (a lone ingest worker exports no alert figures, nor the alert process a heartbeat
that never comes): `Telemetry` for the whole stack, or one stage's part `on` a registry
of its own. The stages take their part through their constructors; a stage built
without one gets a private registry nobody scrapes (`unexported()`). What
the database holds (devices, open alerts, the outbox) is not here: it is read fresh at
scrape time, once for the whole deployment (api/routes/ops.py, storage/metrics.py).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

# Seconds, for latencies inside one process or one transaction.
FAST_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                  10.0, 30.0, 60.0)  # fmt: skip
# Seconds, for what crosses the broker, a queue or a gateway: up to minutes.
PIPELINE_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                      120.0, 300.0, 900.0)  # fmt: skip
# Seconds from a device's own measurement time: NB-IoT meters upload a day's reads at
# once, and a device back from an outage sends hours of them.
DEVICE_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
                    3600.0, 21600.0, 86400.0, 259200.0)  # fmt: skip


class BatchHistogram(Collector):
    """A histogram fed a whole batch at once, for ingest's per-message latencies.

    prometheus_client's Histogram takes one value per call, under locks (about 2 µs a
    value here); ingest observes two values for each of up to 20,000 messages a second,
    so this one bins a batch in one loop (about 0.7 µs a value). It is fed and scraped
    on the event loop only, so it needs no lock. Exposed as an ordinary histogram.
    """

    def __init__(
        self, name: str, documentation: str, buckets: Iterable[float], registry: CollectorRegistry
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._bounds = sorted(buckets)
        self._counts = [0] * (len(self._bounds) + 1)  # the last: above every bound (+Inf)
        self._sum = 0.0
        registry.register(self)

    def observe_many(self, values: Iterable[float]) -> None:
        """Count every value in its bucket (a value on a bound counts in that bucket; a
        negative one, from a clock running ahead, as zero)."""
        counts, bounds, total = self._counts, self._bounds, 0.0
        for value in values:
            if value > 0:
                counts[bisect_left(bounds, value)] += 1
                total += value
            else:
                counts[0] += 1
        self._sum += total

    def collect(self) -> Iterator[Metric]:
        cumulative, running = [], 0
        for bound, count in zip([*self._bounds, float("inf")], self._counts, strict=True):
            running += count
            cumulative.append((floatToGoString(bound), running))
        yield HistogramMetricFamily(
            self._name, self._documentation, buckets=cumulative, sum_value=self._sum
        )


@dataclass(frozen=True, slots=True)
class IngestTelemetry:
    """Ingest's figures: what it stored, refused, and how long that took."""

    device_to_commit: BatchHistogram
    receive_to_commit: BatchHistogram
    commit_duration: Histogram
    readings_stored: Counter
    duplicates: Counter
    dead_letters: Counter  # label: reason (the kind, storage/dead_letters.reason_kind)
    heartbeat_round_trip: Histogram
    heartbeat_committed: Gauge  # unix time of the latest heartbeat committed

    @classmethod
    def unexported(cls) -> IngestTelemetry:
        """Metrics on a registry of their own, which nobody scrapes."""
        return cls.on(CollectorRegistry())

    @classmethod
    def on(cls, registry: CollectorRegistry) -> IngestTelemetry:
        """Ingest's metrics, registered on `registry`."""
        return cls(
            device_to_commit=BatchHistogram(
                "eldercare_ingest_device_to_commit_seconds",
                "From a reading's own time (ts) to its commit.",
                DEVICE_BUCKETS_S,
                registry,
            ),
            receive_to_commit=BatchHistogram(
                "eldercare_ingest_receive_to_commit_seconds",
                "From a message's receipt from the broker to its commit (batching included).",
                FAST_BUCKETS_S,
                registry,
            ),
            commit_duration=Histogram(
                "eldercare_ingest_commit_duration_seconds",
                "Writing one batch until it commits (retries during an outage included).",
                buckets=FAST_BUCKETS_S,
                registry=registry,
            ),
            readings_stored=Counter(
                "eldercare_ingest_readings_stored",
                "Readings this process inserted (redelivered duplicates not counted).",
                registry=registry,
            ),
            duplicates=Counter(
                "eldercare_ingest_duplicates",
                "Readings received again and already stored (redeliveries).",
                registry=registry,
            ),
            dead_letters=Counter(
                "eldercare_ingest_dead_letters",
                "Messages (or batched-upload elements) refused, by reason.",
                ["reason"],
                registry=registry,
            ),
            heartbeat_round_trip=Histogram(
                "eldercare_heartbeat_round_trip_seconds",
                "Ingest's heartbeat from publishing to receiving it back through the broker.",
                buckets=PIPELINE_BUCKETS_S,
                registry=registry,
            ),
            heartbeat_committed=Gauge(
                "eldercare_heartbeat_last_committed_timestamp_seconds",
                "Unix time at which this process last committed its own heartbeat.",
                registry=registry,
            ),
        )


@dataclass(frozen=True, slots=True)
class DetectorTelemetry:
    """The detectors' figures."""

    lag: Histogram

    @classmethod
    def unexported(cls) -> DetectorTelemetry:
        """Metrics on a registry of their own, which nobody scrapes."""
        return cls.on(CollectorRegistry())

    @classmethod
    def on(cls, registry: CollectorRegistry) -> DetectorTelemetry:
        """The detectors' metrics, registered on `registry`."""
        return cls(
            lag=Histogram(
                "eldercare_detector_lag_seconds",
                "From ingest's commit of a batch to the detectors having judged it.",
                buckets=FAST_BUCKETS_S,
                registry=registry,
            )
        )


@dataclass(frozen=True, slots=True)
class AlertTelemetry:
    """The alert stage's figures."""

    finding_to_alert: Histogram
    alert_to_gateway: Histogram  # label: channel
    delivery_failures: Counter  # labels: channel, outcome (retry | failed)

    @classmethod
    def unexported(cls) -> AlertTelemetry:
        """Metrics on a registry of their own, which nobody scrapes."""
        return cls.on(CollectorRegistry())

    @classmethod
    def on(cls, registry: CollectorRegistry) -> AlertTelemetry:
        """The alert stage's metrics, registered on `registry`."""
        return cls(
            finding_to_alert=Histogram(
                "eldercare_finding_to_alert_seconds",
                "From a finding being stored to the alert stage having applied it.",
                buckets=PIPELINE_BUCKETS_S,
                registry=registry,
            ),
            alert_to_gateway=Histogram(
                "eldercare_alert_to_gateway_seconds",
                "From a notification being due to its gateway accepting it, by channel.",
                ["channel"],
                buckets=PIPELINE_BUCKETS_S,
                registry=registry,
            ),
            delivery_failures=Counter(
                "eldercare_delivery_failures",
                "Delivery attempts that failed, by channel and outcome (retry: another"
                " attempt follows; failed: the delivery gave up).",
                ["channel", "outcome"],
                registry=registry,
            ),
        )


@dataclass(frozen=True, slots=True)
class Telemetry:
    """The whole pipeline's metrics (`eldercare run`), every stage's, on one registry."""

    registry: CollectorRegistry
    ingest: IngestTelemetry
    detectors: DetectorTelemetry
    alerts: AlertTelemetry

    @classmethod
    def create(cls) -> Telemetry:
        """Fresh metrics on a fresh registry."""
        registry = CollectorRegistry()
        return cls(
            registry,
            IngestTelemetry.on(registry),
            DetectorTelemetry.on(registry),
            AlertTelemetry.on(registry),
        )
