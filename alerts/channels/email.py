"""E-mail over SMTP (aiosmtplib): a plain-text part and an HTML alternative.

SMTP has no idempotency key; the Message-ID is derived from the delivery's key so a
resend after a crash carries the same id and mail clients and archives fold it.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from alerts.channels.base import DeliveryResult
from alerts.config import SmtpTarget
from core.clock import Clock
from core.outbox import Delivery

SMTP_TIMEOUT_S = 30.0


def build_message(delivery: Delivery, mail_from: str, clock: Clock) -> EmailMessage:
    """The MIME message for a delivery."""
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = delivery.address
    message["Subject"] = delivery.subject
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = f"<{delivery.idempotency_key}@eldercare>"
    message["Content-Language"] = delivery.language.value
    message.set_content(delivery.text)
    if delivery.html:
        message.add_alternative(delivery.html, subtype="html")
    return message


class EmailChannel:
    """Sends mail through one SMTP server."""

    def __init__(self, target: SmtpTarget, mail_from: str, clock: Clock) -> None:
        self._target = target
        self._mail_from = mail_from
        self._clock = clock

    async def send(self, delivery: Delivery) -> DeliveryResult:
        """Hand one message to the SMTP server."""
        message = build_message(delivery, self._mail_from, self._clock)
        target = self._target
        try:
            await aiosmtplib.send(
                message,
                hostname=target.host,
                port=target.port,
                username=target.username,
                password=target.password,
                use_tls=target.use_tls,
                timeout=SMTP_TIMEOUT_S,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return DeliveryResult.permanent(f"recipient refused: {exc}")
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                return DeliveryResult.permanent(f"SMTP {exc.code}: {exc.message}", exc.code)
            return DeliveryResult.retry(f"SMTP {exc.code}: {exc.message}", exc.code)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return DeliveryResult.retry(f"{type(exc).__name__}: {exc}")
        return DeliveryResult.sent(message["Message-ID"])
