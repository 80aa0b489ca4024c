"""/prices through the emulator (issue 10, section 3): a Chinese farmer's prices and chart by
command, by typed words at the menu and in the middle of a report; the daily-prices button
switched off and on (seen in the next /prices); an English merchant before any price exists
(no chart) and after; a stranger told to register first. Prices are seeded with the service."""

from __future__ import annotations

import io
from datetime import datetime, time, timedelta

from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Grade, PriceSource, Product, Village, utcnow
from bot.services import prices
from bot.services.prices import Key
from tests.conftest import BotRunner
from tests.e2e.flows import seed_farmer, seed_merchant
from tests.emulator import BotApiEmulator, BotMessage, UserChat

CHART_WAIT = 30  # the first chart of a process loads matplotlib and the font
PARCHMENT_AA = Key(Product.PARCHMENT, Grade.AA)
GREEN_AA = Key(Product.GREEN, Grade.AA)


def local_midnight(runner: BotRunner) -> datetime:
    """The start of the programme's day: prices before it are "yesterday's"."""
    tz = runner.settings.tz
    return datetime.combine(utcnow().astimezone(tz).date(), time(0), tzinfo=tz)


async def prices_and_chart(chat: UserChat, heading: str) -> tuple[BotMessage, bytes]:
    shown = await chat.receive_until(lambda m: heading in (m.text or ""))
    chart = await chat.receive_until(lambda m: m.photo is not None, timeout=CHART_WAIT)
    assert chart.photo_bytes is not None
    assert Image.open(io.BytesIO(chart.photo_bytes)).size == (800, 500)
    return shown, chart.photo_bytes


async def test_a_farmer_asks_for_prices_and_switches_the_daily_prices(
    emulator: BotApiEmulator, running_bot: BotRunner, session: AsyncSession, villages: list[Village]
) -> None:
    await seed_farmer(session, villages[0], 21, "zh", [600])  # parchment, washed, AA
    midnight = local_midnight(running_bot)
    await prices.record(session, PARCHMENT_AA, 2600, PriceSource.FEED, at=midnight - timedelta(1))
    await prices.record(session, PARCHMENT_AA, 2730, PriceSource.COORDINATOR, at=midnight)
    await prices.record(
        session, PARCHMENT_AA, 2800, PriceSource.AUCTION, at=midnight - timedelta(2)
    )
    await prices.record(session, GREEN_AA, 3300, PriceSource.FEED, at=midnight)  # not theirs
    await session.commit()
    chat = emulator.user(21, language_code="zh")

    await chat.send("/prices")
    first, _png = await prices_and_chart(chat, "📈 今天的咖啡价格")
    assert "• 带壳豆 · AA：¥27.30/公斤（较昨日 +5.0%）" in first.text, first.text
    assert "最近拍卖价：¥28.00/公斤（" in first.text and "生豆" not in first.text
    assert first.buttons == ["🔔 每日价格：已打开 — 点此关闭"]
    # Typed words at the main menu.
    for typed in ("价格", "多少钱"):
        await chat.send(typed)
        again, _png = await prices_and_chart(chat, "📈 今天的咖啡价格")
        assert again.text == first.text
    # In a report, at a step with buttons: the prices, then the same question again.
    await chat.send("📦 上报收成")
    await chat.receive_until(lambda m: "您要卖什么？" in (m.text or ""))
    await chat.send("价格")
    await prices_and_chart(chat, "📈 今天的咖啡价格")
    again = await chat.receive_until(lambda m: "您要卖什么？" in (m.text or ""))
    assert again.buttons == ["鲜果", "带壳豆", "生豆", "✖ 取消"]
    # A step that takes typed text gets it: "多少钱" is read as a quantity, not as /prices.
    for button in ("带壳豆", "水洗", "卡蒂姆"):
        await chat.press(button)
        await chat.receive_until(lambda m: bool(m.buttons))
    await chat.send("多少钱")
    assert "📈" not in (await chat.receive()).text
    await chat.send("/cancel")
    await chat.receive_until(lambda m: "已取消" in (m.text or ""))

    # The button switches the daily prices off, in place; the next /prices shows it off.
    await chat.press("🔔 每日价格：已打开 — 点此关闭", message=first)
    answer = await chat.wait_callback_answer()
    assert answer["text"].startswith("🔕 每日价格已关闭")
    await chat.wait_for(lambda c: first.buttons == ["🔕 每日价格：已关闭 — 点此打开"])
    await chat.send("/prices")
    off, _png = await prices_and_chart(chat, "📈 今天的咖啡价格")
    assert off.buttons == ["🔕 每日价格：已关闭 — 点此打开"]
    await chat.press("🔕 每日价格：已关闭 — 点此打开", message=off)
    assert (await chat.wait_callback_answer())["text"] == "🔔 每日价格已打开：每天 08:00 发给您。"
    await chat.send("/prices")
    on, _png = await prices_and_chart(chat, "📈 今天的咖啡价格")
    assert on.buttons == ["🔔 每日价格：已打开 — 点此关闭"]
    await running_bot.idle(chat)


async def test_a_merchant_asks_before_and_after_there_are_prices(
    emulator: BotApiEmulator, running_bot: BotRunner, session: AsyncSession
) -> None:
    await seed_merchant(session, 61, "en")
    await session.commit()
    chat = emulator.user(61, language_code="en")

    await chat.send("prices")
    none = await chat.receive()
    assert none.text.startswith("📈 No prices yet.") and none.buttons == [
        "🔔 Daily prices: on — turn off"
    ]
    await running_bot.idle(chat)
    assert not [m for m in chat.unread if m.photo], "no chart without prices"

    midnight = local_midnight(running_bot)
    await prices.record(session, GREEN_AA, 3300, PriceSource.FEED, at=midnight - timedelta(3))
    await prices.record(session, GREEN_AA, 3300, PriceSource.FEED, at=midnight)
    await prices.record(session, Key(Product.CHERRY), 550, PriceSource.COORDINATOR, at=midnight)
    await session.commit()
    await chat.send("Coffee price")
    shown, _png = await prices_and_chart(chat, "📈 Coffee prices today")
    # A merchant who has bid on nothing sees every priced product and grade.
    assert "• Fresh cherry: CN¥5.50/kg (new today)" in shown.text, shown.text
    assert "• Green bean · AA: CN¥33.00/kg (unchanged since yesterday)" in shown.text
    assert "auction" not in shown.text

    stranger = emulator.user(62, language_code="en")
    await stranger.send("/prices")
    refused = await stranger.receive()
    assert refused.text.startswith("Coffee prices are shown to the programme's registered")
    await running_bot.idle(chat, stranger)
