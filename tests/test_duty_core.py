"""Who is on duty: rotations at their handoff boundaries, windows over midnight, weekend
layers and overrides (core/duty.py, pure). Times are Asia/Shanghai, which has no DST."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.duty import (
    DutySchedule,
    Override,
    Rotation,
    Source,
    Tier,
    on_duty_now,
    parse_days,
    who_is_on_duty,
)

SH = ZoneInfo("Asia/Shanghai")
STREET = "幸福街道"


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment in December 2026, Shanghai time (Dec 7 is a Monday)."""
    return datetime(2026, 12, day, hour, minute, second, tzinfo=SH)


# Day shift 08:00-20:00 on weekdays, a new advisor each day; night shift 20:00-08:00
# Monday to Thursday nights; the weekend layer (Friday 20:00 to Monday 08:00) is one
# advisor for the whole weekend, above the others.
DAY = Rotation(
    1,
    STREET,
    "day",
    ("zhang", "li", "wang"),
    local(7, 8),
    86400,
    window_start=time(8),
    window_end=time(20),
    days=parse_days("mon-fri"),
)
NIGHT = Rotation(
    2,
    STREET,
    "night",
    ("zhao", "qian"),
    local(7, 20),
    86400,
    window_start=time(20),
    window_end=time(8),
    days=parse_days("mon-thu"),
)
WEEKEND = Rotation(3, STREET, "weekend", ("sun", "zhou"), local(11, 20), 7 * 86400,
                   days=parse_days("sat,sun"), priority=1)  # fmt: skip
FRIDAY_NIGHT = Rotation(4, STREET, "weekend", ("sun", "zhou"), local(11, 20), 7 * 86400,
                        window_start=time(20), window_end=time(8), days=frozenset({5}),
                        priority=1)  # fmt: skip
MONDAY_EARLY = Rotation(5, STREET, "weekend", ("sun", "zhou"), local(11, 20), 7 * 86400,
                        window_start=time(0), window_end=time(8), days=frozenset({1}),
                        priority=1)  # fmt: skip
PLAN = DutySchedule((DAY, NIGHT, WEEKEND, FRIDAY_NIGHT, MONDAY_EARLY))


def person(at: datetime, plan: DutySchedule = PLAN, tier: Tier = Tier.PRIMARY) -> str | None:
    found = who_is_on_duty(plan, STREET, at, tier)
    return None if found is None else found.person


def test_day_handoff_exactly_at_the_boundary() -> None:
    assert person(local(8, 7, 59, 59)) == "zhao"  # Monday night's advisor, still
    assert person(local(8, 8)) == "li"  # Tuesday 08:00 sharp: Tuesday's day advisor
    assert person(local(8, 8, 0, 1)) == "li"
    assert person(local(8, 19, 59, 59)) == "li"
    assert person(local(8, 20)) == "qian"  # Tuesday night: the second night advisor


def test_day_rotation_goes_round_the_participants() -> None:
    assert [person(local(d, 12)) for d in (7, 8, 9, 10, 11)] == [
        "zhang", "li", "wang", "zhang", "li",
    ]  # fmt: skip


def test_a_night_over_midnight_is_one_persons() -> None:
    assert person(local(7, 20)) == "zhao"
    assert person(local(7, 23, 59)) == "zhao"
    assert person(local(8, 0, 0)) == "zhao"  # after midnight: still Monday's night
    assert person(local(8, 3)) == "zhao"


def test_over_a_weekend() -> None:
    assert person(local(11, 19, 59, 59)) == "li"  # Friday's day advisor until 20:00
    assert person(local(11, 20)) == "sun"  # Friday 20:00: the weekend layer begins
    assert person(local(12, 3)) == "sun"  # Friday night, after midnight
    assert person(local(12, 12)) == "sun"  # Saturday
    assert person(local(13, 23, 59)) == "sun"  # Sunday
    assert person(local(14, 7, 59, 59)) == "sun"  # Monday early morning
    # Monday 08:00: weekdays again; the day rota counted on over the weekend (7 days on).
    assert person(local(14, 8)) == "li"
    assert person(local(18, 20)) == "zhou"  # the next weekend: the next advisor


def test_override_wins_and_ends_exactly_at_its_end() -> None:
    leave = Override(9, STREET, "chen", local(8, 10), local(8, 14), reason="li on leave")
    plan = DutySchedule(PLAN.rotations, (leave,))
    assert person(local(8, 9, 59, 59), plan) == "li"
    found = who_is_on_duty(plan, STREET, local(8, 10), Tier.PRIMARY)
    assert found is not None and found.person == "chen" and found.source is Source.OVERRIDE
    assert person(local(8, 13, 59, 59), plan) == "chen"
    assert person(local(8, 14), plan) == "li"


def test_the_latest_override_wins_and_tiers_are_apart() -> None:
    first = Override(1, STREET, "chen", local(8, 0), local(9, 0))
    later = Override(2, STREET, "lin", local(8, 12), local(8, 13))
    backup = Override(3, STREET, "he", local(8, 0), local(9, 0), tier=Tier.BACKUP)
    plan = DutySchedule(PLAN.rotations, (first, later, backup))
    assert person(local(8, 12, 30), plan) == "lin"
    assert person(local(8, 13), plan) == "chen"
    assert person(local(8, 13), plan, Tier.BACKUP) == "he"
    assert person(local(8, 13), PLAN, Tier.BACKUP) is None  # no backup rota: the home's own


def test_nobody_before_the_start_or_on_another_street() -> None:
    assert person(local(7, 7, 59)) is None
    assert who_is_on_duty(PLAN, "other street", local(8, 12)) is None
    listed = on_duty_now(PLAN, local(8, 12), [STREET, "other street"])
    assert [(d.street, d.person, d.layer) for d in listed] == [(STREET, "li", "day")]


def test_handoff_from_a_utc_moment() -> None:
    utc = local(8, 8).astimezone(ZoneInfo("UTC"))  # 00:00 UTC is 08:00 in Shanghai
    assert utc.hour == 0 and person(utc) == "li"
    assert person(utc - timedelta(seconds=1)) == "zhao"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"participants": ()}, "participants"),
        ({"shift_s": 60}, "shift length"),
        ({"window_start": time(8)}, "both ends"),
        ({"start": datetime(2026, 12, 7, 8)}, "time zone"),
        ({"days": frozenset({8})}, "weekdays"),
    ],
)
def test_bad_rotations_say_what_is_wrong(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "id": 0, "street": STREET, "layer": "day", "participants": ("a",),
        "start": local(7, 8), "shift_s": 86400,
    }  # fmt: skip
    with pytest.raises(ValueError, match=message):
        Rotation(**{**base, **kwargs})  # type: ignore[arg-type]


def test_parse_days() -> None:
    assert parse_days("mon-fri") == frozenset({1, 2, 3, 4, 5})
    assert parse_days("sat,sun") == frozenset({6, 7})
    assert parse_days("all") == frozenset(range(1, 8))
    with pytest.raises(ValueError, match="not a weekday"):
        parse_days("funday")
