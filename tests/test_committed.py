"""The committed-readings log's pure parts: partitions by home, shares of them, the wire."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.committed import decode_committed, owned_partitions, partition_of, split_committed
from core.pipeline import CommittedBatch, Heartbeat
from core.readings import Channel, DeviceType, Reading
from core.settings import Settings, SettingsError

PARTITION_OF_HOME_000 = 62  # zlib.crc32(b"home-000") % 64
AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_every_partition_has_exactly_one_owner_among_the_workers() -> None:
    for count in (1, 2, 3, 7):
        shares = [owned_partitions(i, count, 64) for i in range(count)]
        assert sorted(p for share in shares for p in share) == list(range(64))


def test_a_home_is_in_the_same_partition_on_every_machine() -> None:
    # CRC-32, not Python's hash() (salted per process): a value fixed for good.
    assert partition_of("home-000", 64) == PARTITION_OF_HOME_000


def test_a_batch_split_by_partition_comes_back_as_it_was() -> None:
    meter = Reading("meter-1", DeviceType.WATER_METER, Channel.TELEMETRY, AT, 7, AT,
                    battery_pct=88.0, volume_l=1234.5, flow_lpm=6.0)  # fmt: skip
    pir = Reading("pir-2", DeviceType.PIR, Channel.TELEMETRY, AT, 3, AT, motion=True, room="hall")
    beat = Heartbeat("ingest-1", 5, AT, AT)
    batch = CommittedBatch((meter, pir), AT, {"pir-2": 1}, (beat,))
    parts = split_committed(batch, {"meter-1": "home-a", "pir-2": "home-b"}, 8)
    assert len(parts) == 8  # a heartbeat goes to every partition
    decoded = [decode_committed(data) for data in parts.values()]
    assert {r for b in decoded for r in b.readings} == {meter, pir}
    assert decoded[partition_of("home-b", 8)].rejected == {"pir-2": 1}
    assert all(b.heartbeats == (beat,) and b.committed_at == AT for b in decoded)


def test_what_is_not_a_committed_batch_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="not a committed batch"):
        decode_committed(b'{"v":1}')


def test_a_bad_detector_share_is_refused_with_the_expected_form() -> None:
    with pytest.raises(SettingsError, match="ELDERCARE_DETECTOR_SHARE: expected INDEX/COUNT"):
        Settings.from_env({"ELDERCARE_DETECTOR_SHARE": "2/2"})
    with pytest.raises(SettingsError, match="ELDERCARE_NATS_URL: expected nats://"):
        Settings.from_env({"ELDERCARE_NATS_URL": "http://x"})
