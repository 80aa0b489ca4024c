"""A farmer's report in a lot is being sold: /reports offers no withdrawal for it, and buttons
shown before the lot opened are refused, whichever step the farmer was at."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import ReportStatus, Village, utcnow
from bot.services import lots, pools, users
from tests.conftest import COORDINATOR_ID, BotRunner
from tests.e2e.flows import register_farmer, report_parchment
from tests.e2e.test_harvest import _reports
from tests.emulator import BotApiEmulator


async def test_a_report_in_a_lot_is_not_offered_for_withdrawal(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    chat = emulator.user(215, language_code="en")
    await register_farmer(chat, "en", name="Kai")
    for amount in ("100 kg", "200 kg"):
        await report_parchment(chat, amount, lang="en")
        await chat.press("✅ Confirm")
        await chat.receive_until(lambda m: "is saved" in m.text)
    await chat.send("/reports")
    listing = await chat.receive()
    assert listing.buttons == ["Withdraw #2", "Withdraw #1"]
    await chat.press("Withdraw #1")
    confirm = await chat.receive()
    assert "Withdraw this report?" in confirm.text

    # Meanwhile a coordinator puts the village's pool in a lot.
    coordinator = await users.ensure_user(session, COORDINATOR_ID, {COORDINATOR_ID})
    (pool,) = await pools.pools(session)
    terms = lots.Terms(reserve_fen=2000, increment_fen=10, closes_at=utcnow() + timedelta(days=1))
    await lots.open_lots(session, coordinator, pool.key, None, terms)
    await session.commit()

    await chat.press("Yes, withdraw", message=confirm)
    await chat.wait_for(lambda c: "can no longer be withdrawn" in (c.messages[-1].text or ""))
    await chat.press("Withdraw #2", message=listing)
    refused = await chat.receive_until(lambda m: "withdrawn" in m.text)
    assert "can no longer be withdrawn" in refused.text
    assert {r.status for r in await _reports(session)} == {ReportStatus.POOLED}
    await chat.send("/reports")
    listing = await chat.receive_until(lambda m: "#1" in m.text and "#2" in m.text)
    assert listing.buttons == []
