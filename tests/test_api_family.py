"""The family view: their relative in plain words (Chinese and English), today's summary
without the sensor feed, their own preferences, and nothing of anyone else's home."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.family_text import out_of_home, status_text
from api.principal import Role
from core.contacts import Language
from tests.api_helpers import ApiWorld, add_user, api_world, assign
from tests.view_data import alert, device, home, reading

# 10:00 on a Monday in Shanghai.
MORNING = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
TZ = "Asia/Shanghai"


def local(hour: int, minute: int = 0, days: int = 0) -> datetime:
    """A time on the test's Shanghai day (UTC+8)."""
    midnight = datetime(2026, 1, 5, tzinfo=UTC) - timedelta(hours=8)
    return midnight + timedelta(days=days, hours=hour, minutes=minute)


async def _relative(world: ApiWorld, language: str = "zh-CN") -> None:
    async with world.pool.acquire() as conn:
        await home(conn, "mum", "east")
        await home(conn, "other", "east")
        await device(conn, "m1", "mum")
        await device(conn, "p1", "mum", "pir", "kitchen")
        await conn.execute("UPDATE device_state SET last_seen_at = $1", MORNING)
        await reading(conn, "m1", "mum", local(6, 50), volume=100.0)
        await reading(conn, "m1", "mum", local(7, 5), volume=104.0, flow=4.0)
        await reading(conn, "p1", "mum", local(9, 42), motion=True)
        await reading(conn, "p1", "other", local(9, 50), motion=True)
    await add_user(world.pool, "fay", Role.FAMILY, language=language)
    await assign(world.pool, "mum", "fay", "family")


async def test_family_sees_their_relative_in_plain_chinese(db_url: str) -> None:
    async with api_world(db_url, start=MORNING) as world:
        await _relative(world)
        fay = await world.sign_in("fay")

        body = await fay.json("GET", "/api/v1/family")

        [mum] = body["relatives"]
        assert mum["home_id"] == "mum"
        assert mum["status_text"] == "最近一次活动：今天 09:42，一切正常"
        assert mum["today"] == {
            "water_litres": 4.0,
            "motion_events": 1,
            "first_activity_at": "2026-01-04T23:05:00Z",
            "out_of_home": False,
        }
        assert mum["open_alerts"] == []
        # No readings, devices or explanations in the family's answer.
        assert not {"water", "motion", "devices", "explanation"} & set(mum)


async def test_family_sees_open_alerts_in_english(db_url: str) -> None:
    async with api_world(db_url, start=MORNING) as world:
        await _relative(world, language="en")
        async with world.pool.acquire() as conn:
            await alert(conn, "mum", "no_water", "high", opened=local(9, 30))
            await alert(conn, "other", "no_water", "high", opened=local(9, 30))
        fay = await world.sign_in("fay")

        [mum] = (await fay.json("GET", "/api/v1/family"))["relatives"]

        assert mum["status"] == "alert"
        assert mum["status_text"] == (
            "Last activity: today 09:42; something needs attention now;"
            " the care advisor has been alerted."
        )
        [only] = mum["open_alerts"]
        assert only["text"] == "no sign of activity (since today 09:30)"
        # How staff stand with it, in figures; never the detector's internals.
        assert set(only) == {
            "id", "category", "kind", "severity", "opened_at", "first_seen_at", "text",
            "acknowledged_at", "claimed_at", "expected_arrival_at", "arrived_at", "helper_name",
        }  # fmt: skip


async def test_family_declares_away_and_sets_preferences(db_url: str) -> None:
    async with api_world(db_url, start=MORNING) as world:
        await _relative(world)
        fay = await world.sign_in("fay")
        friday = local(18, days=4).isoformat()

        await fay.json("POST", "/api/v1/homes/mum/away", expect=201, json={"ends_at": friday})
        [mum] = (await fay.json("GET", "/api/v1/family"))["relatives"]
        assert mum["status_text"] == "最近一次活动：今天 09:42，外出中，预计1月9日 18:00回家"
        assert mum["today"]["out_of_home"] is True
        assert len(mum["away_periods"]) == 1

        prefs_path = "/api/v1/family/preferences/mum"
        prefs = await fay.json("GET", prefs_path)
        assert prefs["channels"]["sms"].startswith("+86") and prefs["language"] == "zh-CN"
        new = {"channels": {"sms": None, "email": "fay@example.org"},
               "quiet_start": "22:00:00", "quiet_end": "07:00:00", "language": "en"}  # fmt: skip
        assert await fay.json("PUT", prefs_path, json=new) == new
        assert await fay.json("GET", prefs_path) == new

        error = await fay.json("PUT", prefs_path, expect=422, json={**new, "quiet_end": None})
        assert error["error"]["field"] == "quiet_end"
        none = {**new, "channels": {"sms": None, "email": None}}
        error = await fay.json("PUT", prefs_path, expect=422, json=none)
        assert error["error"]["field"] == "channels"
        # Another home's preferences do not exist for them.
        await fay.json("GET", "/api/v1/family/preferences/other", expect=404)
        await fay.json("PUT", "/api/v1/family/preferences/other", expect=404, json=new)


async def test_staff_have_no_family_view(db_url: str) -> None:
    async with api_world(db_url, start=MORNING) as world:
        wang = await world.user_signed_in("wang", Role.ADVISOR)
        await wang.json("GET", "/api/v1/family", expect=403)


def test_status_words_for_yesterday_silence_and_no_activity() -> None:
    now = local(10)
    yesterday = local(21, 10, days=-1)
    assert status_text(Language.ZH, "offline", yesterday, None, TZ, now) == (
        "最近一次活动：昨天 21:10，家中设备暂时没有信号，我们正在跟进"
    )
    assert status_text(Language.EN, "attention", local(8, days=-3), None, TZ, now) == (
        "Last activity: 2 Jan 08:00; something needs a look; the care advisor will follow up."
    )
    assert status_text(Language.EN, "ok", None, None, TZ, now) == (
        "No activity recorded yet; all is well."
    )


def test_out_of_home_after_quiet_at_the_entrance() -> None:
    now = local(10)
    assert out_of_home(None, "Entrance hall", local(9, 30), now)
    assert not out_of_home(None, "Entrance hall", local(9, 55), now)  # may still be there
    assert not out_of_home(None, "kitchen", local(9, 30), now)
    assert not out_of_home(None, None, local(9, 30), now)  # last sign was water
