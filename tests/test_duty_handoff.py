"""When duty next changes hands (core.duty.next_handoff): at the shift's handoff, at a
night layer's window, at a cover's start and end; never when nobody else is scheduled."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.duty import DutySchedule, Override, Rotation, Source, next_handoff

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI)  # a Monday morning
DAY = Rotation(1, "east", "day", ("li", "zhang"), AT - timedelta(hours=1), 86400)


def test_the_next_shift_hands_over() -> None:
    moment, who = next_handoff(DutySchedule((DAY,)), "east", AT) or (None, None)
    assert moment == datetime(2026, 1, 6, 8, 0, tzinfo=SHANGHAI)
    assert who is not None and who.person == "zhang"


def test_a_night_layer_takes_over_at_its_window_and_hands_back() -> None:
    night = Rotation(2, "east", "night", ("chen",), AT - timedelta(days=7), 86400,
                     window_start=time(20), window_end=time(8), priority=1)  # fmt: skip
    plan = DutySchedule((DAY, night))
    moment, who = next_handoff(plan, "east", AT) or (None, None)
    assert moment == datetime(2026, 1, 5, 20, 0, tzinfo=SHANGHAI)
    assert who is not None and who.person == "chen"
    moment, who = next_handoff(plan, "east", AT.replace(hour=23)) or (None, None)
    assert moment == datetime(2026, 1, 6, 8, 0, tzinfo=SHANGHAI)  # back to the day, 张
    assert who is not None and who.person == "zhang"


def test_cover_starts_and_ends() -> None:
    cover = Override(3, "east", "chen", AT + timedelta(hours=2), AT + timedelta(hours=4))
    plan = DutySchedule((DAY,), (cover,))
    moment, who = next_handoff(plan, "east", AT) or (None, None)
    assert moment == cover.start and who is not None and who.source is Source.OVERRIDE
    moment, who = next_handoff(plan, "east", AT + timedelta(hours=3)) or (None, None)
    assert moment == cover.end and who is not None and who.person == "li"


def test_nobody_else_means_no_handoff() -> None:
    alone = Rotation(4, "west", "day", ("zhang",), AT, 86400)
    assert next_handoff(DutySchedule((alone,)), "west", AT.astimezone(UTC)) is None
    assert next_handoff(DutySchedule(), "west", AT) is None
