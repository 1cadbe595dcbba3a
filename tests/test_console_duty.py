"""Who is on duty in the console (Chromium): the supervisor's dashboard lists each street's
advisor on duty and the cover arranged; the alert detail names them, with a call button,
in Chinese and in English, on a phone without sideways scrolling; the duty page shows the
rotations and arranges cover, which then shows as who is on duty."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page

from api.principal import Role
from core.contacts import Language
from core.duty import Override, Rotation, Tier
from storage import duty as duty_rows
from storage.duty import DutyPerson
from tests.api_helpers import add_user
from tests.browser_helpers import (
    ADMIN,
    CHROMIUM,
    PASSWORD,
    ConsoleWorld,
    chromium,
    console_world,
    screenshot,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
STREET = "幸福街道"


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[ConsoleWorld]:
    async with console_world(db_url) as served:
        await add_user(served.pool, "office", Role.SUPERVISOR, street=STREET,
                       display_name="幸福街道办")  # fmt: skip
        await add_user(served.pool, "li", Role.ADVISOR, display_name="李顾问")
        await add_user(served.pool, "zhang", Role.ADVISOR, display_name="张顾问")
        now = datetime.now(UTC)
        async with served.pool.acquire() as conn:
            await duty_rows.put_person(conn, DutyPerson("li", Language.ZH, "+8613866666662"), now)
            await duty_rows.put_person(conn, DutyPerson("zhang", Language.EN, "+8613866666661"),
                                       now)  # fmt: skip
            rota = Rotation(0, STREET, "白班", ("li", "zhang"), now - timedelta(hours=1), 86400)
            await duty_rows.add_rotation(conn, rota, "admin", now)
            cover = Override(0, STREET, "zhang", now + timedelta(days=1), now + timedelta(days=1,
                             hours=4), reason="李顾问请假")  # fmt: skip
            await duty_rows.add_override(conn, cover, "office", now)
        yield served


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def signed_in(browser: Browser, world: ConsoleWorld, username: str, width: int) -> Page:
    context = await browser.new_context(base_url=world.base_url, locale="zh-CN",
                                        viewport={"width": width, "height": 844})  # fmt: skip
    context.set_default_timeout(10_000)
    page = await context.new_page()
    await page.goto("/")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("form.login-form button[type=submit]")
    await page.wait_for_selector("body[data-role]")
    return page


async def test_supervisor_sees_who_is_on_duty(browser: Browser, world: ConsoleWorld) -> None:
    page = await signed_in(browser, world, "office", 1280)
    await page.goto("/#/dashboard")
    panel = page.locator("[data-testid=duty-panel]")
    await panel.wait_for()
    row = panel.locator(f"tr[data-street='{STREET}']")
    await row.locator("[data-testid=duty-primary]").get_by_text("李顾问").wait_for()
    assert "白班" in await row.inner_text()
    assert "未排班" in await row.locator("td").nth(1).inner_text()  # no backup rota
    assert "张顾问" in await row.inner_text() and "李顾问请假" in await row.inner_text()
    await screenshot(page, "duty-dashboard")


async def test_alert_detail_names_the_advisor_on_duty(
    browser: Browser, world: ConsoleWorld
) -> None:
    alert_id = await world.raise_alert()
    page = await signed_in(browser, world, "office", 390)
    await page.goto(f"/#/alerts/{alert_id}")
    card = page.locator("[data-testid=on-duty]")
    await card.wait_for()
    call = card.locator("[data-testid=on-duty-primary-call]")
    assert await call.get_attribute("href") == "tel:+8613866666662"
    assert "李顾问" in await call.inner_text()
    assert "回复告警短信" in await card.inner_text()
    overflow = await page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert not overflow
    await screenshot(page, "duty-alert-phone")
    await page.click("[data-testid=lang-toggle]")
    await page.wait_for_selector("html[lang=en]")
    await card.get_by_text("Advisor on duty").wait_for()
    assert "reply to the alert SMS" in await card.inner_text()


def local_input(moment: datetime) -> str:
    """A datetime-local field's value for `moment`, on the street's (Shanghai) clock."""
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")


async def no_sideways_scroll(page: Page) -> bool:
    return not await page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


async def test_duty_page_shows_the_rota_and_arranges_cover(
    browser: Browser, world: ConsoleWorld
) -> None:
    page = await signed_in(browser, world, "office", 390)
    await page.click("nav [data-nav=duty]")
    card = page.locator(f"section[data-street='{STREET}']")
    await card.wait_for()
    assert await page.locator("h1").inner_text() == "值班安排"
    rotation = card.locator("[data-testid=rotations] tbody tr")
    assert await rotation.count() == 1
    row = await rotation.inner_text()
    assert "白班" in row and "李顾问、张顾问" in row and "1 天" in row and "每天" in row
    assert "李顾问" in await card.locator("[data-testid=duty-primary]").inner_text()
    assert "张顾问" in await card.locator("[data-testid=next-primary]").inner_text()
    assert "李顾问请假" in await card.locator("[data-testid=overrides]").inner_text()
    assert await no_sideways_scroll(page)
    await screenshot(page, "duty-page-phone")

    # Mistakes are said in words: the end before the start; someone with no duty details.
    now = datetime.now(UTC)
    feedback = page.locator("[data-testid=cover-feedback]")
    await page.fill("#cover-person", "zhang")
    await page.fill("#cover-from", local_input(now + timedelta(hours=2)))
    await page.fill("#cover-to", local_input(now + timedelta(hours=1)))
    await page.click("[data-testid=add-cover] button[type=submit]")
    await feedback.get_by_text("结束时间必须晚于开始时间").wait_for()
    await page.fill("#cover-person", "ghost")
    await page.fill("#cover-from", local_input(now - timedelta(minutes=10)))
    await page.fill("#cover-to", local_input(now + timedelta(hours=2)))
    await page.click("[data-testid=add-cover] button[type=submit]")
    await feedback.get_by_text("还没有登记值班联系方式").wait_for()

    # 张 covers from now on: he is on duty, and the cover is listed.
    await page.fill("#cover-person", "zhang")
    await page.fill("#cover-reason", "李顾问看病")
    await page.click("[data-testid=add-cover] button[type=submit]")
    await feedback.get_by_text("已保存").wait_for()
    primary = card.locator("[data-testid=duty-primary]")
    await primary.get_by_text("张顾问").wait_for()
    assert "临时替班" in await primary.inner_text()
    assert "李顾问看病" in await card.locator("[data-testid=overrides]").inner_text()
    assert await no_sideways_scroll(page)

    await page.click("[data-testid=lang-toggle]")
    await page.wait_for_selector("html[lang=en]")
    await page.locator("h1").get_by_text("Duty rota").wait_for()
    en = await card.inner_text()
    assert "Rotations" in en and "1 d" in en and "Every day" in en and "Cover" in en
    assert "张顾问" in await card.locator("[data-testid=duty-primary]").inner_text()
    assert await no_sideways_scroll(page)
    await screenshot(page, "duty-page-phone-en")


async def test_admin_sees_every_streets_rota(browser: Browser, world: ConsoleWorld) -> None:
    page = await signed_in(browser, world, ADMIN, 1280)
    await page.goto("/#/duty")
    await page.locator(f"section[data-street='{STREET}'] [data-testid=rotations]").wait_for()
    assert await page.locator("#cover-street option").count() >= 1
    await screenshot(page, "duty-page-admin")


async def test_duty_page_removes_a_wrong_cover(browser: Browser, world: ConsoleWorld) -> None:
    page = await signed_in(browser, world, "office", 390)
    await page.goto("/#/duty")
    card = page.locator(f"section[data-street='{STREET}']")
    await card.wait_for()
    primary = card.locator("[data-testid=duty-primary]")
    await primary.get_by_text("李顾问").wait_for()

    # The wrong cover: 张 from now on.
    now = datetime.now(UTC)
    await page.fill("#cover-person", "zhang")
    await page.fill("#cover-from", local_input(now - timedelta(minutes=10)))
    await page.fill("#cover-to", local_input(now + timedelta(hours=2)))
    await page.fill("#cover-reason", "填错了")
    await page.click("[data-testid=add-cover] button[type=submit]")
    await primary.get_by_text("张顾问").wait_for()
    covers = card.locator("[data-testid=overrides] li")
    assert await covers.count() == 2
    wrong = covers.filter(has_text="填错了")

    # Remove asks first; "keep" leaves it be.
    await wrong.locator("[data-testid=remove-cover]").click()
    assert "确定撤销这次替班" in await wrong.inner_text()
    await wrong.locator("[data-testid=keep-cover]").click()
    await wrong.locator("[data-testid=remove-cover]").wait_for()
    assert await covers.count() == 2
    assert await no_sideways_scroll(page)

    await wrong.locator("[data-testid=remove-cover]").click()
    await wrong.locator("[data-testid=confirm-remove]").click()
    await page.locator("[data-testid=duty-feedback]").get_by_text("已撤销 张顾问 的替班").wait_for()
    await covers.filter(has_text="填错了").wait_for(state="detached")
    assert await covers.count() == 1  # tomorrow's cover stays
    assert "李顾问请假" in await covers.inner_text()
    await primary.get_by_text("李顾问").wait_for()
    assert "白班" in await primary.inner_text()  # the rotation's person, not cover
    async with world.pool.acquire() as conn:
        removed_by = await conn.fetchval(
            "SELECT removed_by FROM duty_overrides WHERE reason = '填错了'"
        )
    assert removed_by == "office"
    await screenshot(page, "duty-cover-removed-phone")

    # Taken back elsewhere meanwhile (the command line): the page says so and catches up.
    await page.click("[data-testid=lang-toggle]")
    await page.wait_for_selector("html[lang=en]")
    tomorrow = covers.filter(has_text="李顾问请假")
    await tomorrow.locator("[data-testid=remove-cover]").get_by_text("Remove").wait_for()
    async with world.pool.acquire() as conn:
        (cover,) = (await duty_rows.schedule(conn, [STREET], datetime.now(UTC))).overrides
        assert await duty_rows.remove_override(conn, cover.id, "cli", datetime.now(UTC))
    await tomorrow.locator("[data-testid=remove-cover]").click()
    await tomorrow.locator("[data-testid=confirm-remove]").get_by_text("Yes, remove").click()
    feedback = page.locator("[data-testid=duty-feedback] .message.error")
    await feedback.get_by_text("already removed").wait_for()
    await card.locator("[data-testid=overrides]").get_by_text("No cover arranged").wait_for()


async def test_duty_page_removes_a_wrong_rotation(browser: Browser, world: ConsoleWorld) -> None:
    now = datetime.now(UTC)
    async with world.pool.acquire() as conn:
        backup = Rotation(0, STREET, "备班", ("zhang",), now - timedelta(hours=1), 86400,
                          tier=Tier.BACKUP)  # fmt: skip
        await duty_rows.add_rotation(conn, backup, "admin", now)
    page = await signed_in(browser, world, "office", 390)
    await page.goto("/#/duty")
    card = page.locator(f"section[data-street='{STREET}']")
    await card.wait_for()
    primary = card.locator("[data-testid=duty-primary]")
    await primary.get_by_text("李顾问").wait_for()
    await card.locator("[data-testid=duty-backup]").get_by_text("张顾问").wait_for()
    rotations = card.locator("[data-testid=rotations] tbody tr")
    assert await rotations.count() == 2
    wrong = rotations.filter(has_text="白班")

    # Remove asks first; "keep" leaves it be.
    await wrong.locator("[data-testid=remove-rotation]").click()
    assert "确定撤销这个轮班" in await wrong.inner_text()
    await wrong.locator("[data-testid=keep-rotation]").click()
    await wrong.locator("[data-testid=remove-rotation]").wait_for()
    assert await rotations.count() == 2
    assert await no_sideways_scroll(page)

    await wrong.locator("[data-testid=remove-rotation]").click()
    await wrong.locator("[data-testid=confirm-remove]").click()
    await page.locator("[data-testid=duty-feedback]").get_by_text("已撤销白班轮班").wait_for()
    await rotations.filter(has_text="白班").wait_for(state="detached")
    assert await rotations.count() == 1  # the backup rota stays
    # Nobody scheduled as primary now: the homes' own advisors; the backup is unchanged.
    await primary.get_by_text("未排班").wait_for()
    assert "张顾问" in await card.locator("[data-testid=duty-backup]").inner_text()
    assert "李顾问请假" in await card.locator("[data-testid=overrides]").inner_text()
    assert await no_sideways_scroll(page)
    async with world.pool.acquire() as conn:
        removed_by = await conn.fetchval(
            "SELECT removed_by FROM duty_rotations WHERE layer = '白班'"
        )
    assert removed_by == "office"
    await screenshot(page, "duty-rotation-removed-phone")

    # Taken back elsewhere meanwhile (the command line): the page says so and catches up.
    await page.click("[data-testid=lang-toggle]")
    await page.wait_for_selector("html[lang=en]")
    left = rotations.filter(has_text="备班")
    await left.locator("[data-testid=remove-rotation]").get_by_text("Remove").wait_for()
    async with world.pool.acquire() as conn:
        (rota,) = (await duty_rows.schedule(conn, [STREET])).rotations
        assert await duty_rows.remove_rotation(conn, rota.id, "cli", datetime.now(UTC))
    await left.locator("[data-testid=remove-rotation]").click()
    await left.locator("[data-testid=confirm-remove]").get_by_text("Yes, remove").click()
    feedback = page.locator("[data-testid=duty-feedback] .message.error")
    await feedback.get_by_text("already removed").wait_for()
    await card.get_by_text("This street has no rotation yet.").wait_for()
