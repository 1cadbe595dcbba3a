"""Settings from the environment, validated once at start-up into a frozen value."""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import platformdirs


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


@dataclass(frozen=True, slots=True)
class MqttTarget:
    """Where the broker is and how to log in."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    def __repr__(self) -> str:  # never print the password
        return f"MqttTarget(host={self.host!r}, port={self.port}, username={self.username!r})"


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    """Where to hand e-mail over, and how to log in."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    # smtps:// is implicit TLS; with smtp:// the client upgrades by STARTTLS when offered.
    use_tls: bool = False

    def __repr__(self) -> str:  # never print the password
        return f"SmtpTarget(host={self.host!r}, port={self.port}, username={self.username!r})"


@dataclass(frozen=True, slots=True)
class _ServiceUrl:
    host: str
    port: int
    username: str | None
    password: str | None
    secure: bool


def _service_url(url: str, plain: str, secure: str, ports: tuple[int, int]) -> _ServiceUrl:
    """Split `scheme://[user:pass@]host[:port]` for a plain or TLS scheme and its ports."""
    parts = urlsplit(url)
    if parts.scheme not in (plain, secure) or not parts.hostname:
        raise ValueError(f"expected {plain}://[user:pass@]host[:port] or {secure}://...")
    is_secure = parts.scheme == secure
    try:
        port = parts.port or ports[is_secure]
    except ValueError as exc:
        raise ValueError(f"bad port: {exc}") from exc
    return _ServiceUrl(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        secure=is_secure,
    )


def _host(text: str) -> str:
    if not text or any(c.isspace() or c in "/@" for c in text):
        raise ValueError(f"expected a host name or IP address, got {text!r}")
    return text


def _yes_no(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"expected true or false, got {text!r}")
    return value in ("true", "1", "yes")


def _tcp_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(f"expected a TCP port from 0 to 65535 (0: any free one), got {text!r}")
    return port


def parse_mqtt_url(url: str) -> MqttTarget:
    """`mqtt://user:pass@host:1883` (or `mqtts://`) → MqttTarget."""
    u = _service_url(url, "mqtt", "mqtts", (1883, 8883))
    return MqttTarget(u.host, u.port, u.username, u.password, tls=u.secure)


def parse_smtp_url(url: str) -> SmtpTarget:
    """`smtp://user:pass@host:587` or `smtps://...:465` → SmtpTarget."""
    u = _service_url(url, "smtp", "smtps", (25, 465))
    return SmtpTarget(u.host, u.port, u.username, u.password, use_tls=u.secure)


