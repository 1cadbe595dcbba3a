"""Settings from the environment, validated once at start-up into a frozen value."""

from __future__ import annotations

import ipaddress
import os
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import platformdirs

from core.logs import LOG_FORMATS
from core.pipeline import WORKER_ID_PATTERN
from core.retention import DEFAULT_DAYS, KINDS, MIN_AUDIT_DAYS, RetentionError, RetentionPolicy


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


def _share_group(text: str) -> str:
    """A `$share` group name, or empty for none: one topic level, no wildcards."""
    if any(c in text for c in "/+#") or text != text.strip():
        raise ValueError(f"expected a group name without '/', '+', '#' or spaces, got {text!r}")
    return text


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


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise ValueError("must be a positive number of seconds")
    return value


def _worker_id(text: str) -> str:
    # The id names the worker's heartbeat topic (core/pipeline.py) as well as its session.
    if not WORKER_ID_PATTERN.fullmatch(text):
        raise ValueError("must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -")
    return text


def _timezone(text: str) -> str:
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("not an IANA time zone name") from exc
    return text


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(text: str) -> tuple[IpNetwork, ...]:
    """Comma-separated IP addresses or networks (CIDR) → networks."""
    found = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"expected IP addresses or networks (CIDR), got {part!r}") from None
    return tuple(found)


def _host_list(text: str) -> tuple[str, ...]:
    """Comma-separated host names, IP addresses or networks (CIDR), lower-cased."""
    hosts = tuple(h.strip().lower() for h in text.split(",") if h.strip())
    for host in hosts:
        if any(c.isspace() or c in "@?#" for c in host) or "://" in host:
            raise ValueError(f"expected host names or addresses, got {host!r}")
    return hosts


def _database_url(text: str) -> str:
    if not text.startswith(("postgresql://", "postgres://")):
        raise ValueError("expected postgresql://user@host:port/dbname")
    try:
        urlsplit(text).port  # noqa: B018 (parsing is the check)
    except ValueError as exc:
        raise ValueError(f"bad port: {exc}") from exc
    return text


def parse_nats_urls(text: str) -> tuple[str, ...]:
    """`nats://[user:pass@]host:4222[,nats://...]`: every node of the cluster, so the
    client can start from any of them and the streams know how many replicas to keep."""
    urls = tuple(part.strip() for part in text.split(",") if part.strip())
    if not urls:
        raise ValueError("expected nats://host:4222[,nats://host2:4222...]")
    for url in urls:
        _service_url(url, "nats", "tls", (4222, 4222))
    return urls


