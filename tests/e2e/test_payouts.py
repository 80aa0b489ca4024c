"""Payouts through the emulator: a farmer's /payouts (and its menu button) in Chinese and
English, showing only their own; a coordinator's /due, "mark paid" with a typed reference and
the farmer's "paid" notice; the farmer's "this is wrong" on it, the coordinators told, and a
correction typed as money resolving it, the farmer told the new amount. Payout rows are made
in the database (tests/test_payouts_service.make_payout): collection is not driven here."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import User, Village, utcnow
from bot.services import payouts, users
from tests.conditions import outbox_drained
from tests.conftest import BotRunner
from tests.e2e.flows import stored_user
from tests.e2e.test_auctions_coordinator import coordinator_chat
from tests.emulator import BotApiEmulator
from tests.test_payouts_service import make_payout

LANGS = pytest.mark.parametrize("lang", ["zh", "en"])


async def farmer_in_chat(
    emulator: BotApiEmulator, session: AsyncSession, village: Village, tid: int, lang: str
) -> User:
    emulator.user(tid, language_code=lang)
    user = await users.ensure_user(session, tid)
    await users.set_language(session, user, lang)
    await users.register_farmer(
        session, user, name=f"李{tid}", phone="13800000000", village_id=village.id
    )
    return user


@LANGS
async def test_a_farmer_sees_their_own_payouts_and_totals(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    session: AsyncSession,
    villages: list[Village],
    lang: str,
) -> None:
    me = await farmer_in_chat(emulator, session, villages[0], 11, lang)
    other = await farmer_in_chat(emulator, session, villages[0], 12, lang)
    today = utcnow().date()
    coming = await make_payout(session, me, due_on=today + timedelta(days=3))
    theirs = await make_payout(session, other, grams=111_000, due_on=today)
    await session.commit()
    chat = emulator.user(11, language_code=lang)

    await chat.send("/payouts")
    shown = await chat.receive()
    if lang == "zh":
        assert "💴 您的付款" in shown.text
        assert "本季" in shown.text and "待付 ¥6,468.00" in shown.text
        assert f"⏳ #{coming.id} 批次 #{coming.lot_id}，300 公斤：¥6,468.00" in shown.text
        menu = "💴 我的付款"
    else:
        assert "💴 Your payouts" in shown.text
        assert "This season" in shown.text and "CN¥6,468.00 to come" in shown.text
        assert f"⏳ #{coming.id} Lot #{coming.lot_id}, 300 kg: CN¥6,468.00" in shown.text
        menu = "💴 Payouts"
    assert f"#{theirs.id} " not in shown.text and "111" not in shown.text
    # The menu button says the same.
    await chat.send(menu)
    assert (await chat.receive()).text == shown.text
    # A farmer cannot list or pay what is due.
    await chat.send("/due")
    refused = await chat.receive()
    assert refused.text == (
        "抱歉，只有协调员可以这样做。" if lang == "zh" else "Sorry, only coordinators can do that."
    )


async def test_paid_disputed_and_corrected(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    session: AsyncSession,
    villages: list[Village],
) -> None:
    grower = await farmer_in_chat(emulator, session, villages[0], 21, "zh")
    payout = await make_payout(session, grower, due_on=utcnow().date() - timedelta(days=1))
    payout.reminded = True  # reminders are tested on their own; one landing mid-dialogue here
    await session.commit()  # (the bot's next resync finds the missed one) would be read instead
    farmer = emulator.user(21, language_code="zh")
    coordinator = await coordinator_chat(emulator, "en")

    # The coordinator lists what is due and marks it paid with the transfer's reference.
    await coordinator.send("/due")
    due = await coordinator.receive_until(lambda m: "Payouts due by" in m.text)
    assert f"#{payout.id} 李21 (+13800000000)" in due.text and "CN¥6,468.00" in due.text
    await coordinator.press(f"✅ #{payout.id} paid", message=due)
    asked = await coordinator.receive()
    assert "Type the reference" in asked.text
    await coordinator.send("   ")
    assert "Please type the transfer's reference" in (await coordinator.receive()).text
    assert "Type the reference" in (await coordinator.receive()).text
    await coordinator.send("WX-2026-0001")
    done = await coordinator.receive()
    assert done.text.startswith(f"✅ #{payout.id} is marked paid (CN¥6,468.00, reference WX-2026")

    # The farmer is told, in Chinese, with the reference and a "this is wrong" button.
    paid = await farmer.receive_until(lambda m: "已付款" in m.text, timeout=10)
    assert "¥6,468.00" in paid.text and "WX-2026-0001" in paid.text
    assert "合作社服务费：−¥132.00" in paid.text
    await farmer.press("⚠️ 这不对", message=paid)
    why = await farmer.receive()
    assert "哪里不对" in why.text
    await farmer.send("我交了310公斤，不是300")
    confirm = await farmer.receive()
    assert "我交了310公斤，不是300" in confirm.text
    await farmer.press("✅ 发送", message=confirm)
    assert "📨 已发送" in (await farmer.receive_until(lambda m: "📨" in m.text)).text

    # The coordinator is told and corrects it by typing money.
    told = await coordinator.receive_until(lambda m: "is wrong" in m.text, timeout=10)
    assert "我交了310公斤，不是300" in told.text and f"payout #{payout.id}" in told.text
    await coordinator.send("/disputes")
    listed = await coordinator.receive_until(lambda m: "Dispute #" in m.text)
    await coordinator.press("✏️ Correct the amount", message=listed)
    assert "type the correction" in (await coordinator.receive()).text
    await coordinator.send("12,5")
    assert "Please use a dot" in (await coordinator.receive()).text
    assert "type the correction" in (await coordinator.receive()).text
    await coordinator.send("＋２２０元")
    resolved = await coordinator.receive()
    assert "is resolved" in resolved.text and "+CN¥220.00, now CN¥6,688.00" in resolved.text

    corrected = await farmer.receive_until(lambda m: "调整" in m.text, timeout=10)
    assert "+¥220.00" in corrected.text and "¥6,688.00" in corrected.text
    assert "差额另行结算" in corrected.text  # it was paid already
    await outbox_drained(session)
    # Resolved: nothing is open any more.
    await coordinator.send("/disputes")
    assert (await coordinator.receive()).text == "No disputes are open."
    grower = await stored_user(session, 21)
    history = await payouts.history(session, grower, utcnow(), running_bot.settings.tz)
    await session.commit()
    assert history.all_time.paid_fen == 646_800 + 22_000


async def test_all_due_paid_with_one_reference(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    session: AsyncSession,
    villages: list[Village],
) -> None:
    one = await farmer_in_chat(emulator, session, villages[0], 31, "en")
    two = await farmer_in_chat(emulator, session, villages[1], 32, "zh")
    yesterday = utcnow().date() - timedelta(days=1)
    due_ones = [
        await make_payout(session, one, due_on=yesterday),
        await make_payout(session, two, grams=100_000, due_on=yesterday),
    ]
    await make_payout(session, two, due_on=yesterday + timedelta(days=30))  # not due yet
    for payout in due_ones:  # no reminder mid-dialogue (see test_paid_disputed_and_corrected)
        payout.reminded = True
    await session.commit()
    coordinator = await coordinator_chat(emulator, "en")

    await coordinator.send("/due")
    due = await coordinator.receive_until(lambda m: "Payouts due by" in m.text)
    assert ": 2, CN¥8,624.00 in all." in due.text  # 6,468.00 + 2,156.00
    await coordinator.press("✅ Mark all due paid", message=due)
    assert "all 2 payouts" in (await coordinator.receive()).text
    await coordinator.send("BANK-BATCH-12")
    done = await coordinator.receive()
    assert done.text.startswith("✅ 2 payouts are marked paid (CN¥8,624.00, reference BANK-")
    first = await emulator.user(31).receive_until(lambda m: "Paid:" in m.text, timeout=10)
    second = await emulator.user(32).receive_until(lambda m: "已付款" in m.text, timeout=10)
    assert "BANK-BATCH-12" in first.text and "BANK-BATCH-12" in second.text
    assert "CN¥6,468.00" in first.text and "¥2,156.00" in second.text
    await coordinator.send("/due")
    assert (await coordinator.receive()).text.startswith("No payouts are due.")
