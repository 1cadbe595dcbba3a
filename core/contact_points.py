"""Phone numbers, e-mail addresses and webhook URLs, checked the same way wherever they
enter (the command line, the API, the stored contacts). Each function returns the
address in the one form we store, or raises ValueError saying what is wrong."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# E.164: "+", a country code that does not start with 0, at most 15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
# Spaces, dashes, dots and brackets people write inside numbers; dropped, nothing else.
_NUMBER_FORMATTING = re.compile(r"[\s().-]")
# The HTML standard's check of an e-mail address (what browsers accept in
# <input type=email>), with at least one dot in the domain, since we only mail out.
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
MAX_EMAIL_CHARS = 254
MAX_URL_CHARS = 2000


def phone_number(text: str) -> str:
    """An international number in E.164 form (`+8613800138000`); spaces, dashes, dots
    and brackets written for readability are dropped."""
    number = _NUMBER_FORMATTING.sub("", text)
    if not _E164.fullmatch(number):
        raise ValueError(
            f"{text!r} is not a phone number in international (E.164) form: '+', the country"
            " code, then the number, 15 digits at most, e.g. +8613800138000"
        )
    return number


def email_address(text: str) -> str:
    """An e-mail address as name@domain.tld."""
    address = text.strip()
    if len(address) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(address):
        raise ValueError(f"{text!r} is not an e-mail address (name@example.org)")
    return address


def webhook_url(text: str) -> str:
    """An http:// or https:// URL with a host."""
    url = text.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (parsing the port is the check)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a usable URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL_CHARS:
        raise ValueError(f"{text!r} is not an http:// or https:// URL")
    return url
