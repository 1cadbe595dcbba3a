"""What a finding or alert means, in each reader's language, from its kind and params. Pure.

Detectors store a finding's figures as `params` (core/findings.py), with a stable set of
keys per kind; this module turns (kind, params) into a sentence in Simplified Chinese or
English for messages (SMS, e-mail, the check-in call) and the API. The console has the
same catalogue in its own language files (api/static/js/i18n.js), and a test holds the
two to the kinds the detectors can raise.

Placeholders by name: `{x_at}` a UTC epoch-seconds moment shown as the home's local
`HH:MM`; `{x_s}` a duration in seconds; `{room}` a room name; `{device_type}` a device
type; `{roles}` a list of contact roles joined with the language's separator; anything
else as it is. A kind may have variants (`params["variant"]`), each its own template.
A template whose placeholders the params do not fill is not used: the caller falls back
to the English explanation the detector wrote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.contacts import Language

ZH, EN = Language.ZH, Language.EN

# Every kind a detector or the alert stage can raise (tests/test_texts.py checks this
# list against the detectors' code), with its template per language. Keys are
# `kind`, `kind.variant` or `kind.cleared` (the finding that says it ended).
TEMPLATES: Mapping[str, Mapping[Language, str]] = {
    "smoke_alarm": {ZH: "{room}烟雾报警器正在鸣响", EN: "smoke alarm sounding{in_room}"},
    "smoke_alarm.cleared": {
        ZH: "{room}烟雾报警已停止（持续 {lasted_s}）",
        EN: "smoke alarm{in_room} stopped after {lasted_s}",
    },
    "smoke_test": {ZH: "{room}烟雾报警器自检", EN: "smoke alarm{in_room} self-test"},
    "motion_inactivity": {
        ZH: "自 {since_at} 起没有任何活动迹象，已超过此时段通常的 {limit_s}",
        EN: "no sign of activity since {since_at}, longer than the usual {limit_s} "
        "at this time of day",
    },
    "water_inactivity": {
        ZH: "自 {since_at} 起没有用水，已超过此时段通常的 {limit_s}",
        EN: "no water used since {since_at}, longer than the usual {limit_s} at this time of day",
    },
    "water_inactivity.litres": {
        ZH: "过去 {window_s} 只用了 {litres} 升水（平时至少 {min_l} 升）",
        EN: "only {litres} L of water in the last {window_s} (usually at least {min_l} L)",
    },
    "water_inactivity.street_rule": {
        ZH: "街道规则：过去 {window_s} 用水 {litres} 升（低于 {min_l} 升）",
        EN: "street rule: {litres} L of water in the last {window_s} (under {min_l} L)",
    },
    "prolonged_bathroom": {
        ZH: "{since_at} 进入卫生间后再无活动迹象",
        EN: "went to the bathroom at {since_at} and no sign of activity since",
    },
    "no_morning_activity": {
        ZH: "今早到 {by_at} 仍无活动（自 {since_at} 起安静）",
        EN: "no activity this morning by {by_at} (quiet since {since_at})",
    },
    "no_activity_after_away": {
        ZH: "外出登记到 {since_at} 结束，此后没有活动迹象",
        EN: "declared away until {since_at}; no sign of activity since then",
    },
    "slow_morning": {
        ZH: "{woke_at} 起床，但之后 {span_s} 内只有 {movements} 次活动"
        "（平时约 {usual} 次），可能身体不适",
        EN: "up at {woke_at} but barely moving since: {movements} movements in the first "
        "{span_s} (usually about {usual}); unwell?",
    },
    "low_activity": {
        ZH: "{from_at}–{to_at} 活动明显少于平时：{movements} 次（平时约 {usual} 次），可能身体不适",
        EN: "far less activity than usual: {movements} movements between {from_at} and "
        "{to_at} (usually about {usual}); unwell?",
    },
    "leak_continuous_flow": {
        ZH: "自 {since_at} 起水一直在流（现在每分钟 {lpm} 升），可能水龙头没关或漏水",
        EN: "water running without a break since {since_at} (now {lpm} L/min): "
        "a tap left on or a leak?",
    },
    "leak_continuous_flow.trickle": {
        ZH: "已连续 {running_s} 每刻钟都有用水，可能漏水",
        EN: "water has been running in every quarter hour for {running_s}: a leak?",
    },
    "leak_continuous_flow.cleared": {
        ZH: "水流已停止（流了 {flowed_s}）",
        EN: "water stopped after {flowed_s} of flow",
    },
    "leak_high_flow": {
        ZH: "自 {since_at} 起大流量用水不停（现在每分钟 {lpm} 升），可能水管破裂或水龙头全开",
        EN: "water pouring without a break since {since_at} (now {lpm} L/min): "
        "a burst pipe or a tap full on?",
    },
    "leak_high_flow.cleared": {
        ZH: "水流已停止（流了 {flowed_s}）",
        EN: "water stopped after {flowed_s} of flow",
    },
    "leak_night_flow": {
        ZH: "已连续 {nights} 晚整夜有水流（至少每分钟 {lpm} 升），可能缓慢漏水",
        EN: "water kept flowing all night for {nights} nights running "
        "(at least {lpm} L/min): a slow leak?",
    },
    "high_daily_use": {
        ZH: "今天已用水 {litres} 升，远多于平时",
        EN: "{litres} L of water used today, far more than usual",
    },
    "meter_backwards": {
        ZH: "水表 {device_id} 读数从 {from_l} 升回退到 {to_l} 升（换表或重置？）",
        EN: "water meter {device_id} went back from {from_l} L to {to_l} L "
        "(meter replaced or reset?)",
    },
    "night_wandering": {
        ZH: "夜间起身走动：午夜以来在 {rooms} 个房间活动 {movements} 次，"
        "其中 {outside} 次在卧室和卫生间以外",
        EN: "up and about at night: {movements} movements in {rooms} rooms since midnight, "
        "{outside} of them outside the bedroom and bathroom",
    },
    "routine_outlier": {
        ZH: "与平日作息明显不同：{features}",
        EN: "a day unlike their usual: {features}",
    },
    "long_absence": {
        ZH: "自 {since_at} 外出至今，未登记外出，比平时任何一次外出都久",
        EN: "out since {since_at} with no absence declared: longer than any usual outing",
    },
    "battery_low": {
        ZH: "{device_type}（{device_id}）电量低：{pct}%",
        EN: "battery of the {device_type} ({device_id}) at {pct}%",
    },
    "device_offline": {
        ZH: "{device_type}（{device_id}）自 {since_at} 起没有信号",
        EN: "{device_type} ({device_id}) silent since {since_at}",
    },
    "device_offline.cleared": {
        ZH: "{device_type}（{device_id}）已恢复在线",
        EN: "{device_type} ({device_id}) is back online",
    },
    "home_silent": {
        ZH: "自 {since_at} 起家中所有设备都没有信号：停电或断网？",
        EN: "no device of this home heard since {since_at}: power or network down?",
    },
    "home_silent.cleared": {
        ZH: "家中设备在沉默 {silent_s} 后恢复信号",
        EN: "home heard again after {silent_s} of silence",
    },
    "pipeline_down": {
        ZH: "自 {since_at} 起接入服务的心跳没有回来，各家的数据没有到达；无活动规则已暂停",
        EN: "no ingest heartbeat has come back since {since_at}: data from homes is not "
        "arriving. Absence rules are paused",
    },
    "pipeline_down.broker_disconnected": {
        ZH: "自 {since_at} 起接入服务与消息服务器断开；无活动规则已暂停",
        EN: "ingest lost the broker at {since_at}: data from homes is not arriving. "
        "Absence rules are paused",
    },
    "pipeline_down.commits_failing": {
        ZH: "自 {since_at} 起数据库拒绝写入；无活动规则已暂停",
        EN: "the database has refused ingest's writes since {since_at}. Absence rules are paused",
    },
    "pipeline_down.cleared": {
        ZH: "中断 {silent_s} 后数据恢复到达，无活动规则已重新启用（这段时间不算任何人的安静）",
        EN: "data arriving again after {silent_s}; absence rules re-armed, and that time "
        "counts as nobody's silence",
    },
    "home_silent.group": {
        ZH: "自 {since_at} 起没有信号，{street}街道的其他住户同时失联：停电或断网？",
        EN: "no device heard since {since_at}, with other homes of {street}: "
        "power or network cut there?",
    },
    "homes_silent": {
        ZH: "{street}街道 {count} 户自 {since_at} 起同时失联（{homes}）：停电或断网？",
        EN: "{count} homes in {street} silent since {since_at} ({homes}): power or network cut?",
    },
    "homes_silent.cleared": {
        ZH: "{street}街道的住户在失联 {silent_s} 后恢复信号",
        EN: "homes of {street} heard again after {silent_s}",
    },
    "leak_continuous_use": {
        ZH: "已连续 {running_s} 每个读数周期都有用水（现在每分钟 {lpm} 升），"
        "可能滴水、水箱长流或漏水",
        EN: "water used in every reading for {running_s} without a break (now {lpm} L/min): "
        "a tap dripping, a cistern running or a leak?",
    },
    "leak_continuous_use.quarter": {
        ZH: "已连续 {running_s} 每刻钟都有用水（现在每分钟 {lpm} 升），可能滴水、水箱长流或漏水",
        EN: "water used in every quarter hour for {running_s} without a break (now {lpm} "
        "L/min): a tap dripping, a cistern running or a leak?",
    },
    "leak_continuous_use.hour": {
        ZH: "已连续 {running_s} 每小时都有用水（现在每分钟 {lpm} 升），可能滴水、水箱长流或漏水",
        EN: "water used in every hour for {running_s} without a break (now {lpm} L/min): "
        "a tap dripping, a cistern running or a leak?",
    },
    "leak_continuous_use.cleared": {
        ZH: "用水在持续 {flowed_s} 后停止",
        EN: "water stopped after {flowed_s} of use",
    },
    "leak_high_use": {
        ZH: "{span_s} 内用水 {litres} 升（每分钟 {lpm} 升），远超此户平时（最多每分钟 "
        "{usual_max_lpm} 升）：水龙头没关？",
        EN: "{litres} L of water in {span_s} ({lpm} L/min), far above what this home uses "
        "(at most {usual_max_lpm} L/min): a tap left on?",
    },
    "messages_missing": {
        ZH: "{device_type}（{device_id}）今天有 {count} 条编号消息没有到达"
        "（设备连接、消息服务器或接入丢失）",
        EN: "{device_type} ({device_id}): {count} of its numbered messages today never "
        "arrived (lost between the device and us)",
    },
    "messages_rejected": {
        ZH: "{device_type}（{device_id}）今天有 {count} 条消息无法读取（已存为死信）："
        "固件故障或非本系统设备？",
        EN: "{device_type} ({device_id}): {count} of its messages today could not be read "
        "(kept as dead letters): faulty firmware or a device that is not ours?",
    },
    "withdrawn": {
        ZH: "已撤回：迟到的数据显示 {seen_at} 有活动，在 {reported_at} 报告的安静期间之内",
        EN: "withdrawn: data that arrived late shows activity at {seen_at}, inside the "
        "silence reported at {reported_at}",
    },
    "delivery_failed": {
        ZH: "发给{recipient_role}的{channel}通知在 {attempts} 次尝试后仍未送达",
        EN: "a {channel} notification to the {recipient_role} failed after {attempts} attempts",
    },
    "no_recipients": {
        ZH: "告警 #{alert_id} 无人可通知：没有登记{roles}",
        EN: "alert #{alert_id} reached nobody: no {roles} registered",
    },
}

# One sentence per routine feature (routine_outlier's `features`).
ROUTINE_FEATURES: Mapping[str, Mapping[Language, str]] = {
    "wake": {
        ZH: "起床时间 {wake_at}（平时 {usual_wake_at}）",
        EN: "up at {wake_at} (usually {usual_wake_at})",
    },
    "first_water": {ZH: "第一次用水比平时{shift}", EN: "first water use {shift} than usual"},
    "litres": {
        ZH: "用水 {litres} 升（平时 {usual_l} 升）",
        EN: "used {litres} L of water (usually {usual_l} L)",
    },
    "movements": {
        ZH: "活动 {movements} 次（平时 {usual_movements} 次）",
        EN: "{movements} movements (usually {usual_movements})",
    },
    "out": {
        ZH: "外出 {out_s}（平时 {usual_out_s}）",
        EN: "out of the home {out_s} (usually {usual_out_s})",
    },
}

ROOMS: Mapping[str, Mapping[Language, str]] = {
    "kitchen": {ZH: "厨房", EN: "kitchen"},
    "living_room": {ZH: "客厅", EN: "living room"},
    "bathroom": {ZH: "卫生间", EN: "bathroom"},
    "bedroom": {ZH: "卧室", EN: "bedroom"},
    "entrance": {ZH: "门口", EN: "entrance"},
    "hall": {ZH: "过道", EN: "hall"},
}
DEVICE_TYPES: Mapping[str, Mapping[Language, str]] = {
    "water_meter": {ZH: "水表", EN: "water meter"},
    "pir": {ZH: "人体感应器", EN: "motion sensor"},
    "smoke": {ZH: "烟雾报警器", EN: "smoke alarm"},
}
CHANNELS: Mapping[str, Mapping[Language, str]] = {
    "sms": {ZH: "短信", EN: "SMS"},
    "email": {ZH: "邮件", EN: "e-mail"},
    "webhook": {ZH: "网络回调", EN: "webhook"},
    "voice": {ZH: "电话", EN: "phone call"},
}
CONTACT_ROLES: Mapping[str, Mapping[Language, str]] = {
    "primary_advisor": {ZH: "主责助老员", EN: "primary advisor"},
    "backup_advisor": {ZH: "备岗助老员", EN: "backup advisor"},
    "supervisor": {ZH: "街道主管", EN: "street office"},
    "family": {ZH: "家属", EN: "family"},
    "emergency": {ZH: "紧急联系人", EN: "emergency contact"},
    "operations": {ZH: "运维值班", EN: "operations desk"},
    "resident": {ZH: "老人本人", EN: "resident"},
}
# How a list reads: 甲、乙 in Chinese, "a, b" in English.
LIST_SEPARATOR: Mapping[Language, str] = {ZH: "、", EN: ", "}

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def duration(seconds: float, language: Language) -> str:
    """`45 分钟` / `45 min`, `2 小时 20 分钟` / `2 h 20 min`."""
    minutes = max(0, round(seconds / 60))
    hours, rest = divmod(minutes, 60)
    if language is ZH:
        if hours == 0:
            return f"{minutes} 分钟"
        return f"{hours} 小时" if rest == 0 else f"{hours} 小时 {rest} 分钟"
    if hours == 0:
        return f"{minutes} min"
    return f"{hours} h" if rest == 0 else f"{hours} h {rest} min"


def local_clock(epoch_s: float, timezone: str) -> str:
    """`HH:MM` of a UTC epoch-seconds moment in the home's time zone."""
    return datetime.fromtimestamp(epoch_s, UTC).astimezone(ZoneInfo(timezone)).strftime("%H:%M")


