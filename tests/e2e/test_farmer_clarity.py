"""What a farmer who reads little needs to be sure of (issue 7): the unit they typed, a decimal
comma asked about, their own report numbers, plain statuses, no bean facts for cherry, no
stale buttons, a clear word on an unknown village link. Each in Chinese and in English."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import HarvestReport, ReportStatus, Village
from tests.conftest import BotRunner
from tests.e2e.flows import WORDS, register_farmer, report_parchment
from tests.emulator import BotApiEmulator, BotMessage, UserChat

LANGS = pytest.mark.parametrize("lang", ["zh", "en"])

# Values are texts, or lists of button texts.
T: dict[str, dict[str, Any]] = {
    "zh": {
        "jin": "500斤",
        "jin_shown": "500 斤（250 公斤）",
        "quantity_line": "数量：500 斤（250 公斤）",
        "saved": "已保存",
        "how_much": "您有多少",
        "comma_kg": "１２,５ 公斤",
        "comma": "１２,５",
        "reading_kg": ["12.5 公斤", "125 公斤"],
        "reading": ["12.5", "125"],
        "of_what": "12.5 是什么单位",
        "unit_jin": "12.5 斤",
        "jin_reading_shown": "12.5 斤（6.25 公斤）",
        "kg_125": "数量：125 公斤",
        "grouped": "1,200 公斤",
        "grouped_shown": "数量：1,200 公斤",
        "tiny": "0,1 公斤",
        "one_kg": "1 公斤",
        "one_kg_shown": "数量：1 公斤",
        "listing": "您最近的上报",
        "received": "已收到，等待和同村的咖啡一起出售",
        "withdraw1": "撤回 #1",
        "first_saved": "上报 #1 已保存",
        "second_saved": "上报 #2 已保存",
        "moisture": "💧 含水量",
        "grade": "🏷 等级",
        "moisture_line": "含水量",
        "grade_line": "等级",
        "cherry_refused": "鲜果不用填",
        "change": "✏️ 修改",
        "product": "产品",
        "quantity": "数量",
        "typica": "铁皮卡",
        "check": "请核对",
        "sell": "您要卖什么",
        "which_village": "您的咖啡交到哪个村子",
        "choose_village": "请选择您的村子",
        "change_village": "修改村子",
        "saved_profile": "已保存。",
        "cancelled": "已取消",
        "unknown_link": "这个村子链接无效",
        "language_q": "选择",
    },
    "en": {
        "jin": "500 jin",
        "jin_shown": "500 jin (250 kg)",
        "quantity_line": "Quantity: 500 jin (250 kg)",
        "saved": "is saved",
        "how_much": "How much",
        "comma_kg": "12,5 kg",
        "comma": "１２,５",
        "reading_kg": ["12.5 kg", "125 kg"],
        "reading": ["12.5", "125"],
        "of_what": "12.5 of what?",
        "unit_jin": "12.5 斤 (jin)",
        "jin_reading_shown": "12.5 jin (6.25 kg)",
        "kg_125": "Quantity: 125 kg",
        "grouped": "1,200 kg",
        "grouped_shown": "Quantity: 1,200 kg",
        "tiny": "0,1 kg",
        "one_kg": "1 kg",
        "one_kg_shown": "Quantity: 1 kg",
        "listing": "latest harvest reports",
        "received": "Received: waiting to be sold together with your village's coffee",
        "withdraw1": "Withdraw #1",
        "first_saved": "Report #1 is saved",
        "second_saved": "Report #2 is saved",
        "moisture": "💧 Moisture",
        "grade": "🏷 Grade",
        "moisture_line": "Moisture",
        "grade_line": "Grade",
        "cherry_refused": "not for fresh cherry",
        "change": "✏️ Change",
        "product": "Product",
        "quantity": "Quantity",
        "typica": "Typica",
        "check": "Please check",
        "sell": "What do you want to sell",
        "which_village": "Which village",
        "choose_village": "Choose your village",
        "change_village": "Change village",
        "saved_profile": "Saved.",
        "cancelled": "Cancelled",
        "unknown_link": "That village link is not known",
        "language_q": "language",
    },
}


async def _reports(session: AsyncSession) -> list[HarvestReport]:
    session.expire_all()
    rows = list(await session.scalars(select(HarvestReport).order_by(HarvestReport.id)))
    await session.commit()
    return rows


async def _confirm(chat: UserChat, lang: str) -> BotMessage:
    await chat.press(WORDS[lang]["confirm"])
    return await chat.receive_until(lambda m: T[lang]["saved"] in m.text)


async def _buttons_gone(chat: UserChat, message: BotMessage) -> None:
    await chat.wait_for(lambda c: not message.inline_keyboard)


async def _to_quantity(chat: UserChat, lang: str) -> BotMessage:
    w = WORDS[lang]
    await chat.send(w["report"])
    await chat.receive()
    await chat.press(w["parchment"])
    await chat.receive_until(lambda m: bool(m.inline_keyboard))
    await chat.press(w["washed"])
    await chat.receive_until(lambda m: bool(m.inline_keyboard))
    await chat.press(w["catimor"])
    return await chat.receive_until(lambda m: T[lang]["how_much"] in m.text)


@LANGS
async def test_the_unit_typed_is_shown_beside_kilograms_everywhere(
    lang: str,
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
) -> None:
    t = T[lang]
    chat = emulator.user(701, language_code=lang)
    await register_farmer(chat, lang)
    question = await _to_quantity(chat, lang)
    if lang == "zh":
        assert "公斤" in question.text and "千克" not in question.text
    await chat.send(t["jin"])
    summary = await chat.receive_until(lambda m: t["check"] in m.text)
    assert t["quantity_line"] in summary.text and "千克" not in summary.text
    saved = await _confirm(chat, lang)
    assert t["jin_shown"] in saved.text and "千克" not in saved.text
    await chat.send(WORDS[lang]["reports"])
    listing = await chat.receive_until(lambda m: t["listing"] in m.text)
    assert t["jin_shown"] in listing.text
    await chat.press(t["withdraw1"])
    confirm = await chat.receive()
    assert t["jin_shown"] in confirm.text
    [report] = await _reports(session)
    assert (report.quantity_g, report.quantity_unit) == (250_000, "jin")


@LANGS
async def test_a_decimal_comma_is_asked_about_with_both_readings(
    lang: str,
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
) -> None:
    t = T[lang]
    chat = emulator.user(702, language_code=lang)
    await register_farmer(chat, lang)
    await _to_quantity(chat, lang)
    await chat.send(t["comma_kg"])
    asked = await chat.receive()
    assert asked.buttons[:2] == t["reading_kg"], chat.transcript()
    assert "1200" not in asked.text and "千位" not in asked.text
    await chat.press(t["reading_kg"][1])
    summary = await chat.receive_until(lambda m: t["check"] in m.text)
    assert t["kg_125"] in summary.text
    # without a unit: the reading first, then the unit, which is kept
    await chat.press(t["change"])
    await chat.receive()
    await chat.press(t["quantity"])
    await chat.receive_until(lambda m: t["how_much"] in m.text)
    await chat.send(t["comma"])
    asked = await chat.receive()
    assert asked.buttons[:2] == t["reading"], chat.transcript()
    await chat.press(t["reading"][0])
    unit = await chat.receive_until(lambda m: t["of_what"] in m.text)
    await chat.press(t["unit_jin"], message=unit)
    summary = await chat.receive_until(lambda m: t["check"] in m.text)
    assert t["jin_reading_shown"] in summary.text
    # a thousands comma is still accepted as it was
    await chat.press(t["change"])
    await chat.receive()
    await chat.press(t["quantity"])
    await chat.receive_until(lambda m: t["how_much"] in m.text)
    await chat.send(t["grouped"])
    summary = await chat.receive_until(lambda m: t["check"] in m.text)
    assert t["grouped_shown"] in summary.text
    # only a reading that is a harvest is offered: 0.1 kg is too little to collect
    await chat.press(t["change"])
    await chat.receive()
    await chat.press(t["quantity"])
    await chat.receive_until(lambda m: t["how_much"] in m.text)
    await chat.send(t["tiny"])
    asked = await chat.receive()
    assert asked.buttons[:1] == [t["one_kg"]] and t["one_kg"] in asked.text, chat.transcript()
    await chat.press(t["one_kg"])
    summary = await chat.receive_until(lambda m: t["check"] in m.text)
    assert t["one_kg_shown"] in summary.text


@LANGS
async def test_reports_are_numbered_per_farmer(
    lang: str,
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
) -> None:
    t = T[lang]
    other = emulator.user(703, language_code="en")
    await register_farmer(other, "en", name="Ann")
    for amount in ("100 kg", "200 kg"):
        await report_parchment(other, amount, lang="en")
        await _confirm(other, "en")
    chat = emulator.user(704, language_code=lang)
    await register_farmer(chat, lang)
    await report_parchment(chat, "100 kg", lang=lang)
    assert t["first_saved"] in (await _confirm(chat, lang)).text
    await report_parchment(chat, "100 kg", lang=lang)
    assert t["second_saved"] in (await _confirm(chat, lang)).text
    await chat.send(WORDS[lang]["reports"])
    listing = await chat.receive_until(lambda m: t["listing"] in m.text)
    assert "#1 " in listing.text and "#2 " in listing.text and "#3" not in listing.text
    assert listing.buttons == [t["withdraw1"].replace("1", "2"), t["withdraw1"]]
    mine = [r for r in await _reports(session) if r.farmer_seq and r.id > 2]
    assert [(r.id, r.farmer_seq) for r in mine] == [(3, 1), (4, 2)]


@LANGS
async def test_every_status_says_what_happens_next(
    lang: str,
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
) -> None:
    t = T[lang]
    chat = emulator.user(705, language_code=lang)
    await register_farmer(chat, lang)
    for _status in ReportStatus:
        await report_parchment(chat, "100 kg", lang=lang)
        await _confirm(chat, lang)
    for report, status in zip(await _reports(session), ReportStatus, strict=True):
        await session.execute(
            update(HarvestReport).where(HarvestReport.id == report.id).values(status=status)
        )
    await session.commit()
    await chat.send(WORDS[lang]["reports"])
    listing = await chat.receive_until(lambda m: t["listing"] in m.text)
    assert t["received"] in listing.text
    old_words = {"zh": ["并批", "已并入批次", "已收货"], "en": ["pooled", "Pooled"]}[lang]
    assert not any(word in listing.text for word in old_words), listing.text
    lines = listing.text.split("\n\n")[1:]
    statuses = {line.split("\n")[1].split(" · ")[0] for line in lines}
    assert len(statuses) == len(ReportStatus)  # one distinct plain label per status


@LANGS
async def test_fresh_cherry_is_not_offered_grade_or_moisture(
    lang: str,
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
) -> None:
    t, w = T[lang], WORDS[lang]
    chat = emulator.user(706, language_code=lang)
    await register_farmer(chat, lang)
    # a parchment report with a grade, then changed to fresh cherry: the grade goes
    await report_parchment(chat, "100 kg", lang=lang)
    await chat.press(t["grade"])
    await chat.receive()
    await chat.press("AA")
    await chat.receive_until(lambda m: t["check"] in m.text)
    await chat.press(t["change"])
    await chat.receive()
    await chat.press(t["product"])
    await chat.receive()
    await chat.press(w["cherry"])
    summary = await chat.receive_until(lambda m: t["check"] in m.text)
    assert t["moisture"] not in summary.buttons and t["grade"] not in summary.buttons
    assert t["moisture_line"] not in summary.text and t["grade_line"] not in summary.text
    assert "AA" not in summary.text
    # a stale grade button is refused with the reason, and the summary shown again
    await chat.press(callback_data="sum:grade", message=summary, force=True)
    assert t["cherry_refused"] in (await chat.receive()).text
    assert t["check"] in (await chat.receive()).text
    await _confirm(chat, lang)
    [report] = await _reports(session)
    assert (report.product.value, report.grade, report.moisture_tenths) == ("cherry", None, None)


@LANGS
async def test_superseded_questions_lose_their_buttons(
    lang: str,
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
) -> None:
    t, w = T[lang], WORDS[lang]
    chat = emulator.user(707, language_code=lang)
    await register_farmer(chat, lang)
    # registration's village question was answered: nothing left to press
    village_question = next(
        m for m in chat.messages if any(t["which_village"] in (h or "") for h in m.history)
    )
    assert not village_question.inline_keyboard
    # the same question asked again: the first one's buttons go
    await chat.send(w["report"])
    first = await chat.receive_until(lambda m: t["sell"] in m.text)
    await chat.send(w["report"])
    second = await chat.receive_until(lambda m: t["sell"] in m.text)
    await _buttons_gone(chat, first)
    assert second.inline_keyboard
    # a question asked again after bad input
    await chat.press(w["parchment"], message=second)
    await chat.receive_until(lambda m: bool(m.inline_keyboard))
    await chat.press(w["washed"])
    await chat.receive_until(lambda m: bool(m.inline_keyboard))
    await chat.press(w["catimor"])
    quantity = await chat.receive_until(lambda m: t["how_much"] in m.text)
    await chat.send("lots")
    again = await chat.receive_until(lambda m: t["how_much"] in m.text)
    await _buttons_gone(chat, quantity)
    # /cancel: the open question's buttons go
    await chat.send("/cancel")
    await chat.receive_until(lambda m: t["cancelled"] in m.text)
    await _buttons_gone(chat, again)
    # choosing a village in the profile: the village list's buttons go
    await chat.send(w["profile"])
    await chat.receive()
    await chat.press(t["change_village"])
    villages_asked = await chat.receive_until(lambda m: t["choose_village"] in m.text)
    await chat.press("Nankang", message=villages_asked)
    await chat.receive_until(lambda m: m.text == t["saved_profile"])
    await _buttons_gone(chat, villages_asked)
    await running_bot.idle(chat)
    assert await _reports(session) == []


@LANGS
async def test_an_unknown_village_link_is_said_and_the_villages_offered(
    lang: str,
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
) -> None:
    t, w = T[lang], WORDS[lang]
    chat = emulator.user(708, language_code=lang)
    await chat.send("/start v_nosuchvillage")
    said = await chat.receive()
    assert t["unknown_link"] in said.text, chat.transcript()
    assert "Conggang" in said.text and "Nankang" in said.text
    await chat.receive_until(lambda m: bool(m.inline_keyboard))
    await chat.press(w["language"])
    await chat.receive_until(lambda m: bool(m.inline_keyboard))
    await chat.press(w["farmer"])
    await chat.receive_until(lambda m: m.reply_keyboard is None and bool(m.text))
    await chat.send("李伟")
    await chat.receive()
    await chat.send_contact("+86 138 0000 0001")
    asked = await chat.receive_until(lambda m: t["which_village"] in m.text)
    assert asked.buttons == ["Conggang", "Nankang"]
