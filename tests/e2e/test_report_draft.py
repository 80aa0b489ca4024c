"""A half-finished harvest report is kept (issue 7): /start, a menu button or /language in the
middle of a report never throw its answers away. The farmer is told it is kept and offered
Continue (the pending question again) or Discard; /language asks the pending question again
in the new language."""

from __future__ import annotations

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.models import HarvestReport, Village
from bot.services.harvests import HarvestDraft
from handlers.states import Harvest
from tests.conftest import BotRunner
from tests.e2e.flows import WORDS as FLOW_WORDS
from tests.e2e.flows import register_farmer, report_parchment
from tests.emulator import BotApiEmulator, BotMessage, UserChat

WORDS = {
    "zh": {
        "kept": "您还没填完的收成上报已为您保留",
        "continue": "▶ 继续填写",
        "discard": "🗑 放弃",
        "discarded": "没填完的收成上报已放弃",
        "welcome_back": "欢迎回来！",
        "grade": "🏷 等级",
        "grade_question": "是什么等级？",
        "photo": "📷 照片",
        "summary": "请核对您的上报",
        "grade_ab": "等级：AB",
        "photo_attached": "照片：已附上",
        "saved": "已保存",
        "variety_question": "是什么品种？",
        "product_question": "您要卖什么？",
        "no_reports": "您还没有上报",
        "other_language": "English",
        "changed": "Language changed.",
        "quantity_question": "How much do you have?",
    },
    "en": {
        "kept": "Your unfinished harvest report is kept",
        "continue": "▶ Continue",
        "discard": "🗑 Discard",
        "discarded": "The unfinished harvest report is discarded",
        "welcome_back": "Welcome back!",
        "grade": "🏷 Grade",
        "grade_question": "Which grade is it?",
        "photo": "📷 Photo",
        "summary": "Please check your harvest report",
        "grade_ab": "Grade: AB",
        "photo_attached": "Photo: attached",
        "saved": "is saved",
        "variety_question": "Which variety is it?",
        "product_question": "What do you want to sell?",
        "no_reports": "no harvest reports yet",
        "other_language": "中文",
        "changed": "语言已切换。",
        "quantity_question": "您有多少？",
    },
}
LANGS = pytest.mark.parametrize("lang", ["zh", "en"])


async def _offered(chat: UserChat, w: dict[str, str]) -> BotMessage:
    offer = await chat.receive_until(lambda m: w["kept"] in m.text)
    assert offer.buttons == [w["continue"], w["discard"]], chat.transcript()
    return offer


async def _reports(session: AsyncSession) -> list[HarvestReport]:
    session.expire_all()
    rows = list(await session.scalars(select(HarvestReport).order_by(HarvestReport.id)))
    await session.commit()
    return rows


async def _up_to_variety(chat: UserChat, lang: str) -> None:
    """A report left at the variety question: product and process answered."""
    f = FLOW_WORDS[lang]
    await chat.send(f["report"])
    await chat.receive()
    await chat.press(f["parchment"])
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press(f["washed"])
    await chat.receive_until(lambda m: bool(m.buttons))


@LANGS
async def test_start_in_a_report_keeps_photo_and_grade_and_continue_asks_again(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
    lang: str,
) -> None:
    w = WORDS[lang]
    chat = emulator.user(711 if lang == "zh" else 712, language_code=lang)
    await register_farmer(chat, lang)
    await report_parchment(chat, "100 kg", lang=lang)
    await chat.press(w["photo"])
    await chat.receive()
    await chat.send_photo()
    await chat.receive_until(lambda m: w["photo_attached"] in m.text)
    await chat.press(w["grade"])
    assert w["grade_question"] in (await chat.receive()).text

    await chat.send("/start")
    welcome = await chat.receive()
    assert welcome.text == w["welcome_back"] and welcome.reply_keyboard, chat.transcript()
    await _offered(chat, w)
    await chat.press(w["continue"])
    asked = await chat.receive_until(lambda m: bool(m.buttons))
    assert w["grade_question"] in asked.text and "AB" in asked.buttons, chat.transcript()
    await chat.press("AB")
    summary = await chat.receive_until(lambda m: w["summary"] in m.text)
    assert w["grade_ab"] in summary.text and w["photo_attached"] in summary.text
    await chat.press(FLOW_WORDS[lang]["confirm"])
    await chat.receive_until(lambda m: w["saved"] in m.text)
    [report] = await _reports(session)
    assert report.grade is not None and report.grade.value == "AB" and report.photo_file_id


