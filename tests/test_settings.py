"""Settings and command-line input: clear errors at the edge."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from alerts.config import ChannelSettings
from core.settings import Settings, SettingsError, parse_mqtt_url
from ingest.config import IngestConfig


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None and settings.mqtt_url is None
    assert settings.ingest_batch_size == 1000 and settings.default_timezone == "Asia/Shanghai"


def test_ingest_settings_reach_the_ingest_config() -> None:
    defaults = IngestConfig.from_settings(Settings.from_env({}))
    assert defaults.max_age == timedelta(days=400) and defaults.heartbeat_s == 10
    assert defaults.dead_letters_per_device_hour == 60
    config = IngestConfig.from_settings(Settings.from_env({
        "ELDERCARE_INGEST_MAX_AGE_DAYS": "30", "ELDERCARE_INGEST_HEARTBEAT_S": "2.5",
        "ELDERCARE_INGEST_DEAD_LETTERS_PER_DEVICE_HOUR": "5",
    }))  # fmt: skip
    assert (config.max_age, config.heartbeat_s, config.dead_letters_per_device_hour) == (
        timedelta(days=30), 2.5, 5,
    )  # fmt: skip


def test_an_empty_share_group_turns_share_off() -> None:
    def topic_filter(env: dict[str, str]) -> str:
        return IngestConfig.from_settings(Settings.from_env(env)).topic_filter

    assert topic_filter({}) == "$share/ingest/eldercare/v1/devices/+/+"
    assert topic_filter({"ELDERCARE_INGEST_SHARE_GROUP": "west"}).startswith("$share/west/")
    # Set but empty: as --help says, no $share (another empty setting means its default).
    assert topic_filter({"ELDERCARE_INGEST_SHARE_GROUP": ""}) == "eldercare/v1/devices/+/+"
    assert Settings.from_env({"ELDERCARE_INGEST_BATCH_SIZE": ""}).ingest_batch_size == 1000
    with pytest.raises(SettingsError, match="ELDERCARE_INGEST_SHARE_GROUP"):
        Settings.from_env({"ELDERCARE_INGEST_SHARE_GROUP": "a/b"})


def test_security_settings() -> None:
    defaults = Settings.from_env({})
    assert defaults.api_secure_cookies is True  # https behind a proxy is the normal case
    assert defaults.api_trusted_proxies is None and defaults.api_token_days == 90
    assert (defaults.metrics_token, defaults.metrics_port) == (None, None)
    settings = Settings.from_env({
        "ELDERCARE_API_TRUSTED_PROXIES": "172.30.53.10, fd00::/8",
        "ELDERCARE_WEBHOOK_ALLOWED_HOSTS": "Hooks.Intranet.example, 10.20.0.0/16",
    })  # fmt: skip
    assert [str(n) for n in settings.api_trusted_proxies or ()] == ["172.30.53.10/32", "fd00::/8"]
    channels = ChannelSettings.from_settings(settings)
    assert channels.webhook_policy.allowed_hosts == ("hooks.intranet.example", "10.20.0.0/16")


def test_smtp_url_and_channel_settings() -> None:
    settings = Settings.from_env({
        "ELDERCARE_SMTP_URL": "smtps://alerts:s%3Acret@mail.example",
        "ELDERCARE_VOICE_GATEWAY_URL": "https://voice.example/",
        "ELDERCARE_VOICE_CALLBACK_URL": "https://us.example/callbacks/voice",
        "ELDERCARE_VOICE_CALLBACK_SECRET": "0123456789abcdef",
    })  # fmt: skip
    channels = ChannelSettings.from_settings(settings)
    assert channels.smtp is not None
    assert (channels.smtp.port, channels.smtp.use_tls, channels.smtp.password) == (
        465, True, "s:cret",
    )  # fmt: skip
    assert "s:cret" not in repr(channels) and "0123456789abcdef" not in repr(channels)
    assert channels.voice_base_url == "https://voice.example"
    assert channels.voice_callback_secret == b"0123456789abcdef"
    assert channels.sms_base_url is None  # not configured: no SMS channel


def test_mqtt_url_with_credentials() -> None:
    target = parse_mqtt_url("mqtt://ingest:p%40ss@broker.local:1884")
    assert (target.host, target.port, target.username, target.password) == (
        "broker.local", 1884, "ingest", "p@ss",
    )  # fmt: skip
    assert "p@ss" not in repr(target)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ELDERCARE_MQTT_URL": "http://x"}, "ELDERCARE_MQTT_URL: expected mqtt://"),
        ({"ELDERCARE_DATABASE_URL": "mysql://x"}, "ELDERCARE_DATABASE_URL: expected postgresql://"),
        ({"ELDERCARE_INGEST_BATCH_SIZE": "0"}, "ELDERCARE_INGEST_BATCH_SIZE: must be a positive"),
        ({"ELDERCARE_INGEST_BATCH_SIZE": "lots"}, "ELDERCARE_INGEST_BATCH_SIZE: invalid literal"),
        ({"ELDERCARE_DEFAULT_TIMEZONE": "Nowhere/City"}, "ELDERCARE_DEFAULT_TIMEZONE: not an IANA"),
        ({"ELDERCARE_MQTT_PROTOCOL": "4"}, "ELDERCARE_MQTT_PROTOCOL: must be 5 or 3.1.1"),
        (
            {"ELDERCARE_INGEST_MAX_INFLIGHT": "10"},
            "ELDERCARE_INGEST_MAX_INFLIGHT: must be at least",
        ),
        ({"ELDERCARE_API_PORT": "70000"}, "ELDERCARE_API_PORT: expected a TCP port"),
        ({"ELDERCARE_INGEST_MAX_AGE_DAYS": "0"}, "ELDERCARE_INGEST_MAX_AGE_DAYS: must be a"),
        ({"ELDERCARE_INGEST_HEARTBEAT_S": "-1"}, "ELDERCARE_INGEST_HEARTBEAT_S: must be a"),
        ({"ELDERCARE_INGEST_HEARTBEAT_S": "nan"}, "ELDERCARE_INGEST_HEARTBEAT_S: must be a"),
        (
            {"ELDERCARE_INGEST_DEAD_LETTERS_PER_DEVICE_HOUR": "0"},
            "ELDERCARE_INGEST_DEAD_LETTERS_PER_DEVICE_HOUR: must be a",
        ),
        ({"ELDERCARE_INGEST_CLIENT_ID": "ingest.1"}, "ELDERCARE_INGEST_CLIENT_ID: must be 1 to 64"),
        ({"ELDERCARE_API_HOST": "a b"}, "ELDERCARE_API_HOST: expected a host name"),
        ({"ELDERCARE_API_SECURE_COOKIES": "maybe"}, "ELDERCARE_API_SECURE_COOKIES: expected true"),
        (
            {"ELDERCARE_API_TRUSTED_PROXIES": "10.0.0.1, proxy.local"},
            "ELDERCARE_API_TRUSTED_PROXIES: expected IP addresses or networks",
        ),
        ({"ELDERCARE_METRICS_TOKEN": "short"}, "ELDERCARE_METRICS_TOKEN: use at least 16"),
        (
            {"ELDERCARE_WEBHOOK_ALLOWED_HOSTS": "http://x.example"},
            "ELDERCARE_WEBHOOK_ALLOWED_HOSTS: expected host names",
        ),
        (
            {"ELDERCARE_DISPATCH_LEASE_S": "30", "ELDERCARE_DISPATCH_SEND_TIMEOUT_S": "30"},
            "ELDERCARE_DISPATCH_LEASE_S: must exceed",
        ),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_cli_help_lists_the_settings_and_bad_setting_exits_2() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "eldercare", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "ELDERCARE_DATABASE_URL" in help_text and "ELDERCARE_MQTT_URL" in help_text
    result = subprocess.run(
        [sys.executable, "-m", "eldercare", "db", "migrate"],
        env={"ELDERCARE_MQTT_URL": "tcp://nope", "PATH": ""}, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "bad setting: ELDERCARE_MQTT_URL" in result.stderr
