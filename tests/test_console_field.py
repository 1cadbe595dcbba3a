"""The console in the field (issue 12), in Chromium: a phone-first alert on a 390 px
screen, every text in the reader's language (explanations, history, errors), the lists'
views and filters, and the resident's profile for the advisor on the way."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, Page

from core.alerts import Outcome
from core.kinds import Category, Severity
from detectors.findings import Finding
from tests.browser_helpers import (
    ADVISOR,
    CHROMIUM,
    HOME,
    OTHER_HOME,
    PASSWORD,
    RESIDENT,
    ConsoleWorld,
    chromium,
    console_world,
    screenshot,
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")

PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[ConsoleWorld]:
    async with console_world(db_url) as served:
        async with served.pool.acquire() as conn:
            await conn.execute(
                "UPDATE homes SET building = '3号楼', floor = '2', unit = '201' WHERE id = $1",
                HOME,
            )
            await conn.execute(
                "UPDATE residents SET birth_year = 1941, key_holder_name = '邻居陈阿姨',"
                " key_holder_phone = '+8613600000002',"
                ' care_notes = \'{"hearing": "左耳听力弱", "pets": "一只小狗"}\''
                " WHERE home_id = $1",
                HOME,
            )
        yield served


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def new_page(browser: Browser, world: ConsoleWorld, viewport: dict[str, int]) -> Page:
    context = await browser.new_context(
        base_url=world.base_url, locale="zh-CN", timezone_id="America/New_York",
        viewport=viewport, has_touch=viewport["width"] < 500,
    )  # fmt: skip
    context.set_default_timeout(10_000)
    return await context.new_page()


async def sign_in(page: Page, username: str) -> None:
    await page.goto("/")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("form.login-form button[type=submit]")
    await page.wait_for_selector("body[data-role]")


async def smoke(world: ConsoleWorld, home_id: str = HOME) -> int:
    """A smoke alarm in the kitchen, as the detector raises it (with its params)."""
    finding = Finding(
        home_id, Category.SMOKE, "smoke_alarm", Severity.CRITICAL, datetime.now(UTC),
        "smoke alarm sounding in the kitchen", params={"room": "kitchen"},
    )  # fmt: skip
    (result,) = await world.alerts.ingest([finding])
    assert result.alert_id is not None
    return result.alert_id


async def test_on_a_phone_the_actions_come_first_and_nothing_scrolls_sideways(
    browser: Browser, world: ConsoleWorld
) -> None:
    alert_id = await smoke(world)
    page = await new_page(browser, world, PHONE)
    await sign_in(page, ADVISOR)
    await page.goto(f"/#/alerts/{alert_id}")
    await page.wait_for_selector("[data-testid=profile]")
    await page.wait_for_selector("table.history")
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways: {width} px wide"
    # Who, where, what, call, claim: above every table, reachable in the first screens.
    claim = await page.locator("[data-action=claim]").bounding_box()
    first_table = await page.locator("table").first.bounding_box()
    call = await page.locator("[data-testid=call-resident]").bounding_box()
    assert claim and first_table and call
    assert claim["y"] < first_table["y"] and call["y"] < claim["y"]
    assert claim["y"] < 2 * PHONE["height"]
    assert await page.locator("[data-testid=call-resident]").get_attribute("href") == (
        "tel:" + (await resident_phone(world))
    )
    assert await page.locator("[data-testid=call-key-holder]").get_attribute("href") == (
        "tel:+8613600000002"
    )
    head = await page.inner_text(".alert-head")
    assert RESIDENT in head and "3号楼" in head and "2 楼" in head
    assert "厨房烟雾报警器正在鸣响" in head and "仍在持续" in head
    profile = await page.inner_text("[data-testid=profile]")
    assert "左耳听力弱" in profile and "一只小狗" in profile and "邻居陈阿姨" in profile
    await screenshot(page, "alert-detail-phone", docs=True)
    # The view of the profile is in the audit log, with the home.
    async with world.pool.acquire() as conn:
        audited = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE username = $1 AND action = 'home.profile'"
            " AND home_id = $2",
            ADVISOR, HOME,
        )  # fmt: skip
    assert audited >= 1
    await page.context.close()


async def resident_phone(world: ConsoleWorld) -> str:
    async with world.pool.acquire() as conn:
        phone: str = await conn.fetchval("SELECT phone FROM residents WHERE home_id = $1", HOME)
    return phone


async def test_the_language_switch_covers_explanations_history_and_errors(
    browser: Browser, world: ConsoleWorld
) -> None:
    alert_id = await smoke(world)
    page = await new_page(browser, world, {"width": 1280, "height": 900})
    await sign_in(page, ADVISOR)
    await page.goto(f"/#/alerts/{alert_id}")
    explanation = page.locator(".alert-head [data-testid=explanation]")
    await explanation.wait_for()
    assert await explanation.inner_text() == "厨房烟雾报警器正在鸣响"
    # An ETA of 0 minutes: the server refuses it, and the console says why in words.
    await page.fill("#eta", "0")
    await page.click("[data-action=claim]")
    error = page.locator("[data-testid=action-feedback] .message.error")
    await error.wait_for()
    assert await error.inner_text() == "请输入 1 到 720 之间的分钟数。"
    await page.click("[data-testid=lang-toggle]")
    await page.wait_for_selector("html[lang=en]")
    await explanation.wait_for()
    assert await explanation.inner_text() == "smoke alarm sounding in the kitchen"
    history = await page.inner_text("table.history")
    assert "People notified" in history and "Resident, Primary advisor" in history
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", history)  # no raw codes
    await page.fill("#eta", "0")
    await page.click("[data-action=claim]")
    await error.wait_for()
    assert await error.inner_text() == "Please enter a number of minutes between 1 and 720."
    await screenshot(page, "alert-detail-en", docs=True)
    # Someone else claims it meanwhile: the stale page's action gets a sentence, not a 409.
    await page.fill("#eta", "10")
    await world.alerts.acknowledge(alert_id, "li")
    await world.alerts.claim(alert_id, "li", datetime.now(UTC) + timedelta(minutes=5))
    await page.wait_for_selector("[data-action=claim]", state="detached", timeout=15_000)
    await page.close()


async def test_views_filters_and_a_short_lived_alert(browser: Browser, world: ConsoleWorld) -> None:
    mine = await world.raise_alert(HOME, "motion_inactivity")
    other = await world.raise_alert(OTHER_HOME, "water_inactivity")
    await world.alerts.claim(mine, ADVISOR, datetime.now(UTC) + timedelta(minutes=5))
    async with world.pool.acquire() as conn:  # ... and the five minutes have passed
        await conn.execute(
            "UPDATE alerts SET expected_arrival_at = now() - interval '1 minute' WHERE id = $1",
            mine,
        )
    # A leak that opened and cleared itself within seconds.
    leak = Finding(OTHER_HOME, Category.LEAK, "leak_continuous_flow", Severity.MEDIUM,
                   datetime.now(UTC), "water running",
                   params={"since_at": 0, "lpm": 4.0})  # fmt: skip
    (opened,) = await world.alerts.ingest([leak])
    cleared = Finding(OTHER_HOME, Category.LEAK, "leak_continuous_flow", Severity.INFO,
                      datetime.now(UTC) + timedelta(seconds=3), "water stopped", clears=True,
                      params={"flowed_s": 3})  # fmt: skip
    await world.alerts.ingest([cleared])
    page = await new_page(browser, world, {"width": 1280, "height": 900})
    await sign_in(page, ADVISOR)
    await page.wait_for_url(re.compile(r"#/alerts$"))
    await page.wait_for_selector(f'.alert-item[data-alert-id="{mine}"]')
    # The claim's expected arrival has passed: flagged overdue, in the list.
    row = page.locator(f'.alert-item[data-alert-id="{mine}"]')
    assert "已超过预计到达时间" in await row.locator("[data-testid=overdue]").inner_text()
    await page.click("[data-filter=unclaimed]")
    await page.wait_for_url(re.compile(r"unclaimed=1"))
    await page.wait_for_selector(f'.alert-item[data-alert-id="{other}"]')
    assert await page.locator(".alert-item").count() == 1
    await page.click("[data-filter=unclaimed]")
    await page.click("[data-filter=mine]")
    await page.wait_for_selector(f'.alert-item[data-alert-id="{mine}"]')
    assert await page.locator(".alert-item").count() == 1
    # Recent: everything, the alert that lived three seconds included, said as it ended.
    await page.goto("/#/alerts?view=recent")
    short = page.locator(f'.alert-item[data-alert-id="{opened.alert_id}"]')
    await short.wait_for()
    assert "已停止" in await short.locator("[data-testid=alert-now]").inner_text()
    await world.alerts.resolve(other, ADVISOR, Outcome.RESIDENT_OK, None)
    await page.goto("/#/alerts?view=resolved")
    await page.wait_for_selector(f'.alert-item[data-alert-id="{other}"]')
    ids = await page.locator(".alert-item").evaluate_all("els => els.map(e => e.dataset.alertId)")
    assert set(ids) == {str(other), str(opened.alert_id)}
    await screenshot(page, "alerts-resolved")
    await page.click("[data-testid=lang-toggle]")
    await page.wait_for_selector("html[lang=en]")
    await page.goto("/#/alerts?view=recent")
    await page.wait_for_selector(f'.alert-item[data-alert-id="{opened.alert_id}"]')
    await screenshot(page, "alerts-recent-en", docs=True)
    # The home's page lists its alerts, past ones too.
    await page.goto(f"/#/homes/{OTHER_HOME}")
    await page.wait_for_selector("[data-testid=home-alerts]")
    assert await page.locator("[data-testid=home-alerts] li").count() == 2
    await page.close()


async def test_admins_manage_users_in_words(browser: Browser, world: ConsoleWorld) -> None:
    page = await new_page(browser, world, {"width": 1280, "height": 900})
    await sign_in(page, "admin")
    await page.goto("/#/admin")
    users = page.locator("[data-testid=users]")
    await users.wait_for()
    assert "王小明" in await users.inner_text()  # people by name, roles in words
    assert "助老员" in await users.inner_text()
    form = page.locator("[data-testid=add-user]")
    await form.locator("#new-username").fill("advisor.chen")
    await form.locator("#new-display_name").fill("陈顾问")
    await form.locator("#new-password").fill("short")
    await form.locator("button[type=submit]").click()
    error = form.locator(".message.error")
    await error.wait_for()
    assert "10 个字符" in await error.inner_text()
    await form.locator("#new-password").fill("a long and unusual passphrase")
    await form.locator("button[type=submit]").click()
    await users.locator("text=陈顾问").wait_for()
    await page.wait_for_selector("[data-policy=critical]")
    await page.close()
