"""Alert settings: how findings become alerts, throttling, retries, digests; and where the
channels' gateways are (from the environment, validated once into frozen values)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from alerts.intake import IntakeConfig
from alerts.outbox import RetryPolicy
from alerts.throttle import ThrottleConfig

# Digest lines wait at most this long: the rate limit's own window, so a recipient who
# hit the limit hears the rest about an hour later, in one message.
DEFAULT_DIGEST_INTERVAL_S = 3600
# HMAC keys shorter than this are guessable; refuse them at start-up.
MIN_SECRET_CHARS = 16

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """Tuning of the alert pipeline (pure values; defaults are the production ones)."""

    intake: IntakeConfig = field(default_factory=IntakeConfig)
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    digest_interval_s: int = DEFAULT_DIGEST_INTERVAL_S
    default_timezone: str = "Asia/Shanghai"  # for system alerts, which have no home

    def __post_init__(self) -> None:
        if self.digest_interval_s < 0:
            raise ValueError("digest_interval_s must not be negative")


class ChannelSettingsError(ValueError):
    """A channel setting has a value we cannot use; the message names the variable."""


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


def parse_smtp_url(url: str) -> SmtpTarget:
    """`smtp://user:pass@host:587` or `smtps://...:465` → SmtpTarget."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("expected smtp://[user:pass@]host[:port] or smtps://...")
    use_tls = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if use_tls else 25)
    except ValueError as exc:
        raise ValueError(f"bad port: {exc}") from exc
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=use_tls,
    )


def _http_base(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return value.rstrip("/")


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """The gateways; a channel whose setting is absent is not configured."""

    smtp: SmtpTarget | None = None
    mail_from: str = "eldercare@localhost"
    sms_base_url: str | None = None
    sms_token: str | None = None
    voice_base_url: str | None = None
    voice_token: str | None = None
    voice_callback_url: str | None = None  # where the voice gateway posts answers
    voice_callback_secret: bytes | None = None
    webhook_secret: bytes | None = None

    def __repr__(self) -> str:  # tokens and secrets stay out of logs
        return (
            f"ChannelSettings(smtp={self.smtp!r}, sms={self.sms_base_url!r},"
            f" voice={self.voice_base_url!r})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ChannelSettings:
        """Read the ELDERCARE_SMTP_URL, _MAIL_FROM, _SMS_GATEWAY_URL/_TOKEN,
        _VOICE_GATEWAY_URL/_TOKEN, _VOICE_CALLBACK_URL/_SECRET and _WEBHOOK_SECRET
        variables; raise ChannelSettingsError naming a bad one."""
        env = os.environ if env is None else env
        settings = cls(
            smtp=_optional(env, "ELDERCARE_SMTP_URL", parse_smtp_url),
            mail_from=_optional(env, "ELDERCARE_MAIL_FROM", str) or "eldercare@localhost",
            sms_base_url=_optional(env, "ELDERCARE_SMS_GATEWAY_URL", _http_base),
            sms_token=_optional(env, "ELDERCARE_SMS_GATEWAY_TOKEN", str),
            voice_base_url=_optional(env, "ELDERCARE_VOICE_GATEWAY_URL", _http_base),
            voice_token=_optional(env, "ELDERCARE_VOICE_GATEWAY_TOKEN", str),
            voice_callback_url=_optional(env, "ELDERCARE_VOICE_CALLBACK_URL", _http_base),
            voice_callback_secret=_optional(env, "ELDERCARE_VOICE_CALLBACK_SECRET", _secret),
            webhook_secret=_optional(env, "ELDERCARE_WEBHOOK_SECRET", _secret),
        )
        if settings.voice_base_url and not (
            settings.voice_callback_url and settings.voice_callback_secret
        ):
            raise ChannelSettingsError(
                "ELDERCARE_VOICE_GATEWAY_URL needs ELDERCARE_VOICE_CALLBACK_URL and"
                " ELDERCARE_VOICE_CALLBACK_SECRET"
            )
        return settings


def _secret(text: str) -> bytes:
    if len(text) < MIN_SECRET_CHARS:
        raise ValueError(f"use at least {MIN_SECRET_CHARS} characters")
    return text.encode()


def _optional(env: Mapping[str, str], name: str, parse: Callable[[str], T]) -> T | None:
    raw = env.get(name) or None
    if raw is None:
        return None
    try:
        return parse(raw)
    except ValueError as exc:
        raise ChannelSettingsError(f"{name}: {exc}") from exc
