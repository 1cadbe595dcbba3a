"""Settings and command-line input: clear errors at the edge."""

from __future__ import annotations

import subprocess
import sys

import pytest

from alerts.config import ChannelSettings
from core.settings import Settings, SettingsError, parse_mqtt_url


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None and settings.mqtt_url is None
    assert settings.ingest_batch_size == 1000 and settings.default_timezone == "Asia/Shanghai"


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
        ({"ELDERCARE_API_HOST": "a b"}, "ELDERCARE_API_HOST: expected a host name"),
        ({"ELDERCARE_API_SECURE_COOKIES": "maybe"}, "ELDERCARE_API_SECURE_COOKIES: expected true"),
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