def label(table: Mapping[str, Mapping[Language, str]], value: str, language: Language) -> str:
    """A value's name in the language, or the value itself made readable."""
    names = table.get(value)
    return names[language] if names else value.replace("_", " ")


def join(items: list[str], language: Language) -> str:
    """A list in the language's way (its separator)."""
    return LIST_SEPARATOR[language].join(items)


def _value(name: str, params: Mapping[str, Any], language: Language, timezone: str) -> str:
    if name == "in_room":  # English only: " in the kitchen", or nothing
        room = params.get("room")
        return f" in the {label(ROOMS, room, language)}" if room else ""
    value = params[name]
    if name == "room":
        return label(ROOMS, value, language) if value else ""
    if name == "device_type":
        return label(DEVICE_TYPES, value, language)
    if name == "channel":
        return label(CHANNELS, value, language)
    if name in ("recipient_role",):
        return label(CONTACT_ROLES, value, language)
    if name == "roles":
        return join([label(CONTACT_ROLES, r, language) for r in value], language)
    if name == "features":
        return _features(params, language, timezone)
    if name.endswith("_at") and isinstance(value, int | float) and not isinstance(value, bool):
        return local_clock(value, timezone)
    if name.endswith("_s") and isinstance(value, int | float) and not isinstance(value, bool):
        return duration(value, language)
    return str(value)


