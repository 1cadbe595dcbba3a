"""Message texts in Simplified Chinese and English, per recipient. Pure.

Staff (advisors, supervisor, emergency desk, operations) get the alert number and the
detector's explanation; family get a plain sentence without internals. Times are shown
in the home's time zone.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from core.alerts import Alert
from core.contacts import SYSTEM_HOME_ID, Language, Role
from core.explain import explain
from core.kinds import Category, Severity
from core.outbox import Rendered

ZH, EN = Language.ZH, Language.EN

CATEGORY_PHRASES: Mapping[Category, Mapping[Language, str]] = {
    Category.INACTIVITY: {ZH: "长时间无活动迹象", EN: "no sign of activity"},
    Category.LEAK: {ZH: "疑似漏水或水龙头未关", EN: "water running (leak or tap left on)"},
    Category.SMOKE: {ZH: "烟雾报警", EN: "a smoke alarm"},
    Category.WANDERING: {ZH: "夜间异常活动", EN: "unusual activity at night"},
    Category.ROUTINE: {ZH: "作息与平日明显不同", EN: "a day unlike the usual routine"},
    Category.DEVICE: {ZH: "设备故障", EN: "a device problem"},
    Category.SYSTEM: {ZH: "系统故障", EN: "a system problem"},
}
KIND_PHRASES: Mapping[str, Mapping[Language, str]] = {
    "battery_low": {ZH: "设备电量低", EN: "a device battery is low"},
    "device_offline": {ZH: "设备离线", EN: "a device is offline"},
    "home_silent": {ZH: "所有设备均无信号", EN: "no device in the home is reporting"},
    "delivery_failed": {ZH: "通知无法送达", EN: "a notification could not be delivered"},
    "pipeline_down": {ZH: "系统数据通道中断", EN: "the data pipeline is not delivering"},
    "homes_silent": {ZH: "多户设备同时无信号", EN: "many homes went silent at once"},
    "messages_missing": {ZH: "设备消息丢失", EN: "a device's messages go missing"},
    "messages_rejected": {ZH: "设备发送无效消息", EN: "a device sends unreadable messages"},
}
SEVERITY_LABELS: Mapping[Severity, Mapping[Language, str]] = {
    Severity.CRITICAL: {ZH: "紧急", EN: "CRITICAL"},
    Severity.HIGH: {ZH: "高", EN: "HIGH"},
    Severity.MEDIUM: {ZH: "中", EN: "MEDIUM"},
    Severity.LOW: {ZH: "低", EN: "LOW"},
    Severity.INFO: {ZH: "提示", EN: "INFO"},
}
ALL_HOMES = {ZH: "全部住户", EN: "all homes"}
# A digest longer than this stops being read (and an SMS gateway refuses it).
MAX_DIGEST_LINES = 15

CHECKIN_SCRIPTS: Mapping[Language, str] = {
    ZH: "您好，这里是社区居家养老服务的关怀电话。我们想确认您是否安好。安好请按1，需要帮助请按2。",
    EN: "Hello, this is the community eldercare service calling to check on you. "
    "If you are fine, press 1. If you need help, press 2.",
}


def phrase(alert: Alert, language: Language) -> str:
    """What happened, in a few words."""
    by_kind = KIND_PHRASES.get(alert.kind)
    return (by_kind or CATEGORY_PHRASES[alert.category])[language]


def details(alert: Alert, timezone: str, language: Language) -> str:
    """The detector's finding in the recipient's language (its English as the fallback)."""
    return explain(alert.kind, alert.params, language, timezone, alert.explanation)


def local_time(moment: datetime, timezone: str) -> str:
    """`YYYY-MM-DD HH:MM` in the home's time zone."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def home_label(home_id: str, address: str | None, language: Language) -> str:
    """What messages call a home: its address if known, else its id."""
    if home_id == SYSTEM_HOME_ID:
        return ALL_HOMES[language]
    return f"{address} ({home_id})" if address else home_id


def _html(lines: Sequence[str]) -> str:
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
    return f"<!doctype html><html><body>{body}</body></html>"


