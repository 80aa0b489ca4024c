"""A close that falls while the bot is down: at the next start the lot is closed at once and
the winner, the other bidder and the farmer are told (the scheduler reads its times from the
database, not from memory)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.models import Grade, Process, Product, Village, utcnow
from bot.services import bids, lots, users
from bot.services.pools import PoolKey
from tests.conditions import eventually
from tests.conftest import COORDINATOR_ID, BotRunner
from tests.emulator import BotApiEmulator
from tests.test_auctions import farmer, merchant


async def test_a_close_missed_while_the_bot_was_down_is_done_at_start(
    emulator: BotApiEmulator, settings: Settings, villages: list[Village], session: AsyncSession
) -> None:
    chats = {tid: emulator.user(tid, language_code="en") for tid in (1, 401, 402)}
    grower = await farmer(session, villages[0], 1, [300])
    winner, loser = await merchant(session, 401), await merchant(session, 402)
    for user in (grower, winner, loser):
        user.language = "en"
    coordinator = await users.ensure_user(session, COORDINATOR_ID, {COORDINATOR_ID})
    key = PoolKey(villages[0].id, Product.PARCHMENT, Process.WASHED, Grade.AA)
    now = utcnow()
    terms = lots.Terms(2000, 10, now + timedelta(seconds=2), extension=timedelta(0))
    (lot,) = await lots.open_lots(session, coordinator, key, None, terms, now=now)
    await bids.place_bid(session, loser, lot.id, price_fen=2000)
    await bids.place_bid(session, winner, lot.id, price_fen=2100)
    await session.commit()
    closes_at = lot.closes_at

    async def passed() -> bool:
        return utcnow() > closes_at

    await eventually(passed, "the close passed while the bot was down", 5)
    runner = BotRunner(settings)
    await runner.start()
    try:
        won = await chats[401].receive_until(lambda m: "You won" in m.text, timeout=10)
        assert "21.00" in won.text
        await chats[402].receive_until(lambda m: "sold to another merchant" in m.text, timeout=10)
        await chats[1].receive_until(lambda m: "Sold!" in m.text, timeout=10)
    finally:
        await runner.stop()