def _worker_share(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    try:
        share = (int(index), int(count))
    except ValueError:
        share = (-1, 0)
    if not sep or not 0 <= share[0] < share[1]:
        raise ValueError(f"expected INDEX/COUNT with 0 <= INDEX < COUNT (e.g. 0/2), got {text!r}")
    return share


def _mqtt_protocol(text: str) -> str:
    if text not in ("5", "3.1.1"):
        raise ValueError("must be 5 or 3.1.1")
    return text


def _log_format(text: str) -> str:
    if text.lower() not in LOG_FORMATS:
        raise ValueError("must be text or json")
    return text.lower()


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
    # Whether an empty value is a value of its own (`X=` turns a feature off) rather
    # than "use the default".
    empty_is_value: bool = False


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
        "ELDERCARE_BROKER_ADMIN_URL",
        "broker_admin_url",
        None,
        "the broker's dynamic-security admin login mqtt://admin:pass@host:1883, for"
        " `eldercare broker init` and `eldercare devices credentials`",
        parse_mqtt_url,
    ),
    SettingSpec(
        "ELDERCARE_NATS_URL",
        "nats_url",
        None,
        "NATS JetStream cluster nats://host:4222[,nats://host2:4222...] (every node) as"
        " ingest's transport and the log to the detectors; unset means MQTT as above",
        parse_nats_urls,
    ),
    SettingSpec(
        "ELDERCARE_NATS_PARTITIONS",
        "nats_partitions",
        "64",
        "partitions of the committed-readings stream (by home); fixed for a cluster's life",
        _positive_int,
    ),
    SettingSpec(
        "ELDERCARE_DETECTOR_SHARE",
        "detector_share",
        "0/1",
        "with NATS: this detector worker's share of the partitions, INDEX/COUNT",
        _worker_share,
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
        "fixed MQTT client id of this ingest worker (its persistent session and the name"
        " of its heartbeat topic)",
        _worker_id,
    ),
    SettingSpec(
        "ELDERCARE_INGEST_SHARE_GROUP",
        "ingest_share_group",
        "ingest",
        "shared-subscription group for ingest workers (MQTT 5); empty to disable",
        _share_group,
        empty_is_value=True,
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
        "ELDERCARE_INGEST_MAX_AGE_DAYS",
        "ingest_max_age_days",
        "400",
        "a reading older than this many days on arrival is a dead letter (stale_timestamp),"
        " as is one from over a day before its device was registered",
        _positive_int,
    ),
    SettingSpec(
        "ELDERCARE_INGEST_HEARTBEAT_S",
        "ingest_heartbeat_s",
        "10",
        "seconds between an ingest worker's heartbeats through the broker (the pipeline's"
        " proof that it delivers)",
        _positive_seconds,
    ),
    SettingSpec(
        "ELDERCARE_INGEST_DEAD_LETTERS_PER_DEVICE_HOUR",
        "ingest_dead_letters_per_device_hour",
        "60",
        "dead letters kept (first 2 KiB, size and SHA-256) per device an hour; past it only"
        " counts are kept",
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
        "true",
        "mark the session cookie Secure and send HSTS (the console is served over https,"
        " behind a TLS proxy); false only for plain-http use on this machine",
        _yes_no,
    ),
    SettingSpec(
        "ELDERCARE_API_TRUSTED_PROXIES",
        "api_trusted_proxies",
        None,
        "addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For is believed"
        " (sign-in throttling per client); unset: the peer address is the client",
        _networks,
    ),
    SettingSpec(
        "ELDERCARE_API_HEADER_TIMEOUT_S",
        "api_header_timeout_s",
        "10",
        "seconds a connection has to send a request's headers (and an idle connection is"
        " kept) before it is closed (slow-header attacks)",
        _positive_int,
    ),
    SettingSpec(
        "ELDERCARE_API_TOKEN_DAYS",
        "api_token_days",
        "90",
        "days an integration token lasts unless its creator says otherwise",
        _positive_int,
    ),
    SettingSpec(
        "ELDERCARE_METRICS_TOKEN",
        "metrics_token",
        None,
        f"bearer token Prometheus sends for /metrics (at least {MIN_SECRET_CHARS} characters);"
        " unset: /metrics answers only on ELDERCARE_METRICS_PORT",
        _secret,
    ),
    SettingSpec(
        "ELDERCARE_METRICS_PORT",
        "metrics_port",
        None,
        "serve /metrics without a token on 127.0.0.1 at this port (a local scraper)",
        _tcp_port,
    ),
    SettingSpec(
        "ELDERCARE_WEBHOOK_ALLOWED_HOSTS",
        "webhook_allowed_hosts",
        None,
        "host names, addresses or networks (CIDR) webhooks may reach although they are"
        " not public (loopback, private, link-local); unset: public addresses only",
        _host_list,
    ),
    SettingSpec(
        "ELDERCARE_RETENTION_READINGS_DAYS",
        "retention_readings_days",
        str(DEFAULT_DAYS["readings"]),
        "days raw readings are kept (13 months: a year of seasons and a month to compare)",
        _positive_int,
    ),
    SettingSpec(
        "ELDERCARE_RETENTION_DEAD_LETTERS_DAYS",
        "retention_dead_letters_days",
        str(DEFAULT_DAYS["dead_letters"]),
        "days refused messages (dead letters) and their counts are kept",
        _positive_int,
    ),
    SettingSpec(
        "ELDERCARE_RETENTION_FINDINGS_DAYS",
        "retention_findings_days",
        str(DEFAULT_DAYS["findings"]),
        "days the detectors' findings are kept",
        _positive_int,
    ),
    SettingSpec(
        "ELDERCARE_RETENTION_ALERTS_DAYS",
        "retention_alerts_days",
        str(DEFAULT_DAYS["alerts"]),
        "days a resolved alert is kept, with its history and the messages sent about it",
        _positive_int,
    ),
    SettingSpec(
        "ELDERCARE_RETENTION_AUDIT_DAYS",
        "retention_audit_days",
        str(DEFAULT_DAYS["audit"]),
        f"days audit log entries are kept (at least {MIN_AUDIT_DAYS})",
        _positive_int,
    ),
    SettingSpec(
        "ELDERCARE_RETENTION_INTERVAL_S",
        "retention_interval_s",
        "3600",
        "seconds between retention runs inside `eldercare run` (and `retention run --repeat`)",
        _positive_int,
    ),
    SettingSpec(
        "ELDERCARE_LOG_LEVEL",
        "log_level",
        "INFO",
        "DEBUG, INFO, WARNING or ERROR",
        _log_level,
    ),
    SettingSpec(
        "ELDERCARE_LOG_FORMAT",
        "log_format",
        "text",
        "text (time level logger event key=value ...) or json (one object a line, the same"
        " fields, for log shippers)",
        _log_format,
    ),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated settings; see SETTINGS for each variable's meaning."""

    database_url: str | None
    mqtt_url: MqttTarget | None
    broker_admin_url: MqttTarget | None
    nats_url: tuple[str, ...] | None
    nats_partitions: int
    detector_share: tuple[int, int]
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
    ingest_max_age_days: int
    ingest_heartbeat_s: float
    ingest_dead_letters_per_device_hour: int
    dispatch_send_timeout_s: int
    dispatch_lease_s: int
    api_host: str
    api_port: int
    api_secure_cookies: bool
    api_trusted_proxies: tuple[IpNetwork, ...] | None
    api_header_timeout_s: int
    api_token_days: int
    metrics_token: str | None
    metrics_port: int | None
    webhook_allowed_hosts: tuple[str, ...] | None
    retention_readings_days: int
    retention_dead_letters_days: int
    retention_findings_days: int
    retention_alerts_days: int
    retention_audit_days: int
    retention_interval_s: int
    log_level: str
    log_format: str

    def __repr__(self) -> str:  # the database URL may carry a password
        return f"Settings(data_dir={self.data_dir!s}, mqtt={self.mqtt_url!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every setting; raise SettingsError naming the bad one."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for spec in SETTINGS:
            raw = env.get(spec.env)
            if raw is None or (raw == "" and not spec.empty_is_value):
                raw = spec.default
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
        try:
            retention_policy(values)
        except RetentionError as exc:
            raise SettingsError(f"ELDERCARE_RETENTION_*: {exc}") from exc
        return cls(**values)

    @property
    def retention(self) -> RetentionPolicy:
        """How long each kind of data is kept."""
        return retention_policy(
            {f"retention_{kind}_days": getattr(self, f"retention_{kind}_days") for kind in KINDS}
        )


def retention_policy(values: Mapping[str, Any]) -> RetentionPolicy:
    """The retention policy from settings' values (field names as in Settings)."""
    return RetentionPolicy(**{f"{kind}_days": values[f"retention_{kind}_days"] for kind in KINDS})


def settings_help() -> str:
    """A plain-text table of the settings for `--help`."""
    lines = ["settings (environment variables):"]
    for spec in SETTINGS:
        default = f" [default: {spec.default}]" if spec.default is not None else ""
        lines.append(f"  {spec.env}\n      {spec.description}{default}")
    return "\n".join(lines)