def render_alert(
    alert: Alert,
    label: str,
    timezone: str,
    role: Role,
    language: Language,
    step_index: int,
    resumed: bool,
) -> Rendered:
    """The notification of one alert to one recipient."""
    what = phrase(alert, language)
    when = local_time(alert.first_seen_at, timezone)
    severity = SEVERITY_LABELS[alert.severity][language]
    if language is ZH:
        summary = f"{when} {label}：{what}（#{alert.id}，{severity}）"
    else:
        summary = f"{when} {label}: {what} (#{alert.id}, {severity})"
    if role is Role.FAMILY:
        return _family(alert, label, what, when, language, summary)
    if language is ZH:
        subject = f"【{severity}】{label}：{what}"
        note = "提醒：已确认但尚未处理完毕。" if resumed else ""
        if not resumed and step_index > 0:
            note = f"升级通知：尚无人确认（第 {step_index + 1} 步）。"
        lines = [
            f"居家养老告警 #{alert.id}【{severity}】",
            f"住户：{label}",
            f"情况：{what}",
            f"时间：{when}（{timezone}）",
            f"详情：{details(alert, timezone, language)}",
            note,
            "请在控制台确认。",
        ]
    else:
        subject = f"[{severity}] {label}: {what}"
        note = "Reminder: acknowledged but not yet resolved." if resumed else ""
        if not resumed and step_index > 0:
            note = f"Escalated: nobody has acknowledged yet (step {step_index + 1})."
        lines = [
            f"Eldercare alert #{alert.id} [{severity}]",
            f"Home: {label}",
            f"What: {what}",
            f"Since: {when} ({timezone})",
            f"Details: {details(alert, timezone, language)}",
            note,
            "Please acknowledge in the console.",
        ]
    text = "\n".join(line for line in lines if line)
    return Rendered(subject, text, _html(lines), summary)


def _family(
    alert: Alert, label: str, what: str, when: str, language: Language, summary: str
) -> Rendered:
    critical = alert.severity is Severity.CRITICAL
    if language is ZH:
        title = "居家养老紧急通知" if critical else "居家养老提醒"
        subject = f"{title}：{what}"
        text = f"{title}：{when}，您家人的住所（{label}）出现{what}。"
        text += (
            "社区养老顾问及紧急联系人均已收到通知，如方便请立即联系您的家人。"
            if critical
            else "社区养老顾问已收到通知，将会跟进。"
        )
    else:
        subject = f"Eldercare {'URGENT' if critical else 'notice'}: {what}"
        title = "Eldercare URGENT" if critical else "Eldercare"
        text = f"{title}: at {when} we noticed {what} at your relative's home ({label}). "
        text += (
            "The care advisor and emergency contacts have been alerted; "
            "please call your relative now if you can."
            if critical
            else "A care advisor has been informed and will follow up."
        )
    return Rendered(subject, text, _html([text]), summary)


def checkin_script(language: Language) -> str:
    """What the automated check-in call says to the resident."""
    return CHECKIN_SCRIPTS[language]


def render_checkin_fine(alert: Alert, label: str, timezone: str, language: Language) -> Rendered:
    """A note for the advisor's digest: the resident answered the check-in call, fine."""
    when = local_time(alert.first_seen_at, timezone)
    what = phrase(alert, language)
    if language is ZH:
        line = f"{when} {label}：居民接听关怀电话，表示安好；告警 #{alert.id}（{what}）已解决。"
        subject = f"{label}：居民表示安好"
    else:
        line = (
            f"{when} {label}: the resident answered the check-in call and is fine; "
            f"alert #{alert.id} ({what}) resolved."
        )
        subject = f"{label}: resident is fine"
    return Rendered(subject, line, _html([line]), line)


def render_digest(summaries: Sequence[str], language: Language) -> Rendered:
    """One message gathering the lines held back by the rate limit or meant for a digest;
    past MAX_DIGEST_LINES it lists the newest and counts the rest."""
    n = len(summaries)
    shown = list(summaries[-MAX_DIGEST_LINES:])
    if language is ZH:
        subject = f"居家养老汇总：{n} 条更新"
        head = f"居家养老汇总，共 {n} 条更新："
    else:
        subject = f"Eldercare digest: {n} update{'s' if n != 1 else ''}"
        head = f"Eldercare digest, {n} update{'s' if n != 1 else ''}:"
    lines = [head, *(f"- {s}" for s in shown)]
    if n > len(shown):
        more = n - len(shown)
        lines.append(f"（另有 {more} 条较早的更新，请在控制台查看）" if language is ZH
                     else f"(and {more} earlier updates: see the console)")  # fmt: skip
    return Rendered(subject, "\n".join(lines), _html(lines), subject)
