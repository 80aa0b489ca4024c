"""Coordinators' figures and exports through the emulator: /stats in Chinese and English with
its period buttons, /export's progress message and six CSV documents read back, and a
farmer and a merchant refused both in their language."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.formatting import format_money, format_price, format_quantity
from bot.models import User
from tests.conftest import COORDINATOR_ID, BotRunner
from tests.e2e.flows import WORDS, translator
from tests.emulator import BotApiEmulator, BotMessage, UserChat
from tests.programme_data import Seeded, seed

LANGS = pytest.mark.parametrize("lang", ["zh", "en"])
NOT_ALLOWED = "Sorry, only coordinators can do that."
FILES = [
    "farmers.csv",
    "harvest_reports.csv",
    "lots.csv",
    "bids.csv",
    "collections.csv",
    "payouts.csv",
]


async def _seeded(session: AsyncSession) -> Seeded:
    data = await seed(session, coordinator_tid=COORDINATOR_ID + 1)
    await session.commit()
    return data


def starting(chat: UserChat, prefix: str) -> BotMessage | None:
    """The first message whose text (as edited since) starts with `prefix`."""
    return next((m for m in chat.visible if m.text.startswith(prefix)), None)


def six_documents(chat: UserChat) -> list[BotMessage]:
    """The documents sent, once there are six."""
    documents = [m for m in chat.visible if m.media == "document"]
    return documents if len(documents) == 6 else []


def rows(document: BotMessage) -> list[dict[str, str]]:
    assert document.file_bytes is not None
    return list(csv.DictReader(io.StringIO(document.file_bytes.decode("utf-8-sig"))))


async def coordinator_chat(emulator: BotApiEmulator, lang: str) -> UserChat:
    """The configured coordinator's first /start: language, then the greeting and menu."""
    chat = emulator.user(COORDINATOR_ID, language_code=lang)
    await chat.send("/start")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press(WORDS[lang]["language"])
    await chat.receive_until(lambda m: m.reply_keyboard is not None)
    return chat


@LANGS
async def test_stats_and_its_periods(
    running_bot: BotRunner, emulator: BotApiEmulator, session: AsyncSession, lang: str
) -> None:
    await _seeded(session)
    tr = translator(running_bot, lang)
    chat = await coordinator_chat(emulator, lang)
    assert chat.last is not None and tr("📊 Figures") in chat.last.reply_buttons
    await chat.send(tr("📊 Figures"))  # the menu button is /stats
    shown = await chat.receive_until(lambda m: tr("This season") in m.text)
    assert shown.text.startswith("📊")
    assert shown.buttons == [tr("This month"), f"• {tr('This season')} •", tr("All")]
    await chat.press(tr("All"))
    everything = tr("📊 Figures: {period}").format(period=tr("All"))
    message = await chat.wait_for(lambda c: starting(c, everything))
    assert message is not None
    assert message.message_id == shown.message_id  # edited in place
    lines = message.text.splitlines()
    assert tr("Farmers registered: {count}").format(count="4") in lines
    village = tr("  · {village}: {count}")
    assert village.format(village="Conggang", count="3") in lines
    assert village.format(village="Nankang", count="1") in lines
    assert (
        tr("Sold: {kg} for {value} ({invoiced} of it invoiced)").format(
            kg=format_quantity(3_590_000, lang, tr),
            value=format_money(7_613_150, lang),
            invoiced=format_money(2_212_650, lang),
        )
        in lines
    )
    assert tr("Average price: {price}").format(price=format_price(2121, lang, tr)) in lines
    assert (
        tr("Merchants: {approved} approved, {active} active (bid in this period)").format(
            approved="3", active="3"
        )
        in lines
    )
    assert message.buttons == [tr("This month"), tr("This season"), f"• {tr('All')} •"]
    await chat.press(tr("This month"))
    await chat.wait_for(
        lambda c: tr("This month") in (c.bot_message(shown.message_id) or shown).text
    )


async def test_export_sends_six_documents(
    running_bot: BotRunner, emulator: BotApiEmulator, session: AsyncSession
) -> None:
    data = await _seeded(session)
    tr = translator(running_bot, "zh")
    chat = await coordinator_chat(emulator, "zh")
    await chat.send("/export")
    documents = await chat.wait_for(six_documents, timeout=20)
    assert [d.file_name for d in documents] == FILES
    progress = await chat.wait_for(lambda c: starting(c, "✅"))
    assert progress is not None
    assert progress.text == tr("✅ Export ready: {files} CSV files, {rows} rows.").format(
        files=6, rows=4 + 4 + 7 + 4 + 2 + 3
    )
    assert tr("⏳ Preparing export… {done}/{total}").format(done=0, total=6) in progress.history
    farmers = rows(documents[0])
    assert [r["name"] for r in farmers] == ["李伟", 'Wang, "Fang"', "张三", "赵六"]
    payouts = rows(documents[5])
    assert {r["amount_cny"] for r in payouts} == {"1005.00", "2000.00", "3000.00"}
    assert payouts[0]["payout_id"] == str(data.payouts["P1"].id)


async def test_farmers_and_merchants_are_refused(
    running_bot: BotRunner, emulator: BotApiEmulator, session: AsyncSession
) -> None:
    await _seeded(session)
    farmer = emulator.user(1)  # 李伟 reads Chinese
    merchant = emulator.user(11)
    zh, en = translator(running_bot, "zh"), translator(running_bot, "en")
    # The merchant reads English.
    await session.execute(update(User).where(User.telegram_id == 11).values(language="en"))
    await session.commit()
    for chat, tr in ((farmer, zh), (merchant, en)):
        for command in ("/stats", "/export"):
            await chat.send(command)
            refused = await chat.receive()
            assert refused.text == tr(NOT_ALLOWED)
            assert refused.media is None
    assert not [m for c in (farmer, merchant) for m in c.visible if m.media == "document"]
