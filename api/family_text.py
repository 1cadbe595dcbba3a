"""The family view's plain words, in Simplified Chinese and English. Pure.

Family members get a sentence, not the sensor feed: when their relative was last active
(in the home's time zone, "today 09:42"), and whether all is well. Alert wording reuses
the notification texts (alerts/templates.py) so the page says what the SMS said.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.templates import CATEGORY_PHRASES, KIND_PHRASES
from core.contacts import Language
from core.kinds import Category
from detectors.activity import LEAVE_CONFIRM_S
from detectors.rooms import RoomKind, classify_room

ZH, EN = Language.ZH, Language.EN

_STATUS = {
    "ok": {ZH: "一切正常", EN: "all is well"},
    "alert": {
        ZH: "有紧急情况，社区养老顾问已收到通知",
        EN: "something needs attention now; the care advisor has been alerted",
    },
    "attention": {
        ZH: "有需要留意的情况，社区养老顾问会跟进",
        EN: "something needs a look; the care advisor will follow up",
    },
    "offline": {
        ZH: "家中设备暂时没有信号，我们正在跟进",
        EN: "the home's devices are not reporting; we are looking into it",
    },
}


def local_day(moment: datetime, timezone: str, now: datetime, language: Language) -> str:
    """`今天 09:42` / `today 09:42`, `昨天` / `yesterday`, else the date, in the home's zone."""
    zone = ZoneInfo(timezone)
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    clock = local.strftime("%H:%M")
    days = (today - local.date()).days
    if language is ZH:
        day = {0: "今天", 1: "昨天", -1: "明天"}.get(days, f"{local.month}月{local.day}日")
    else:
        day = {0: "today", 1: "yesterday", -1: "tomorrow"}.get(days, f"{local.day} {local:%b}")
    return f"{day} {clock}"


def status_text(
    language: Language,
    status: str,
    last_activity_at: datetime | None,
    away_until: datetime | None,
    timezone: str,
    now: datetime,
) -> str:
    """One sentence: last activity, then how things are."""
    if last_activity_at is None:
        activity = "尚无活动记录" if language is ZH else "No activity recorded yet"
    elif language is ZH:
        activity = f"最近一次活动：{local_day(last_activity_at, timezone, now, language)}"
    else:
        activity = f"Last activity: {local_day(last_activity_at, timezone, now, language)}"
    if status == "away" and away_until is not None:
        until = local_day(away_until, timezone, now, language)
        state = f"外出中，预计{until}回家" if language is ZH else f"away until {until}"
    else:
        state = _STATUS.get(status, _STATUS["ok"])[language]
    return f"{activity}，{state}" if language is ZH else f"{activity}; {state}."


def alert_text(
    language: Language, category: str, kind: str, opened_at: datetime, timezone: str,
    now: datetime,
) -> str:  # fmt: skip
    """What an open alert is about, without the detector's internals."""
    phrases = KIND_PHRASES.get(kind) or CATEGORY_PHRASES[Category(category)]
    when = local_day(opened_at, timezone, now, language)
    return (
        f"{when}起：{phrases[language]}"
        if language is ZH
        else f"{phrases[language]} (since {when})"
    )


def out_of_home(
    away_until: datetime | None,
    last_motion_room: str | None,
    last_activity_at: datetime | None,
    now: datetime,
) -> bool:
    """Away by declaration, or last seen moving at the entrance and quiet since (the
    detectors' own rule for a person who went out)."""
    if away_until is not None:
        return True
    if last_motion_room is None or last_activity_at is None:
        return False
    quiet = now - last_activity_at >= timedelta(seconds=LEAVE_CONFIRM_S)
    return quiet and classify_room(last_motion_room) is RoomKind.ENTRANCE