def _features(params: Mapping[str, Any], language: Language, timezone: str) -> str:
    parts = []
    for feature in params["features"]:
        if feature == "first_water":
            shift = params["first_water_shift_s"]
            later = shift > 0
            amount = duration(abs(shift), language)
            word = (
                (f"晚了 {amount}" if later else f"早了 {amount}")
                if language is ZH
                else (f"{amount} {'later' if later else 'earlier'}")
            )
            parts.append(ROUTINE_FEATURES[feature][language].replace("{shift}", word))
            continue
        template = ROUTINE_FEATURES[feature][language]
        parts.append(_fill(template, params, language, timezone))
    return ("；" if language is ZH else "; ").join(parts)


def _fill(template: str, params: Mapping[str, Any], language: Language, timezone: str) -> str:
    return _PLACEHOLDER.sub(lambda m: _value(m.group(1), params, language, timezone), template)


def template_key(kind: str, params: Mapping[str, Any], clears: bool = False) -> str:
    """The catalogue key of a finding: its kind, its variant, or its clearing form."""
    variant = params.get("variant")
    if variant == "withdrawn":  # whatever the kind: late data contradicts the finding
        return "withdrawn"
    if clears:
        return f"{kind}.cleared"
    return f"{kind}.{variant}" if isinstance(variant, str) else kind


def explain(
    kind: str,
    params: Mapping[str, Any],
    language: Language,
    timezone: str,
    fallback: str,
    clears: bool = False,
) -> str:
    """The finding's sentence in `language`; `fallback` (the detector's English) when the
    kind has no template or the params do not fill it."""
    templates = TEMPLATES.get(template_key(kind, params, clears)) or (
        None if clears else TEMPLATES.get(kind)
    )
    if templates is None:
        return fallback
    try:
        text = _fill(templates[language], params, language, timezone)
    except (KeyError, TypeError, ValueError):
        return fallback
    if params.get("repeat") is True:  # a reminder of a condition already reported
        text = f"仍无活动迹象：{text}" if language is ZH else f"still no sign of activity: {text}"
    return text
