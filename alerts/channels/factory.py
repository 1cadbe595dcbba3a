"""The configured channels, from ChannelSettings; unconfigured ones are left out (their
deliveries fail visibly rather than vanish)."""

from __future__ import annotations

import aiohttp

from alerts.channels.base import Channel
from alerts.channels.email import EmailChannel
from alerts.channels.sms import SmsChannel
from alerts.channels.voice import VoiceChannel
from alerts.channels.webhook import WebhookChannel
from alerts.config import ChannelSettings
from core.clock import Clock
from core.contacts import ChannelKind


def build_channels(
    settings: ChannelSettings, session: aiohttp.ClientSession, clock: Clock
) -> dict[ChannelKind, Channel]:
    """One channel per configured gateway; the HTTP ones share `session`."""
    channels: dict[ChannelKind, Channel] = {}
    if settings.smtp is not None:
        channels[ChannelKind.EMAIL] = EmailChannel(settings.smtp, settings.mail_from, clock)
    if settings.sms_base_url:
        channels[ChannelKind.SMS] = SmsChannel(session, settings.sms_base_url, settings.sms_token)
    if settings.voice_base_url and settings.voice_callback_url:
        channels[ChannelKind.VOICE] = VoiceChannel(
            session, settings.voice_base_url, settings.voice_callback_url, settings.voice_token
        )
    if settings.webhook_secret:
        channels[ChannelKind.WEBHOOK] = WebhookChannel(
            session, settings.webhook_secret, clock, settings.webhook_policy
        )
    return channels