def _http_base(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return text.rstrip("/")


# HMAC keys shorter than this are guessable; refuse them at start-up.
MIN_SECRET_CHARS = 16


def _secret(text: str) -> str:
    if len(text) < MIN_SECRET_CHARS:
        raise ValueError(f"use at least {MIN_SECRET_CHARS} characters")
    return text


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _timezone(text: str) -> str:
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("not an IANA time zone name") from exc
    return text


def _database_url(text: str) -> str:
    if not text.startswith(("postgresql://", "postgres://")):
        raise ValueError("expected postgresql://user@host:port/dbname")
    return text


def _mqtt_protocol(text: str) -> str:
    if text not in ("5", "3.1.1"):
        raise ValueError("must be 5 or 3.1.1")
    return text


def _log_level(text: str) -> str:
    if text.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return text.upper()


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One environment variable: its field, default, meaning and parser."""

    env: str
    field: str
    default: str | None
    description: str
    parse: Callable[[str], Any]


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "ELDERCARE_DATABASE_URL",
        "database_url",
        None,
        "PostgreSQL URL; unset means an embedded PostgreSQL in the data dir",
        _database_url,
    ),
    SettingSpec(
        "ELDERCARE_MQTT_URL",
        "mqtt_url",
        None,
        "broker URL mqtt://user:pass@host:1883; unset means an in-process broker",
        parse_mqtt_url,
    ),
    SettingSpec(
        "ELDERCARE_SIMULATOR_MQTT_URL",
        "simulator_mqtt_url",
        None,
        "broker login the simulators publish with (default: ELDERCARE_MQTT_URL)",
        parse_mqtt_url,
    ),
    SettingSpec(
        "ELDERCARE_SIMULATOR_DEVICE_PASSWORD_TEMPLATE",
        "simulator_device_password_template",
        None,
        "per-device broker password for simulated devices, {device_id} replaced",
        str,
    ),
    SettingSpec(
        "ELDERCARE_SMTP_URL",
        "smtp_url",
        None,
        "e-mail channel: smtp://user:pass@host:587 or smtps://...; unset = no e-mail",
        parse_smtp_url,
    ),
    SettingSpec(
        "ELDERCARE_MAIL_FROM",
        "mail_from",
        "eldercare@localhost",
        "sender of alert e-mail",
        str,
    ),
    SettingSpec(
        "ELDERCARE_SMS_GATEWAY_URL",
        "sms_gateway_url",
        None,
        "SMS channel: base URL of the HTTP SMS gateway; unset = no SMS",
        _http_base,
    ),
    SettingSpec(
        "ELDERCARE_SMS_GATEWAY_TOKEN",
        "sms_gateway_token",
        None,
        "bearer token for the SMS gateway",
        str,
    ),
    SettingSpec(
        "ELDERCARE_VOICE_GATEWAY_URL",
        "voice_gateway_url",
        None,
        "check-in call channel: base URL of the voice gateway (needs the two below)",
        _http_base,
    ),
    SettingSpec(
        "ELDERCARE_VOICE_GATEWAY_TOKEN",
        "voice_gateway_token",
        None,
        "bearer token for the voice gateway",
        str,
    ),
    SettingSpec(
        "ELDERCARE_VOICE_CALLBACK_URL",
        "voice_callback_url",
        None,
        "where the voice gateway posts call results (our callback endpoint)",
        _http_base,
    ),
    SettingSpec(
        "ELDERCARE_VOICE_CALLBACK_SECRET",
        "voice_callback_secret",
        None,
        f"shared secret signing call-result callbacks (at least {MIN_SECRET_CHARS} characters)",
        _secret,
    ),
    SettingSpec(
        "ELDERCARE_WEBHOOK_SECRET",
        "webhook_secret",
        None,
        f"HMAC key signing outgoing webhooks (at least {MIN_SECRET_CHARS} characters)",
        _secret,
    ),
    SettingSpec(
        "ELDERCARE_MQTT_PROTOCOL",
        "mqtt_protocol",
        "5",
        "MQTT protocol version for ingest: 5 (shared subscriptions) or 3.1.1",
        _mqtt_protocol,
    ),
    SettingSpec(
        "ELDERCARE_DATA_DIR",
        "data_dir",
        None,
        "where embedded services keep their data (default: the user data dir)",
        Path,
    ),
    SettingSpec(
        "ELDERCARE_DEFAULT_TIMEZONE",
        "default_timezone",
        "Asia/Shanghai",
        "IANA time zone for homes registered without one",
        _timezone,
    ),
    SettingSpec(
        "ELDERCARE_INGEST_CLIENT_ID",
        "ingest_client_id",
        "eldercare-ingest-1",
        "fixed MQTT client id of this ingest worker (its persistent session)",
        str,
    ),
    SettingSpec(
        "ELDERCARE_INGEST_SHARE_GROUP",
        "ingest_share_group",
        "ingest",
        "shared-subscription group for ingest workers (MQTT 5); empty to disable",
        str,
    ),
    SettingSpec(
        "ELDERCARE_INGEST_BATCH_SIZE",
        "ingest_batch_size",
        "1000",
        "messages per database write",
        _positive_int,
    ),
    SettingSpec(
        "ELDERCARE_INGEST_FLUSH_MS",
        "ingest_flush_ms",
        "50",
        "longest a message waits for its batch to fill, in milliseconds",
        _positive_int,
    ),
    SettingSpec(
        "ELDERCARE_INGEST_MAX_INFLIGHT",
        "ingest_max_inflight",
        "4000",
        "unacknowledged messages held before ingest stops reading (backpressure)",
        _positive_int,
    ),
    SettingSpec(
        "ELDERCARE_DISPATCH_SEND_TIMEOUT_S",
        "dispatch_send_timeout_s",
        "60",
        "seconds a gateway may take to accept a message before the attempt counts as failed",
        _positive_int,
    ),
    SettingSpec(
        "ELDERCARE_DISPATCH_LEASE_S",
        "dispatch_lease_s",
        "120",
        "seconds a dispatcher holds a message it is sending; after a crash another"
        " dispatcher resends it (same idempotency key) once this has passed",
        _positive_int,
    ),
    SettingSpec(
        "ELDERCARE_API_HOST",
        "api_host",
        "127.0.0.1",
        "address the console and API listen on (0.0.0.0: every interface)",
        _host,
    ),
    SettingSpec(
        "ELDERCARE_API_PORT",
        "api_port",
        "8080",
        "TCP port of the console and API",
        _tcp_port,
    ),
    SettingSpec(
        "ELDERCARE_API_SECURE_COOKIES",
        "api_secure_cookies",
        "false",
        "mark the console's session cookie Secure: set true when it is served over https"
        " (behind a TLS proxy)",
        _yes_no,
    ),
    SettingSpec(
        "ELDERCARE_LOG_LEVEL",
        "log_level",
        "INFO",
        "DEBUG, INFO, WARNING or ERROR",
        _log_level,
    ),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated settings; see SETTINGS for each variable's meaning."""

    database_url: str | None
    mqtt_url: MqttTarget | None
    simulator_mqtt_url: MqttTarget | None
    simulator_device_password_template: str | None
    smtp_url: SmtpTarget | None
    mail_from: str
    sms_gateway_url: str | None
    sms_gateway_token: str | None
    voice_gateway_url: str | None
    voice_gateway_token: str | None
    voice_callback_url: str | None
    voice_callback_secret: str | None
    webhook_secret: str | None
    mqtt_protocol: str
    data_dir: Path
    default_timezone: str
    ingest_client_id: str
    ingest_share_group: str
    ingest_batch_size: int
    ingest_flush_ms: int
    ingest_max_inflight: int
    dispatch_send_timeout_s: int
    dispatch_lease_s: int
    api_host: str
    api_port: int
    api_secure_cookies: bool
    log_level: str

    def __repr__(self) -> str:  # the database URL may carry a password
        return f"Settings(data_dir={self.data_dir!s}, mqtt={self.mqtt_url!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every setting; raise SettingsError naming the bad one."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for spec in SETTINGS:
            raw = env.get(spec.env) or spec.default
            if raw is None:
                values[spec.field] = None
                continue
            try:
                values[spec.field] = spec.parse(raw)
            except ValueError as exc:
                raise SettingsError(f"{spec.env}: {exc}") from exc
        if values["data_dir"] is None:
            values["data_dir"] = Path(platformdirs.user_data_dir("eldercare"))
        if values["voice_gateway_url"] and not (
            values["voice_callback_url"] and values["voice_callback_secret"]
        ):
            raise SettingsError(
                "ELDERCARE_VOICE_GATEWAY_URL needs ELDERCARE_VOICE_CALLBACK_URL and"
                " ELDERCARE_VOICE_CALLBACK_SECRET"
            )
        if values["ingest_max_inflight"] < values["ingest_batch_size"]:
            raise SettingsError(
                "ELDERCARE_INGEST_MAX_INFLIGHT: must be at least ELDERCARE_INGEST_BATCH_SIZE"
            )
        if values["dispatch_lease_s"] <= values["dispatch_send_timeout_s"]:
            raise SettingsError(
                "ELDERCARE_DISPATCH_LEASE_S: must exceed ELDERCARE_DISPATCH_SEND_TIMEOUT_S,"
                " or a slow gateway would see one message from two dispatchers"
            )
        return cls(**values)


def settings_help() -> str:
    """A plain-text table of the settings for `--help`."""
    lines = ["settings (environment variables):"]
    for spec in SETTINGS:
        default = f" [default: {spec.default}]" if spec.default is not None else ""
        lines.append(f"  {spec.env}\n      {spec.description}{default}")
    return "\n".join(lines)
