"""A price the feed moved too far, decided by coordinators through the emulator: a Chinese and
an English coordinator each get the held-price notices; a farmer's forged press is refused; the
first confirms one (it becomes the reference), the second rejects the other, and the second's
later press on the confirmed one is answered "already confirmed by …"."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bot.formatting import format_price
from bot.models import (
    CoordinatorVia,
    Grade,
    PriceSource,
    PriceStatus,
    Product,
    Role,
    User,
    Village,
    utcnow,
)
from bot.price_feed import Converted
from bot.services import price_feed, prices
from bot.services.price_feed import FeedConfig
from bot.services.prices import Key
from handlers.callbacks import HeldPriceCb
from tests.conftest import BotRunner
from tests.e2e.flows import stored_user, translator
from tests.e2e.test_auctions_coordinator import coordinator_chat
from tests.e2e.test_payouts import farmer_in_chat
from tests.emulator import BotApiEmulator

GREEN_AA = Key(Product.GREEN, Grade.AA)
CHERRY = Key(Product.CHERRY)
WAITS = (
    "Nobody is told until a coordinator confirms it. Confirmed, it becomes the reference "
    "price; rejected, the reference stays as it is."
)


async def test_coordinators_confirm_and_reject_held_prices(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    session: AsyncSession,
    villages: list[Village],
) -> None:
    zh, en = translator(running_bot, "zh"), translator(running_bot, "en")
    wang = await coordinator_chat(emulator, "zh")  # the configured coordinator
    me = await stored_user(session, wang.id)
    me.name = "王"
    session.add(
        User(
            telegram_id=9001,
            role=Role.COORDINATOR,
            coordinator_via=CoordinatorVia.CHAT,
            name="Zhao",
            language="en",
            registered_at=utcnow(),
        )
    )
    await farmer_in_chat(emulator, session, villages[0], 11, "zh")
    earlier = utcnow() - timedelta(hours=1)
    await prices.record(session, GREEN_AA, 3850, PriceSource.FEED, at=earlier)
    await prices.record(session, CHERRY, 600, PriceSource.FEED, at=earlier)
    config = FeedConfig(url="http://feed.invalid/", hold_percent=Decimal(15))
    moved = {GREEN_AA: Converted(5000, {}), CHERRY: Converted(900, {})}
    outcome = await price_feed.store(session, moved, config)
    await session.commit()
    green, cherry = sorted(outcome.held, key=lambda p: p.product != Product.GREEN)
    zhao = emulator.user(9001, language_code="en")

    # Each coordinator is asked, in their language; nobody else is told.
    asked = {}
    for chat, t in ((wang, zh), (zhao, en)):
        for _ in range(2):
            notice = await chat.receive_until(lambda m: m.text.startswith("⏸"), 10)
            asked[chat.id, notice.callback_datas[0]] = notice
        assert t(WAITS) in notice.text
    green_zh = asked[wang.id, HeldPriceCb(price_id=green.id, confirm=True).pack()]
    assert format_price(5000, "zh", zh) in green_zh.text and "+29.9%" in green_zh.text
    assert "价格源" in green_zh.text
    green_en = asked[zhao.id, HeldPriceCb(price_id=green.id, confirm=True).pack()]
    cherry_en = asked[zhao.id, HeldPriceCb(price_id=cherry.id, confirm=True).pack()]
    assert en("Fresh cherry") in cherry_en.text and format_price(900, "en", en) in cherry_en.text

    # A farmer's forged press is refused.
    farmer = emulator.user(11)
    await farmer.press(
        callback_data=HeldPriceCb(price_id=green.id, confirm=True).pack(), message=0, force=True
    )
    assert (await farmer.wait_callback_answer())["text"] == zh(
        "Sorry, only coordinators can do that."
    )

    # 王 confirms green bean: it is the reference; the notice says so, its buttons gone.
    await wang.press(zh("✅ Confirm"), message=green_zh)
    confirmed = zh("✅ Confirmed by {name}: it is the reference price now.").format(name="王")
    await wang.wait_for(lambda c: confirmed in green_zh.text and not green_zh.buttons)
    # Zhao rejects cherry.
    await zhao.press(en("✖ Reject"), message=cherry_en)
    rejected = en("✖ Rejected by {name}: the reference price stays as it was.").format(name="Zhao")
    await zhao.wait_for(lambda c: rejected in cherry_en.text and not cherry_en.buttons)
    # Zhao's Reject on green bean, decided already.
    await zhao.press(en("✖ Reject"), message=green_en)
    answer = await zhao.wait_callback_answer()
    already = en("This price was already confirmed by {name}.").format(name="王")
    assert answer["show_alert"] and answer["text"] == already
    await zhao.wait_for(lambda c: already in green_en.text and not green_en.buttons)

    session.expire_all()
    current = await prices.references(session)
    await session.commit()
    assert (current[GREEN_AA].fen_per_kg, current[CHERRY].fen_per_kg) == (5000, 600)
    assert current[GREEN_AA].id == green.id and current[GREEN_AA].status == PriceStatus.LIVE
    assert not [m for m in farmer.messages if m.text.startswith("⏸")]
