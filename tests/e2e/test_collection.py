"""A coordinator collects a sold lot through the emulator, in Chinese and in English: /collect,
📦 Collection, the place and the time typed; the merchant and the farmers are told where and
when. At the scale one report is taken as reported, one typed (after a weight the bot cannot
read and one without a unit, each answered with its reason and the question again), one
marked not delivered, with the running total on the screen; Complete shows what it will do
and asks first. The merchant gets the invoice, each farmer their weighed kilograms and their
itemised payout with its pay date (or why there is none)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auction import lot_value_fen
from bot.formatting import format_day, format_money, format_price, format_quantity
from bot.models import Payout, Village, utcnow
from bot.services import lots
from handlers.callbacks import CollectCb
from tests.conditions import outbox_drained
from tests.conftest import COORDINATOR_ID, BotRunner
from tests.e2e.flows import translator
from tests.e2e.test_auctions_coordinator import (
    _chats,  # noqa: F401 (the autouse fixture opening the people's chats)
    bid,
    coordinator_chat,
    farmer,
    fresh,
    merchant,
    open_lot,
)
from tests.emulator import BotApiEmulator

PRICE = 2000


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_coordinator_collects_a_sold_lot_and_everyone_is_told(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
    lang: str,
) -> None:
    t = translator(running_bot, lang)

    def kg(grams: int) -> str:
        return format_quantity(grams, lang, t)

    def progress(recorded: int, grams: int) -> str:
        return t("Recorded {recorded} of {count} reports · weighed {weighed} of {reported}").format(
            recorded=recorded, count=3, weighed=kg(grams), reported=kg(1_700_000)
        )

    conggang = villages[0]
    coordinator = await coordinator_chat(emulator, lang)
    await farmer(session, conggang, 301, "Li", [600], lang)
    await farmer(session, conggang, 302, "Wang", [700], lang)
    await farmer(session, conggang, 303, "Zhao", [400], lang)
    await merchant(session, 501, "Tea & Co", lang)
    await session.commit()
    lot_id = await open_lot(session, conggang)
    await bid(session, 501, lot_id, PRICE)
    await lots.close_early(
        session, await fresh(session, COORDINATOR_ID), lot_id, timedelta(hours=24)
    )
    await session.commit()
    await outbox_drained(session)

    # /collect lists the sold lot; 📦 Collection asks where, then when.
    await coordinator.send("/collect")
    card = await coordinator.receive_until(lambda m: bool(m.inline_keyboard))
    assert t("Collection: not set yet.") in card.text
    await coordinator.press(t("📦 Collection"), message=card)
    await coordinator.receive_until(lambda m: bool(m.inline_keyboard))  # where?
    await coordinator.send("Conggang weighing station")
    await coordinator.receive_until(lambda m: bool(m.inline_keyboard))  # when?
    when = (utcnow() + timedelta(days=2)).astimezone(running_bot.settings.tz)
    await coordinator.send(when.strftime("%Y-%m-%d %H:%M"))
    await coordinator.receive_until(lambda m: m.text.startswith("📍"))
    screen = await coordinator.receive_until(lambda m: bool(m.inline_keyboard))
    assert progress(0, 0) in screen.text
    for tid in (501, 301, 302, 303):
        told = await emulator.user(tid).receive_until(lambda m: m.text.startswith("📍"), 10)
        assert "Conggang weighing station" in told.text

    # ✓ as reported for Li.
    await coordinator.press("✓ 1", message=screen)
    await coordinator.wait_for(lambda c: progress(1, 600_000) in screen.text)
    # ✏️ for Wang: an unreadable weight, one without a unit, then the weight.
    await coordinator.press("✏️ 2", message=screen)
    question = await coordinator.receive_until(lambda m: "52.5" in m.text)
    await coordinator.send("seven hundred")
    problem = await coordinator.receive()
    assert problem.text == t("I could not read a number there.")
    assert (await coordinator.receive()).text == question.text
    await coordinator.send("698.5")
    assert (await coordinator.receive()).text == t("Please add a unit: kg, 公斤, 斤 or 吨.")
    assert (await coordinator.receive()).text == question.text
    await coordinator.send("698.5 kg")
    recorded = await coordinator.receive()
    assert kg(698_500) in recorded.text
    screen = await coordinator.receive_until(lambda m: bool(m.inline_keyboard))
    # ✗ for Zhao: not delivered. Then every report is recorded: Complete appears.
    await coordinator.press("✗ 3", message=screen)
    complete = t("✅ Complete collection")
    await coordinator.wait_for(lambda c: complete in screen.buttons)
    weighed = 600_000 + 698_500
    assert progress(3, weighed) in screen.text
    assert t("not delivered") in screen.text

    invoice_fen = lot_value_fen(PRICE, weighed)
    await coordinator.press(complete, message=screen)
    yes = t("✅ Yes, complete it")
    await coordinator.wait_for(lambda c: yes in screen.buttons)
    assert format_money(invoice_fen, lang) in screen.text
    await coordinator.press(yes, message=screen)
    await coordinator.wait_for(lambda c: not screen.buttons and "✅" in screen.text)
    assert format_money(invoice_fen, lang) in screen.text

    # The merchant's invoice; each farmer's weighed kg and payout.
    invoice = await emulator.user(501).receive_until(lambda m: m.text.startswith("🧾"), 10)
    assert t("Total to pay: {invoice}").format(invoice=format_money(invoice_fen, lang)) in (
        invoice.text
    )
    assert t("Price: {price}").format(price=format_price(PRICE, lang, t)) in invoice.text
    session.expire_all()
    payouts = {p.farmer_id: p for p in await session.scalars(select(Payout))}
    farmer_ids = {tid: (await fresh(session, tid)).id for tid in (301, 302)}
    await session.commit()  # SQLite: a transaction left open would hold the write lock
    assert sum(p.gross_fen for p in payouts.values()) == invoice_fen
    for tid, grams in ((301, 600_000), (302, 698_500)):
        chat = emulator.user(tid)
        weighed_notice = await chat.receive_until(lambda m: m.text.startswith("⚖️"), 10)
        assert kg(grams) in weighed_notice.text
        paid = await chat.receive_until(lambda m: m.text.startswith("💴"), 10)
        payout = payouts[farmer_ids[tid]]
        assert t("To be paid: {amount}").format(amount=format_money(payout.net_fen, lang)) in (
            paid.text
        )
        assert t("Cooperative fee") in paid.text and t("Platform fee") in paid.text
        assert format_day(payout.due_on, lang) in paid.text
    absent = t(
        "Your report #{farmer_seq} in {lot} ({reported_kg}) was recorded as not delivered, "
        "so there is no payout for it. If that is wrong, please tell the cooperative."
    ).format(farmer_seq=1, lot=t("Lot #{id}").format(id=lot_id), reported_kg=kg(400_000))
    await emulator.user(303).receive_until(lambda m: m.text == absent, 10)

    # The old Complete, pressed again: completed already.
    await coordinator.press(
        callback_data=CollectCb(action="complete_yes", lot_id=lot_id).pack(),
        message=screen,
        force=True,
    )
    answer = await coordinator.wait_callback_answer()
    assert answer["show_alert"] and answer["text"] == t(
        "This collection is completed already: the merchant is invoiced and the payouts are "
        "scheduled."
    )

    # Nobody else collects: the command and a forged button are refused.
    farmer_chat = emulator.user(301)
    refused = t("Sorry, only coordinators can do that.")
    await farmer_chat.send("/collect")
    said = await farmer_chat.receive_until(lambda m: m.text == refused)
    await farmer_chat.press(
        callback_data=CollectCb(action="ok", lot_id=lot_id, report_id=1).pack(),
        message=said,
        force=True,
    )
    assert (await farmer_chat.wait_callback_answer())["text"] == refused
