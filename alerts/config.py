"""Alert settings: how findings become alerts, throttling, retries, digests; and where the
channels' gateways are (read and validated with every other setting in core.settings)."""

from __future__ import annotations

from dataclasses import dataclass, field

from alerts.channels.outbound import OutboundPolicy
from alerts.intake import IntakeConfig
from alerts.outbox import RetryPolicy
from alerts.throttle import ThrottleConfig
from core.settings import Settings, SmtpTarget

__all__ = ["AlertConfig", "ChannelSettings", "SmtpTarget"]

# Digest lines wait at most this long: the rate limit's own window, so a recipient who
# hit the limit hears the rest about an hour later, in one message.
DEFAULT_DIGEST_INTERVAL_S = 3600


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
    # Where webhooks may go besides public addresses (ELDERCARE_WEBHOOK_ALLOWED_HOSTS).
    webhook_policy: OutboundPolicy = field(default_factory=OutboundPolicy)

    def __repr__(self) -> str:  # tokens and secrets stay out of logs
        return (
            f"ChannelSettings(smtp={self.smtp!r}, sms={self.sms_base_url!r},"
            f" voice={self.voice_base_url!r})"
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> ChannelSettings:
        """The channel part of the process settings (validated in core.settings)."""
        return cls(
            smtp=settings.smtp_url,
            mail_from=settings.mail_from,
            sms_base_url=settings.sms_gateway_url,
            sms_token=settings.sms_gateway_token,
            voice_base_url=settings.voice_gateway_url,
            voice_token=settings.voice_gateway_token,
            voice_callback_url=settings.voice_callback_url,
            voice_callback_secret=_key(settings.voice_callback_secret),
            webhook_secret=_key(settings.webhook_secret),
            webhook_policy=OutboundPolicy(settings.webhook_allowed_hosts or ()),
        )


def _key(secret: str | None) -> bytes | None:
    return secret.encode() if secret else None
