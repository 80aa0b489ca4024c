"""The demo page in a real browser (issue 11): a farmer registers and reports a harvest by
clicking, a merchant sees the outbid notice arrive live in their chat while another merchant
bids in the next one, and a coordinator's announcement arrives in a farmer's chat; the page
speaks Chinese and English and says it listens on 127.0.0.1. Each role's chat is saved as a
screenshot under tests/browser/artifacts/ (the paths are printed at the end of the run)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Grade, Process, Product
from bot.services import users
from bot.services.pools import PoolKey
from tests.browser.chromium import need_chromium
from tests.browser.conftest import ARTIFACTS, WAIT_MS, Demo
from tests.conftest import COORDINATOR_ID
from tests.e2e.flows import open_lots, seed_farmer, seed_merchant
from tests.emulator import make_png

need_chromium()

from playwright.async_api import FilePayload, Locator, Page, expect  # noqa: E402

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(90)]

RecordProperty = Callable[[str, object], None]
expect.set_options(timeout=WAIT_MS)


async def open_page(demo: Demo, lang: str = "en") -> Page:
    """A new tab on the page, its labels in ``lang``."""
    page = await demo.browser.new_page()
    await page.goto(demo.url)
    await page.select_option("#page-language", lang)
    await expect(page.locator("#new-form button[type=submit]")).to_have_text(
        {"en": "Create and open", "zh": "新建并打开"}[lang]
    )
    return page


async def new_user(page: Page, user_id: int, name: str, lang: str) -> Phone:
    """Make a user with the page's form; their chat opens."""
    form = page.locator("#new-form")
    await form.locator("input[name=id]").fill(str(user_id))
    await form.locator("input[name=first_name]").fill(name)
    await form.locator("select[name=language_code]").select_option(lang)
    await form.locator("button[type=submit]").click()
    phone = Phone(page, user_id)
    await expect(phone.column.locator(".name")).to_have_text(name)
    return phone


async def english_coordinator(session: AsyncSession) -> None:
    """The configured coordinator has been here before and reads English."""
    coordinator = await users.ensure_user(session, COORDINATOR_ID, {COORDINATOR_ID})
    await users.set_language(session, coordinator, "en")


class Phone:
    """One chat column on the page, used as a person uses a phone."""

    def __init__(self, page: Page, user_id: int) -> None:
        self.page = page
        self.column = page.locator(f'section.phone[data-chat="{user_id}"]')

    def bot_says(self, text: str | re.Pattern[str]) -> Locator:
        return self.column.locator(".message.from-bot").filter(has_text=text).last

    async def sees(self, text: str | re.Pattern[str]) -> Locator:
        """Wait for a bot message with ``text``."""
        message = self.bot_says(text)
        await expect(message).to_be_visible()
        return message

    async def tap(self, label: str | re.Pattern[str], within: Locator | None = None) -> None:
        """Press the newest button with this label (inline or under the input field)."""
        where = within if within is not None else self.column
        await where.get_by_role("button", name=label, exact=True).last.click()

    async def type(self, text: str) -> None:
        await self.column.locator(".composer input").fill(text)
        await self.column.locator(".composer button[type=submit]").click()

    async def screenshot(self, role: str, record_property: RecordProperty) -> None:
        await screenshot(self.column, role, record_property)


