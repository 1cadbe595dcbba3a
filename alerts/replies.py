"""Advisors answering an alert SMS without the console. Pure: what a reply asks for, and
the text sent back, in the advisor's language.

    1        acknowledge ("I have seen it and take it on")
    2 20     I am on my way, arriving in 20 minutes (claims the alert; acknowledges it too)
    3        pass it on: I cannot take it, tell the next people now

Full-width digits and extra spaces are accepted ("２ ２０" is "2 20"), as Chinese phone
keyboards type them. Anything else gets the instructions back and changes nothing.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from core.contacts import Language

ZH, EN = Language.ZH, Language.EN
MAX_ETA_MINUTES = 240
# A reply is matched to an alert texted to that number at most this long ago.
REPLY_WINDOW_S = 24 * 3600


class Verb(enum.StrEnum):
    """What a reply asks for."""

    ACKNOWLEDGE = "acknowledge"
    CLAIM = "claim"
    PASS_ON = "pass_on"


@dataclass(frozen=True, slots=True)
class ReplyCommand:
    """A reply understood."""

    verb: Verb
    eta_minutes: int | None = None


class Outcome(enum.StrEnum):
    """What came of a reply (stored with it, and logged)."""

    ACKNOWLEDGED = "acknowledged"
    CLAIMED = "claimed"
    PASSED_ON = "passed_on"
    NOT_UNDERSTOOD = "not_understood"
    UNKNOWN_SENDER = "unknown_sender"
    STALE = "stale"
    REFUSED = "refused"  # the alert's state does not allow it (already claimed...)
    DUPLICATE = "duplicate"


def parse(text: str) -> ReplyCommand | None:
    """The command in a reply, or None when it is not one."""
    words = unicodedata.normalize("NFKC", text).split()
    if not words:
        return None
    head, rest = words[0], words[1:]
    if head == "1" and not rest:
        return ReplyCommand(Verb.ACKNOWLEDGE)
    if head == "3" and not rest:
        return ReplyCommand(Verb.PASS_ON)
    if head == "2" and len(rest) == 1 and rest[0].isdigit():
        minutes = int(rest[0])
        if 1 <= minutes <= MAX_ETA_MINUTES:
            return ReplyCommand(Verb.CLAIM, minutes)
    return None


HELP: Mapping[Language, str] = {
    ZH: "回复 1 确认；回复 2 加分钟数表示正在前往（如“2 20”）；回复 3 转交下一位。",
    EN: "Reply 1 to acknowledge, 2 and minutes when on your way (e.g. '2 20'), 3 to pass it on.",
}

_TEXTS: Mapping[str, Mapping[Language, str]] = {
    "acknowledged": {
        ZH: "已确认告警 #{alert}（{home}）。",
        EN: "Alert #{alert} ({home}) acknowledged.",
    },
    "claimed": {
        ZH: "已记录：您正前往处理告警 #{alert}（{home}），预计 {eta} 到达。",
        EN: "Noted: you are on your way to alert #{alert} ({home}), arriving about {eta}.",
    },
    "passed_on": {
        ZH: "告警 #{alert}（{home}）已转交下一位联系人。",
        EN: "Alert #{alert} ({home}) passed on to the next contacts.",
    },
    "not_understood": {ZH: "未能识别回复。{help}", EN: "Reply not understood. {help}"},
    "unknown_sender": {
        ZH: "此号码没有可处理的告警。如需帮助请联系街道办。",
        EN: "There is no alert for this number to act on. Please call the street office.",
    },
    "stale": {
        ZH: "告警 #{alert} 已处理完毕，无需操作。",
        EN: "Alert #{alert} is already resolved; nothing to do.",
    },
    "already_acknowledged": {
        ZH: "告警 #{alert} 已由 {who} 确认。",
        EN: "Alert #{alert} was already acknowledged by {who}.",
    },
    "already_claimed": {
        ZH: "告警 #{alert} 已由 {who} 认领。",
        EN: "Alert #{alert} is already claimed by {who}.",
    },
    "pass_on_too_late": {
        ZH: "告警 #{alert} 已有人处理，未转交。",
        EN: "Alert #{alert} is already being handled; not passed on.",
    },
    "pass_on_last": {
        ZH: "告警 #{alert} 已通知所有联系人，无法再转交，请联系街道办。",
        EN: "Everyone for alert #{alert} has been told already; please call the street office.",
    },
}


CALL_SCRIPTS: Mapping[Language, str] = {
    ZH: "社区居家养老告警，编号 {alert}：{home}，{what}。确认请按1，转交下一位请按3。",
    EN: "Eldercare alert number {alert}: {home}, {what}. Press 1 to acknowledge,"
    " press 3 to pass it on.",
}


def call_script(alert_id: int, home: str, what: str, language: Language) -> str:
    """What the escalation call says to an advisor on duty."""
    return CALL_SCRIPTS[language].format(alert=alert_id, home=home, what=what)


def from_key_press(digits: str | None) -> ReplyCommand | None:
    """An advisor's key press in the escalation call: 1 acknowledges, 3 passes on."""
    if digits == "1":
        return ReplyCommand(Verb.ACKNOWLEDGE)
    if digits == "3":
        return ReplyCommand(Verb.PASS_ON)
    return None


def local_clock(moment: datetime, timezone: str) -> str:
    """HH:MM in the home's time zone (an arrival time in a reply)."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%H:%M")


def text(key: str, language: Language, **values: object) -> str:
    """The reply `key` in `language`, with its values filled in."""
    return _TEXTS[key][language].format(help=HELP[language], **values)


def text_keys() -> list[str]:
    """Every reply text's key (tests check both languages have each)."""
    return sorted(_TEXTS)
