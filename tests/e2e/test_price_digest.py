"""The daily price digest through the emulator: the push service writes it (run directly, at a
fixed moment), and the real bot's notice dispatcher delivers it to a Chinese farmer about what
they grow and to an English merchant about every priced product."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Village
from bot.services import price_pushes, users
from bot.services.access import OPERATOR
from bot.services.coordination import approve_merchant
from tests.conftest import BotRunner
from tests.emulator import BotApiEmulator, BotMessage
from tests.test_price_pushes import DAY, RULES, farmer, local, the_prices


async def test_subscribers_receive_the_digest_in_their_language(
    emulator: BotApiEmulator, running_bot: BotRunner, session: AsyncSession, villages: list[Village]
) -> None:
    grower = emulator.user(21, language_code="zh")
    await users.set_language(session, await farmer(session, villages[0], 21, "green"), "zh")
    buyer = emulator.user(22, language_code="en")
    merchant = await users.ensure_user(session, 22)
    await users.set_language(session, merchant, "en")
    await users.register_merchant(session, merchant, company="Pu'er Trading", contact="13900000000")
    await approve_merchant(session, OPERATOR, merchant.id)
    await the_prices(session)

    assert await price_pushes.digest(session, local(DAY, 8), RULES) == 2
    await session.commit()
    running_bot.app.notices.wake()  # type: ignore[union-attr]

    expected = {
        grower: (
            "📈 咖啡价格（2026年11月29日）\n"
            "• 生豆 · AA：¥33.60/公斤（较昨日 +5.0%）\n"
            "   最近拍卖价：¥35.00/公斤（2026年11月28日）\n\n"
            "发送 /prices 查看走势图 · 在 /prices 中可关闭推送"
        ),
        buyer: (
            "📈 Coffee prices, Nov 29, 2026\n"
            "• Fresh cherry: CN¥5.50/kg (unchanged since yesterday)\n"
            "• Green bean · AA: CN¥33.60/kg (+5.0% since yesterday)\n"
            "   Latest auction: CN¥35.00/kg on Nov 28, 2026\n\n"
            "/prices for the chart · turn off in /prices"
        ),
    }
    for chat, text in expected.items():
        heading = text.partition("\n")[0]  # not a digest of the real day the bot may send

        def of_the_day(message: BotMessage, heading: str = heading) -> bool:
            return (message.text or "").startswith(heading)

        digest = await chat.receive_until(of_the_day, timeout=10)
        assert digest.text == text