async def screenshot(what: Locator | Page, name: str, record_property: RecordProperty) -> None:
    """Save a test artifact and name it (printed at the end of the run)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await what.screenshot(path=str(path))
    record_property("screenshot", str(path))
    print(f"{name}: {path}")


async def test_the_page_speaks_chinese_and_english_and_says_where_it_listens(
    demo: Demo,
) -> None:
    page = await demo.browser.new_page()
    await page.goto(demo.url)
    await expect(page.locator("h1")).to_have_text("farmgate 演示")  # Chinese by default
    await expect(page.locator("#listening")).to_have_text("本页面只在 127.0.0.1 上监听。")
    await page.select_option("#page-language", "en")
    await expect(page.locator("h1")).to_have_text("farmgate demo")
    await expect(page.locator("#listening")).to_have_text("This page listens on 127.0.0.1 only.")
    await page.reload()  # the choice is remembered
    await expect(page.locator("h1")).to_have_text("farmgate demo")
    await page.close()


async def test_a_farmer_registers_and_reports_a_harvest_by_clicking(
    demo: Demo, record_property: RecordProperty
) -> None:
    page = await open_page(demo)
    farmer = await new_user(page, 1001, "Li Wei", "en")
    await farmer.column.get_by_role("button", name="START").click()
    await farmer.sees("Welcome to farmgate")
    await farmer.tap("English")
    await farmer.tap("🌱 I grow coffee")
    await farmer.sees("What is your name?")
    await farmer.type("Li Wei")
    await farmer.tap("📱 Share my phone number")
    await farmer.tap("Conggang")
    await farmer.sees("Do you want today's coffee prices every morning?")
    await farmer.tap("✅ Yes")
    await farmer.tap("📦 Report harvest")
    await farmer.tap("Parchment")
    await farmer.tap("Washed")
    await farmer.tap("Catimor")
    await farmer.sees("How much")
    await farmer.type("120 kg")
    await farmer.tap("✅ Confirm")
    await farmer.sees(re.compile(r"Report #\d+ is saved: 120 kg at Conggang"))
    # What the farmer sent is on their side of the chat, as on a phone.
    await expect(
        farmer.column.locator(".message.from-user").filter(has_text="120 kg")
    ).to_be_visible()
    await farmer.screenshot("farmer", record_property)
    await page.close()


async def test_a_merchant_sees_the_outbid_notice_arrive_live(
    demo: Demo, record_property: RecordProperty
) -> None:
    async with demo.sessions() as session:
        await english_coordinator(session)
        await seed_farmer(session, demo.village, 301, "zh", [600])
        await seed_farmer(session, demo.village, 302, "en", [500])
        await seed_merchant(session, 601, "en")
        await seed_merchant(session, 602, "en")
        await session.commit()
    page = await open_page(demo)
    first = await new_user(page, 601, "Zhang", "en")
    second = await new_user(page, 602, "Wang", "en")
    await page.evaluate("window.loadedOnce = true")  # gone if the page reloaded

    async with demo.sessions() as session:
        key = PoolKey(demo.village.id, Product.PARCHMENT, Process.WASHED, Grade.AA)
        (lot_id,) = await open_lots(session, demo.bot, key, closes_in=timedelta(hours=2))
    lot = f"Lot #{lot_id}"
    await first.sees(f"🆕 {lot} is open for bids")
    await first.tap("🔨 See the lot")
    card = await first.sees(f"{lot}: Parchment · Washed · AA")
    await first.tap(re.compile(r"^Reserve "), within=card)
    await first.sees(f"✅ Your bid of CN¥20.00/kg on {lot} stands: you lead.")

    await second.sees(f"🆕 {lot} is open for bids")
    await second.tap("🔨 See the lot")
    card = await second.sees(re.compile(rf"{lot}: Parchment · Washed · AA[\s\S]*Leading price"))
    await second.tap(re.compile(r"^\+1 · CN¥20\.10$"), within=card)
    await second.sees(f"✅ Your bid of CN¥20.10/kg on {lot} stands: you lead.")

    outbid = await first.sees(f"⚠️ You were outbid on {lot}")
    await expect(outbid).to_contain_text("The leading price is now CN¥20.10/kg")
    assert await page.evaluate("window.loadedOnce") is True
    await first.screenshot("merchant", record_property)
    await screenshot(page, "merchants-side-by-side", record_property)
    await page.close()


async def test_a_coordinator_sends_an_announcement_and_watches_it_arrive(
    demo: Demo, record_property: RecordProperty
) -> None:
    async with demo.sessions() as session:
        await seed_farmer(session, demo.village, 303, "zh", [])
        await english_coordinator(session)
        await session.commit()
    page = await open_page(demo)
    farmer = await new_user(page, 303, "李伟", "zh")
    coordinator = await new_user(page, COORDINATOR_ID, "Coordinator", "en")
    await coordinator.type("/start")
    await coordinator.sees("Welcome back!")

    # A photo the bot sent is shown: the village's QR code.
    await coordinator.type("/villages")
    await coordinator.tap("🔗 Conggang")
    qr = coordinator.column.locator(".message.from-bot img").last
    await expect(qr).to_be_visible()
    loaded = "image => image.complete && image.naturalWidth > 0"  # the bytes came and decoded
    await page.wait_for_function(loaded, arg=await qr.element_handle())

    await coordinator.type("/broadcast")
    await coordinator.tap(re.compile(r"^Farmers \(\d+\)$"))
    await coordinator.sees("send the announcement")
    await coordinator.type("Collection day is Sunday 9:00 at the school.")
    await coordinator.sees("Send it now")
    await coordinator.tap("📤 Send now")
    await farmer.sees("📣 来自 farmgate 的公告")
    await expect(farmer.bot_says("来自 farmgate 的公告")).to_contain_text(
        "Collection day is Sunday 9:00 at the school."
    )
    await coordinator.sees(re.compile(r"nnouncement #\d+ is done"))

    # Documents the bot sent download as files; its progress message changes in place.
    await coordinator.type("/export")
    ready = await coordinator.sees("✅ Export ready")
    await expect(ready.locator(".edited")).to_be_visible()
    await expect(coordinator.bot_says("Preparing export")).to_have_count(0)
    link = coordinator.column.locator("a.document", has_text="lots.csv")
    async with page.expect_download() as download:
        await link.click()
    saved = await (await download.value).path()
    assert (await download.value).suggested_filename == "lots.csv"
    assert saved.read_text(encoding="utf-8-sig").startswith("lot_id,")
    await coordinator.screenshot("coordinator", record_property)
    await farmer.screenshot("farmer-announcement", record_property)
    await page.close()


async def test_a_user_sends_photos_contacts_and_a_location_from_the_page(demo: Demo) -> None:
    page = await open_page(demo)
    user = await new_user(page, 1500, "Ann", "en")
    attach = user.column.locator("details.attach")

    # What anyone typed is shown as text, never read as HTML.
    await user.type("<b>not bold</b><img src=x>")
    typed = user.column.locator(".message.from-user .text")
    await expect(typed).to_have_text("<b>not bold</b><img src=x>")
    await expect(typed.locator("b, img")).to_have_count(0)

    await attach.locator("summary").click()
    beans: FilePayload = {"name": "beans.png", "mimeType": "image/png", "buffer": make_png(30, 20)}
    await attach.locator("input[type=file]").set_input_files(files=[beans])
    await attach.locator("input[name=caption]").fill("my beans")
    await attach.get_by_role("button", name="Send photo", exact=True).click()
    sent = user.column.locator(".message.from-user").filter(has_text="my beans")
    await expect(sent.locator("img")).to_be_visible()
    await page.wait_for_function(
        "image => image.complete && image.naturalWidth === 30",
        arg=await sent.locator("img").element_handle(),
    )

    await attach.locator("summary").click()
    await attach.get_by_role("button", name="Send a sample photo", exact=True).click()
    await expect(user.column.locator(".message.from-user img")).to_have_count(2)

    await attach.locator("summary").click()
    await attach.locator("input[name=phone]").fill("+8613900000001")
    await attach.locator("input[name=first_name]").fill("Zhao")
    await attach.get_by_role("button", name="Send contact", exact=True).click()
    await expect(user.column.locator(".message.from-user .contact")).to_have_text(
        "👤 Zhao +8613900000001"
    )

    await attach.locator("summary").click()
    await attach.get_by_role("button", name="Send location", exact=True).click()
    await expect(user.column.locator(".message.from-user .location")).to_have_text(
        "📍 25.11, 99.16"
    )
    # The bot got them as Telegram sends them: someone else's contact has no user id.
    sent_kinds = [
        (kind, raw[kind].get("user_id") if kind == "contact" else None)
        for raw in demo.emulator.user(1500).user_messages.values()
        for kind in ("photo", "contact", "location")
        if kind in raw
    ]
    assert sent_kinds == [("photo", None), ("photo", None), ("contact", None), ("location", None)]
    await page.close()
