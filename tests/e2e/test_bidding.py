"""Merchants bid in chat, through the emulator (issue 8, sections 2 and 3): the lot list with
its pages and product filter, a lot's card and photos, bids by quick button, typed price and
proxy maximum, confirmation of a price far above the leading one, the outbid, closing-soon,
won, lost and sold notices, every refusal, the soft close, /mybids and /rules, in English and
Chinese. Lots are opened with the lot services (the coordinator's chat side is tested apart)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import (
    Grade,
    Lot,
    LotStatus,
    MerchantStatus,
    Process,
    Product,
    Village,
)
from bot.services import lots, users
from bot.services.pools import PoolKey
from handlers.callbacks import LotCb, MaximumCb, QuickBidCb
from tests.conditions import eventually, outbox_drained
from tests.conftest import COORDINATOR_ID, BotRunner
from tests.e2e.flows import NOTICE_WAIT, open_lots, seed_farmer, seed_merchant
from tests.emulator import BotApiEmulator, BotMessage, UserChat
from tests.emulator.files import make_png

ACCEPTANCE = timedelta(hours=24)


@dataclass
class Market:
    en: UserChat  # approved merchant, English
    zh: UserChat  # approved merchant, Chinese
    proxy: UserChat  # approved merchant, English, bids with a maximum
    pending: UserChat
    farmer_zh: UserChat
    farmer_en: UserChat
    stranger: UserChat
    village: Village


@pytest.fixture
async def market(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> Market:
    """Two farmers with photographed parchment reports (600 + 500 kg) in Conggang, three
    approved merchants, one pending; the chats exist, the users are in the database."""
    village = villages[0]
    photo = emulator.files.new_photo(make_png())[-1]["file_id"]
    other = emulator.files.new_photo(make_png(rgb=(150, 80, 20)))[-1]["file_id"]
    coordinator = await users.ensure_user(session, COORDINATOR_ID, {COORDINATOR_ID})
    await users.set_language(session, coordinator, "en")
    await seed_farmer(session, village, 301, "zh", [600], photo=photo)
    await seed_farmer(session, village, 302, "en", [500], photo=other)
    await seed_merchant(session, 601, "en")
    await seed_merchant(session, 602, "zh")
    await seed_merchant(session, 603, "en")
    await seed_merchant(session, 604, "en", MerchantStatus.PENDING)
    await session.commit()
    return Market(
        en=emulator.user(601, language_code="en"),
        zh=emulator.user(602, language_code="zh"),
        proxy=emulator.user(603, language_code="en"),
        pending=emulator.user(604, language_code="en"),
        farmer_zh=emulator.user(301, language_code="zh"),
        farmer_en=emulator.user(302, language_code="en"),
        stranger=emulator.user(699, language_code="en"),
        village=village,
    )


def _key(village: Village, product: str = "parchment") -> PoolKey:
    if product == "cherry":
        return PoolKey(village.id, Product.CHERRY, None, None)
    return PoolKey(village.id, Product.PARCHMENT, Process.WASHED, Grade.AA)


async def close(session: AsyncSession, runner: BotRunner, lot_id: int) -> LotStatus | None:
    """The close falls due (as the scheduler closes it)."""
    session.expire_all()
    lot = await session.get(Lot, lot_id)
    assert lot is not None
    status = await lots.close_lot(session, lot_id, lot.closes_at + timedelta(seconds=1), ACCEPTANCE)
    await session.commit()
    assert runner.app is not None
    runner.app.notices.wake()
    return status


async def notice(chat: UserChat, text: str) -> BotMessage:
    return await chat.receive_until(lambda m: text in m.text, timeout=NOTICE_WAIT)


async def edited(chat: UserChat, message: BotMessage, start: str) -> None:
    """`message` edited in place into a text starting with `start` (a list page, a card)."""
    await chat.wait_for(lambda _chat: message.text.startswith(start))


async def said(chat: UserChat, text: str) -> BotMessage:
    """The next message containing `text` (messages in between skipped)."""
    return await chat.receive_until(lambda m: text in m.text)


async def test_three_merchants_bid_and_the_lot_is_sold(
    market: Market, running_bot: BotRunner, session: AsyncSession
) -> None:
    en, zh, proxy = market.en, market.zh, market.proxy
    (lot_id,) = await open_lots(session, running_bot, _key(market.village))
    assert lot_id == 1

    # The new-lot notice's button opens the card.
    await notice(en, "🆕 Lot #1 is open for bids: Parchment · Washed · AA, 1,100 kg.")
    await en.press("🔨 See the lot")
    card = await said(en, "Lot #1: Parchment · Washed · AA")
    assert card.text.splitlines()[:6] == [
        "Lot #1: Parchment · Washed · AA",
        "1,100 kg from 2 farmers, Conggang, moisture 11%",
        "",
        "Reserve: CN¥20.00/kg · increment: CN¥0.10/kg",
        "No bid yet.",
        "Minimum next bid: CN¥20.00/kg",
    ], en.transcript()
    assert card.text.splitlines()[6].startswith("Closes at ")
    assert card.buttons == [
        "Reserve CN¥20.00",
        "+2 · CN¥20.20",
        "+4 · CN¥20.40",
        "✏️ Type a price",
        "🤖 Set a maximum",
        "📷 Photos",
        "◀ Back",
    ]
    # A quick bid at the reserve.
    await en.press("Reserve CN¥20.00")
    assert (await en.receive()).text == "✅ Your bid of CN¥20.00/kg on Lot #1 stands: you lead."

    # A typed price, full-width with 元, in Chinese.
    await notice(zh, "🆕 批次 #1 开始拍卖")
    await zh.press("🔨 查看批次")
    await said(zh, "批次 #1：带壳豆 · 水洗 · AA")
    await zh.press("✏️ 输入价格")
    asked = await zh.receive()
    assert asked.text == (
        "请输入您对批次 #1 每公斤的出价（元），例如 20.10。至少要 ¥20.10/公斤。发送 /cancel 取消。"
    )
    await zh.send("２０．５元")
    assert (await zh.receive()).text == "✅ 您对批次 #1 出价 ¥20.50/公斤 成功：您目前领先。"

    # The first merchant is told, with a button back to the card.
    outbid = await notice(en, "⚠️ You were outbid on Lot #1")
    assert "The leading price is now CN¥20.50/kg; a new bid must be at least CN¥20.60/kg." in (
        outbid.text
    )
    await en.press("🔨 Bid again", message=outbid)
    card = await said(en, "Lot #1: Parchment · Washed · AA")
    assert "Leading price: CN¥20.50/kg (2 bids)" in card.text
    assert "You lead" not in card.text, "never who leads"
    assert card.buttons[:3] == ["+1 · CN¥20.60", "+3 · CN¥20.80", "+5 · CN¥21.00"]

    # A proxy maximum: the system bids the least needed.
    await proxy.send("/lots")
    listing = await said(proxy, "Lots open for bids (1), page 1 of 1:")
    assert (
        "Lot #1: Parchment · Washed · AA, 1,100 kg from 2 farmers, Conggang, moisture 11%\n"
        "leading CN¥20.50/kg · 1 hour 59 minutes left"
    ) in listing.text, proxy.transcript()
    await proxy.press("Lot #1 · 1,100 kg")
    await edited(proxy, listing, "Lot #1: Parchment · Washed · AA")
    await proxy.press("🤖 Set a maximum")
    assert (await proxy.receive()).text.startswith("Type the most you would pay per kilogram")
    await proxy.send("21")
    assert (await proxy.receive()).text == (
        "✅ You lead Lot #1 at CN¥20.60/kg; we will bid for you up to your maximum "
        "CN¥21.00/kg if another merchant bids."
    )
    outbid_zh = await notice(
        zh, "⚠️ 您在批次 #1（带壳豆 · 水洗 · AA，1,100 公斤）上的出价被超过了。"
    )

    # A quick button drawn before the proxy's bid is too low now: refused, fresh buttons.
    await en.press("+1 · CN¥20.60", message=card)
    stale = await en.receive()
    assert stale.text == (
        "A bid must beat the leading price of CN¥20.60/kg by at least the increment of "
        "CN¥0.10/kg: at least CN¥20.70/kg."
    ), en.transcript()
    # A bid under the proxy's maximum is answered at once by it.
    await en.press("+1 · CN¥20.70", message=stale)
    reply = await en.receive()
    assert reply.text == (
        "Your bid of CN¥20.70/kg on Lot #1 was accepted, but another merchant's maximum is "
        "higher: the leading price is now CN¥20.80/kg. A bid must be at least CN¥20.90/kg."
    ), en.transcript()
    assert reply.buttons[:3] == ["+1 · CN¥20.90", "+3 · CN¥21.10", "+5 · CN¥21.30"]

    # The leader cannot outbid themselves; they may raise their maximum.
    await proxy.send("/mybids")
    mine = await proxy.receive()
    assert mine.text.startswith(
        "Open lots you bid on:\n\nLot #1: Parchment · Washed · AA, 1,100 kg"
    )
    assert "✅ you lead at CN¥20.80/kg" in mine.text
    assert "Your maximum: CN¥21.00/kg" in mine.text
    await proxy.press("🔨 Lot #1")
    await said(proxy, "✅ You lead.")
    await proxy.press("+1 · CN¥20.90")
    assert (await proxy.receive()).text.startswith(
        "You lead Lot #1 already, at CN¥20.80/kg: you cannot outbid yourself."
    )

    # Far above the leading price: asked first; "Change" asks for the price again.
    await en.press("✏️ Type a price", message=reply)
    await en.receive()
    await en.send("30")
    confirm = await en.receive()
    assert confirm.text == (
        "That is 44% above the leading price of CN¥20.80/kg. Bid CN¥30.00/kg?"
    ), en.transcript()
    assert confirm.buttons == ["✅ Yes, CN¥30.00/kg", "✏️ Change"]
    await en.press("✏️ Change")
    assert (await en.receive()).text.startswith("Type your price per kilogram for Lot #1")
    await en.send("¥21.5")
    assert (await en.receive()).text == "✅ Your bid of CN¥21.50/kg on Lot #1 stands: you lead."
    await notice(proxy, "⚠️ You were outbid on Lot #1")

    # Confirmed in Chinese: the typo check asked, the merchant meant it.
    await zh.press("🔨 再次出价", message=outbid_zh)
    await said(zh, "批次 #1：带壳豆 · 水洗 · AA")
    await zh.press("✏️ 输入价格")
    await zh.receive()
    await zh.send("30元/公斤")
    ask = await zh.receive()
    assert ask.text == "这比当前最高价 ¥21.50/公斤 高出 40%。出价 ¥30.00/公斤 吗？"
    await zh.press("✅ 确定，¥30.00/公斤")
    assert (await zh.receive()).text == "✅ 您对批次 #1 出价 ¥30.00/公斤 成功：您目前领先。"
    await notice(en, "⚠️ You were outbid on Lot #1")

    # The close: won, lost and sold notices in each reader's language.
    assert await close(session, running_bot, lot_id) == LotStatus.SOLD
    won = await notice(zh, "🏆 您以 ¥30.00/公斤 拍得批次 #1")
    assert "应付总额：¥33,000.00。" in won.text
    assert (await notice(en, "Lot #1 (Parchment · Washed · AA, 1,100 kg) was sold")).text == (
        "Lot #1 (Parchment · Washed · AA, 1,100 kg) was sold to another merchant at CN¥30.00/kg."
    )
    await notice(proxy, "was sold to another merchant at CN¥30.00/kg.")
    sold_zh = await notice(
        market.farmer_zh, "✅ 卖出了！批次 #1（带壳豆 · 水洗 · AA）以 ¥30.00/公斤 成交。"
    )
    assert "您的份额：600 公斤，扣费前约 ¥18,000.00。" in sold_zh.text
    sold_en = await notice(market.farmer_en, "✅ Sold! Lot #1 (Parchment · Washed · AA)")
    assert "Your share: 500 kg, about CN¥15,000.00 before fees." in sold_en.text

    # /mybids after the sale.
    await zh.send("/mybids")
    assert (await zh.receive()).text == (
        "已结束：\n\n批次 #1：带壳豆 · 水洗 · AA，1,100 公斤\n"
        "🏆 以 ¥30.00/公斤 拍得；应付总额 ¥33,000.00"
    )
    await en.send("/mybids")
    assert (await en.receive()).text == (
        "Ended:\n\nLot #1: Parchment · Washed · AA, 1,100 kg\n"
        "lost: sold to another merchant at CN¥30.00/kg"
    )
    # The lot is closed: its old buttons are refused.
    await en.press("+1 · CN¥20.90", message=reply)
    assert (await en.receive()).text == "Bidding on this lot has closed: it takes no more bids."
    await running_bot.idle(en, zh, proxy)
    await outbox_drained(session)


async def test_typed_prices_are_read_or_questioned(
    market: Market, running_bot: BotRunner, session: AsyncSession
) -> None:
    en = market.en
    await open_lots(session, running_bot, _key(market.village))
    await en.send("/lots")
    listing = await said(en, "Lots open for bids")
    await en.press("Lot #1 · 1,100 kg")
    await edited(en, listing, "Lot #1: Parchment · Washed · AA")
    await en.press("✏️ Type a price")
    await en.receive()
    # /rules in the middle: the price question follows again.
    await en.send("/rules")
    assert (await en.receive()).text.startswith("📖 How the auctions work")
    assert (await en.receive()).text.startswith("Type your price per kilogram for Lot #1")
    problems = [
        (
            "5元/斤",
            "Prices here are per kilogram, not per jin. One kilogram is two jin, so a price "
            "per kilogram is twice the price per jin. Please type the price per kilogram.",
        ),
        ("20000元/吨", "Prices here are per kilogram, not per tonne"),
        ("0", "A price cannot be zero."),
        ("-20", "A price cannot be negative."),
        ("2000", "That is more than CN¥1,000.00/kg: please check the number."),
        ("20.555", "Prices are in whole fen: at most two decimals, like 9.65."),
        ("twenty", "I could not read a price there."),
    ]
    for typed, answer in problems:
        await en.send(typed)
        assert answer in (await en.receive()).text, en.transcript()
    # Below the reserve: refused with the minimum, and fresh buttons.
    await en.send("19.5")
    below = await en.receive()
    assert below.text == (
        "That is below the reserve price of CN¥20.00/kg: the first bid must be at least "
        "CN¥20.00/kg."
    ), en.transcript()
    assert "Reserve CN¥20.00" in below.buttons
    # A decimal comma: both readings offered.
    await en.press("✏️ Type a price", message=below)
    await en.receive()
    await en.send("20,6")
    both = await en.receive()
    assert both.text == (
        "Did you mean CN¥20.60/kg or CN¥206.00/kg? Tap the one you meant, or type the price "
        "with a dot, like 9.60."
    )
    await en.press("CN¥20.60/kg")
    assert (await en.receive()).text == "✅ Your bid of CN¥20.60/kg on Lot #1 stands: you lead."
    # The dialogue is over: a word is no price any more.
    await en.send("21")
    assert "did not understand" in (await en.receive()).text
    # Below the increment, from another merchant.
    await market.proxy.send("/lots")
    listing = await said(market.proxy, "Lots open for bids")
    await market.proxy.press("Lot #1 · 1,100 kg")
    await edited(market.proxy, listing, "Lot #1")
    await market.proxy.press("✏️ Type a price")
    await market.proxy.receive()
    await market.proxy.send("20.65")
    assert (await market.proxy.receive()).text == (
        "A bid must beat the leading price of CN¥20.60/kg by at least the increment of "
        "CN¥0.10/kg: at least CN¥20.70/kg."
    )
    # Refused or asked back, the question stays: the next typed price is read as one.
    await market.proxy.send("207")
    typo = await market.proxy.receive()
    assert typo.text == "That is 905% above the leading price of CN¥20.60/kg. Bid CN¥207.00/kg?"
    await market.proxy.send("20.7")
    assert (await market.proxy.receive()).text == (
        "✅ Your bid of CN¥20.70/kg on Lot #1 stands: you lead."
    ), market.proxy.transcript()
    # The typo's "✅ Yes, CN¥207.00/kg" is gone: it cannot be pressed by mistake later.
    await market.proxy.wait_for(lambda _chat: typo.buttons == [])
    # /cancel leaves a price question.
    await market.proxy.press("🤖 Set a maximum")
    await market.proxy.receive()
    await market.proxy.send("/cancel")
    assert "Cancelled" in (await market.proxy.receive()).text
    await running_bot.idle(en, market.proxy)


async def test_who_may_not_bid_is_told_why(
    market: Market, running_bot: BotRunner, session: AsyncSession
) -> None:
    first, cancelled = await open_lots(session, running_bot, _key(market.village), target_kg=500)
    bid = QuickBidCb(lot_id=first, price=2000).pack()
    answers = [
        (
            market.pending,
            "Your merchant registration is still waiting for a coordinator's approval. You "
            "can bid as soon as it is approved: we will message you here.",
        ),
        (
            market.farmer_en,
            "Only approved merchants can bid on lots. Your own coffee is sold for you here: "
            "we will tell you the result.",
        ),
        (
            market.stranger,
            "Only approved merchants can bid. To buy coffee here, send /start and register as "
            "a merchant.",
        ),
    ]
    for chat, text in answers:
        await chat.press(callback_data=bid, message=0, force=True)  # a forwarded button
        assert (await said(chat, text[:20])).text == text, chat.transcript()
        await running_bot.idle(chat)
    await market.pending.send("/lots")
    assert (await market.pending.receive()).text == answers[0][1]
    await market.farmer_en.send("/mybids")
    assert (await said(market.farmer_en, "Only approved merchants")).text == answers[1][1]

    en = market.en
    en.mark_read()  # the new-lot notices
    await en.press(callback_data=QuickBidCb(lot_id=999, price=2000).pack(), message=0, force=True)
    assert (await en.receive()).text == (
        "That lot was not found. Send /lots to see the lots open now."
    )
    await en.press(callback_data=LotCb(action="card", lot_id=999).pack(), message=0, force=True)
    assert (await en.receive()).text.startswith("That lot was not found.")
    await en.press(
        callback_data=MaximumCb(lot_id=first, maximum=10**9).pack(), message=0, force=True
    )
    assert (await en.receive()).text.startswith("That is more than CN¥1,000.00/kg")

    coordinator = await users.get_user(session, COORDINATOR_ID)
    assert coordinator is not None
    await lots.cancel(session, coordinator, cancelled)
    await session.commit()
    await en.press(
        callback_data=QuickBidCb(lot_id=cancelled, price=2000).pack(), message=0, force=True
    )
    assert (await en.receive()).text == (
        "The auction of this lot was cancelled by the cooperative: it takes no bids."
    )
    assert await close(session, running_bot, first) == LotStatus.UNSOLD
    await en.press(callback_data=bid, message=0, force=True)
    assert (await en.receive()).text == "Bidding on this lot has closed: it takes no more bids."
    await running_bot.idle(en, market.pending, market.farmer_en, market.stranger)
    session.expire_all()
    assert (await session.scalar(select(Lot.bids).where(Lot.id == first))) == 0
    await session.commit()


async def test_equal_maxima_the_earlier_leads_and_coordinators_only_look(
    market: Market, running_bot: BotRunner, session: AsyncSession, emulator: BotApiEmulator
) -> None:
    await open_lots(session, running_bot, _key(market.village))

    async def set_maximum(chat: UserChat, typed: str) -> str:
        await chat.send("/lots")
        listing = await said(chat, "Lots open for bids")
        await chat.press("Lot #1 · 1,100 kg")
        await edited(chat, listing, "Lot #1: Parchment · Washed · AA")
        await chat.press("🤖 Set a maximum")
        await said(chat, "Type the most you would pay per kilogram for Lot #1")
        await chat.send(typed)
        return (await chat.receive()).text

    assert await set_maximum(market.en, "21") == (
        "✅ You lead Lot #1 at CN¥20.00/kg; we will bid for you up to your maximum "
        "CN¥21.00/kg if another merchant bids."
    )
    assert await set_maximum(market.proxy, "21元") == (
        "Your maximum of CN¥21.00/kg on Lot #1 was placed, but another merchant's maximum is "
        "as high or higher (of equal maxima the earlier one leads): the leading price is now "
        "CN¥21.00/kg. A bid must be at least CN¥21.10/kg."
    )
    # The leader raises their maximum: they now pay the least that beats the tie.
    assert await set_maximum(market.en, "22") == (
        "✅ You lead Lot #1 at CN¥21.10/kg; we will bid for you up to your maximum "
        "CN¥22.00/kg if another merchant bids."
    )
    # Closing soon: both bidders are warned once; the button opens the card.
    session.expire_all()
    lot = await session.get(Lot, 1)
    assert lot is not None
    warned = await lots.warn_closing_soon(
        session, lot.closes_at - timedelta(minutes=10), timedelta(minutes=30)
    )
    await session.commit()
    assert warned == 2
    assert running_bot.app is not None
    running_bot.app.notices.wake()
    soon = await notice(market.en, "⏰ Lot #1 (Parchment · Washed · AA, 1,100 kg) closes soon")
    assert soon.text.endswith("The leading price is CN¥21.10/kg.")
    await notice(market.proxy, "⏰ Lot #1")
    await market.en.press("🔨 See the lot", message=soon)
    assert "✅ You lead." in (await said(market.en, "Lot #1: Parchment · Washed · AA")).text

    # A coordinator sees the lot, never a bid button, nor who leads.
    coordinator = emulator.user(COORDINATOR_ID, language_code="en")
    await coordinator.send("/lots")
    listing = await said(coordinator, "Lots open for bids (1)")
    await coordinator.press("Lot #1 · 1,100 kg")
    await edited(coordinator, listing, "Lot #1: Parchment · Washed · AA")
    assert "Leading price: CN¥21.10/kg (3 bids)" in listing.text
    assert "You lead" not in listing.text
    assert listing.buttons == ["📷 Photos", "◀ Back"]
    await coordinator.press(
        callback_data=QuickBidCb(lot_id=1, price=2500).pack(), message=0, force=True
    )
    assert (await said(coordinator, "Coordinators")).text == (
        "Coordinators run the auctions and do not bid: only approved merchants can bid."
    )
    await running_bot.idle(market.en, market.proxy, coordinator)


async def test_a_late_bid_moves_the_close(
    market: Market, running_bot: BotRunner, session: AsyncSession
) -> None:
    (lot_id,) = await open_lots(
        session, running_bot, _key(market.village), closes_in=timedelta(minutes=2)
    )
    zh = market.zh
    await zh.send("/lots")
    listing = await said(zh, "正在拍卖的批次")
    await zh.press("批次 #1 · 1,100 公斤")
    await edited(zh, listing, "批次 #1：带壳豆 · 水洗 · AA")
    await zh.press("起拍价 ¥20.00")
    placed = await zh.receive()
    assert placed.text.startswith(
        "✅ 您对批次 #1 出价 ¥20.00/公斤 成功：您目前领先。\n\n截止前 3 分钟内的出价会推迟截止时间"
    ), zh.transcript()
    session.expire_all()
    lot = await session.get(Lot, lot_id)
    assert lot is not None and lot.closes_at - lot.opens_at > timedelta(minutes=2, seconds=30)
    await session.commit()
    await running_bot.idle(zh)


async def test_the_list_pages_filters_and_shows_photos(
    market: Market, running_bot: BotRunner, session: AsyncSession, emulator: BotApiEmulator
) -> None:
    for tid, kg in ((311, 100), (312, 100), (313, 100), (314, 100), (315, 100)):
        await seed_farmer(session, market.village, tid, "zh", [kg])
    await seed_farmer(session, market.village, 320, "zh", [80], product="cherry")
    await session.commit()
    parchment = await open_lots(session, running_bot, _key(market.village), target_kg=100)
    cherry = await open_lots(session, running_bot, _key(market.village, "cherry"))
    assert len(parchment) == 7 and len(cherry) == 1
    en = market.en
    await en.send("/lots")
    first = await said(en, "Lots open for bids")
    assert first.text.startswith("Lots open for bids (8), page 1 of 2:"), en.transcript()
    assert first.text.endswith("Tap a lot to see it and bid.")
    assert first.buttons == [
        "Lot #1 · 600 kg",
        "Lot #2 · 500 kg",
        "Lot #3 · 100 kg",
        "Lot #4 · 100 kg",
        "Lot #5 · 100 kg",
        "Next ▶",
        "• All",
        "Fresh cherry",
        "Parchment",
        "Green bean",
    ]
    assert "no bid yet, reserve CN¥20.00/kg · 1 hour 59 minutes left" in first.text
    await en.press("Next ▶")
    await en.wait_for(lambda c: "page 2 of 2" in first.text)
    assert first.buttons[:4] == [
        "Lot #6 · 100 kg",
        "Lot #7 · 100 kg",
        "Lot #8 · 80 kg",
        "◀ Previous",
    ]
    await en.press("Fresh cherry")
    await en.wait_for(lambda c: first.text.startswith("Fresh cherry: Lots open for bids (1)"))
    assert "Lot #8: Fresh cherry, 80 kg from 1 farmer, Conggang, no moisture given" in first.text
    await en.press("Green bean")
    await en.wait_for(lambda c: first.text == "No lots of Green bean are open for bids now.")
    await en.press("• Green bean")  # the same page again: nothing changes, nothing breaks
    await en.press("All")
    await en.wait_for(lambda c: first.text.startswith("Lots open for bids (8), page 1 of 2:"))

    # The card in place of the list, its photos, and back.
    await en.press("Lot #1 · 600 kg")
    await en.wait_for(lambda c: first.text.startswith("Lot #1: Parchment · Washed · AA"))
    await en.press("📷 Photos")
    photo = await en.receive()
    assert photo.media == "photo" and photo.caption == "Photos of Lot #1 from its farmers."
    await en.press("◀ Back", message=first)
    await en.wait_for(lambda c: first.text.startswith("Lots open for bids (8), page 1 of 2:"))
    # Lots 1 and 2 come from the fixture's photographed reports, one each; lot 3 has none.
    await en.press("Lot #3 · 100 kg")
    await en.wait_for(lambda c: first.text.startswith("Lot #3:"))
    await en.press("📷 Photos")
    assert (await en.receive()).text == "The farmers sent no photos of Lot #3."
    await running_bot.idle(en)


async def test_one_lot_of_two_photographed_reports_sends_an_album(
    market: Market, running_bot: BotRunner, session: AsyncSession
) -> None:
    (lot_id,) = await open_lots(session, running_bot, _key(market.village))
    en = market.en
    en.mark_read()  # the new-lot notice
    await en.press(
        callback_data=LotCb(action="photos", lot_id=lot_id).pack(), message=0, force=True
    )
    first = await en.receive()
    second = await en.receive()
    assert (first.media, second.media) == ("photo", "photo")
    assert first.raw["media_group_id"] == second.raw["media_group_id"]
    assert first.caption == "Photos of Lot #1 from its farmers."
    await running_bot.idle(en)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", ["📖 How the auctions work", "20%", "last 3 minutes", "within 24 hours"]),
        ("zh", ["📖 拍卖规则", "20%", "截止前 3 分钟内", "24 小时内", "四舍五入到分"]),
    ],
)
async def test_rules_in_the_readers_language(
    emulator: BotApiEmulator, running_bot: BotRunner, lang: str, expected: list[str]
) -> None:
    stranger = emulator.user(650, language_code=lang)
    await stranger.send("/rules")  # nothing needed, not even a registration
    text = (await stranger.receive()).text
    for part in expected:
        assert part in text, stranger.transcript()
    await running_bot.idle(stranger)


async def test_an_approved_merchant_menu_has_the_market(
    market: Market, running_bot: BotRunner, session: AsyncSession
) -> None:
    zh = market.zh
    await zh.send("/help")
    helped = await zh.receive()
    assert "🔨 拍卖（/lots）" in helped.text
    assert helped.reply_buttons == ["🔨 拍卖", "💰 我的出价", "📖 规则", "📈 价格", "❓ 帮助"]
    await zh.send("拍卖")  # a typed menu word
    assert (await zh.receive()).text == "现在没有正在拍卖的批次。有新批次开拍时我们会通知您。"
    await zh.send("💰 我的出价")
    assert (await zh.receive()).text.startswith("您还没有对任何批次出价。")
    await running_bot.idle(zh)


async def test_approved_merchants_have_the_market_in_their_command_menu(
    market: Market, running_bot: BotRunner, emulator: BotApiEmulator
) -> None:
    def menu(telegram_id: int, lang: str | None) -> list[str]:
        scope = {"type": "chat", "chat_id": telegram_id}
        return [c["command"] for c in emulator.commands(scope=scope, language_code=lang)]

    # Approved in chat: the menu comes with the approval.
    coordinator = emulator.user(COORDINATOR_ID, language_code="en")
    await coordinator.send("/approve")
    card = await said(coordinator, "🏢 Co604")
    await coordinator.press("✅ Approve", message=card)
    await coordinator.wait_for(lambda c: "✅ Approved" in card.text)
    await running_bot.idle(coordinator)
    for lang in ("en", "zh", None):
        assert menu(604, lang)[:3] == ["lots", "mybids", "start"], lang
    # The approval brings the market's menu under the input field (waiting, it was Help).
    approved = await notice(market.pending, "✅ Your merchant account is approved")
    assert approved.reply_buttons == ["🔨 Lots", "💰 My bids", "📖 Rules", "📈 Prices", "❓ Help"]
    zh = {
        c["command"]: c["description"]
        for c in emulator.commands(scope={"type": "chat", "chat_id": 604}, language_code="zh")
    }
    assert zh["lots"] == "正在拍卖的批次" and zh["rules"] == "拍卖规则"
    # Approved earlier: at the next start.
    assert menu(601, "en") == []
    await running_bot.restart()  # refreshed beside polling, not before it

    async def refreshed() -> bool:
        return menu(601, "en")[:2] == ["lots", "mybids"]

    await eventually(refreshed, "merchant 601's menu refreshed at start")
    assert "rules" in [c["command"] for c in emulator.commands(language_code="en")]