@LANGS
async def test_a_menu_button_in_a_report_keeps_it_until_discarded(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
    lang: str,
) -> None:
    w, f = WORDS[lang], FLOW_WORDS[lang]
    chat = emulator.user(713 if lang == "zh" else 714, language_code=lang)
    await register_farmer(chat, lang)
    await _up_to_variety(chat, lang)

    await chat.send(f["reports"])  # leads elsewhere: the draft is kept, and said so
    assert w["no_reports"] in (await chat.receive()).text
    await _offered(chat, w)
    await chat.send(f["reports"])  # once left, My reports does not offer it again
    await running_bot.idle(chat)
    assert chat.last is not None and w["no_reports"] in chat.last.text, chat.transcript()

    await chat.send(f["report"])  # Report harvest offers the kept draft, not a new report
    await _offered(chat, w)
    await chat.press(w["continue"])
    assert w["variety_question"] in (await chat.receive_until(lambda m: bool(m.buttons))).text

    await chat.send(f["report"])  # the same menu button again, in the middle of the report
    await _offered(chat, w)
    await chat.press(w["discard"])
    discarded = await chat.receive_until(lambda m: w["discarded"] in m.text)
    assert discarded.reply_keyboard is not None and f["report"] in discarded.reply_buttons
    await chat.send(f["report"])
    assert w["product_question"] in (await chat.receive()).text, chat.transcript()
    await chat.send("/start")
    await chat.receive_until(lambda m: w["welcome_back"] in m.text)
    await running_bot.idle(chat)  # nothing answered yet: nothing is kept or offered
    assert not any(w["kept"] in m.text for m in chat.unread), chat.transcript()
    assert await _reports(session) == []


@LANGS
async def test_language_in_a_report_asks_the_pending_question_in_the_new_language(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], lang: str
) -> None:
    w, f = WORDS[lang], FLOW_WORDS[lang]
    chat = emulator.user(715 if lang == "zh" else 716, language_code=lang)
    await register_farmer(chat, lang)
    await _up_to_variety(chat, lang)
    await chat.press(f["catimor"])
    await chat.receive_until(lambda m: bool(m.buttons))  # the quantity question
    await chat.send("/language")
    await chat.receive()
    await chat.press(w["other_language"])
    changed = await chat.receive_until(lambda m: m.reply_keyboard is not None)
    assert changed.text == w["changed"]
    assert w["quantity_question"] in (await chat.receive()).text, chat.transcript()
    await chat.send("100 kg")
    other = "en" if lang == "zh" else "zh"
    assert FLOW_WORDS[other]["confirm"] in (await chat.receive()).buttons


async def test_a_kept_draft_lives_in_redis_beside_the_dialogue(
    emulator: BotApiEmulator, redis_settings: Settings, villages: list[Village]
) -> None:
    """With REDIS_URL the draft has its own Redis keys, survives a restart, and continues."""
    w, f = WORDS["zh"], FLOW_WORDS["zh"]
    runner = BotRunner(redis_settings)
    await runner.start()
    try:
        chat = emulator.user(717, language_code="zh")
        await register_farmer(chat, "zh")
        await _up_to_variety(chat, "zh")
        await chat.send("/start")
        await _offered(chat, w)
        await runner.restart()
        await chat.send(f["report"])
        await _offered(chat, w)
        await chat.press(w["continue"])
        assert w["variety_question"] in (await chat.receive_until(lambda m: bool(m.buttons))).text
        await chat.press(f["catimor"])
        await chat.receive_until(lambda m: bool(m.buttons))
        await chat.send("100 kg")
        summary = await chat.receive()
        assert f["parchment"] in summary.text and f["washed"] in summary.text
    finally:
        await runner.stop()


async def test_a_report_begun_before_the_draft_slot_keeps_its_answers(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    """A farmer in the middle of a report when this version is deployed: the answers are
    still in the dialogue state's data, and they are used, kept and saved."""
    w, f = WORDS["en"], FLOW_WORDS["en"]
    chat = emulator.user(718, language_code="en")
    await register_farmer(chat, "en")
    assert running_bot.app is not None
    dp, bot = running_bot.app.dp, running_bot.app.bot
    key = StorageKey(bot_id=bot.id, chat_id=chat.id, user_id=chat.id)
    draft = HarvestDraft(product="green", process="natural", variety="typica", quantity_g=80_000)
    await dp.storage.set_state(key, Harvest.variety)
    await dp.storage.set_data(key, draft.to_state())
    await chat.send("/start")
    await _offered(chat, w)
    await chat.press(w["continue"])
    assert w["variety_question"] in (await chat.receive_until(lambda m: bool(m.buttons))).text
    await chat.press("Typica")
    summary = await chat.receive_until(lambda m: w["summary"] in m.text)
    assert "Green bean" in summary.text and "80 kg" in summary.text
    await chat.press(f["confirm"])
    await chat.receive_until(lambda m: w["saved"] in m.text)
    [report] = await _reports(session)
    assert (report.product.value, report.quantity_g) == ("green", 80_000)
