"""Reporting a harvest through the emulator: the happy paths, every validation path, restarts,
parallel farmers, duplicate updates and stale buttons."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import HarvestReport, ReportStatus, Village
from tests.conftest import BotRunner
from tests.e2e.flows import register_farmer, report_parchment
from tests.emulator import BotApiEmulator, UserChat


async def _reports(session: AsyncSession) -> list[HarvestReport]:
    """Read what the bot stored; ends the read so SQLite's write lock is free for the bot."""
    session.expire_all()
    rows = list(await session.scalars(select(HarvestReport).order_by(HarvestReport.id)))
    await session.commit()
    return rows


async def _asked_again(chat: UserChat, reason: str, question: str) -> None:
    said = await chat.receive()
    assert reason in said.text, chat.transcript()
    assert question in (await chat.receive()).text, chat.transcript()


async def test_complete_report_in_chinese_takes_five_taps_and_one_typed_answer(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    chat = emulator.user(201, language_code="zh")
    await register_farmer(chat, "zh")
    taps_before = sum(1 for e in chat._events if e[0] == "press")
    summary = await report_parchment(chat, "１２００斤")
    assert "带壳豆" in summary.text and "水洗" in summary.text and "卡蒂姆" in summary.text
    assert "数量：1,200 斤（600 公斤）" in summary.text and "千克" not in summary.text
    await chat.press("✅ 确认")
    saved = await chat.receive_until(lambda m: "已保存" in m.text)
    assert "上报 #1 已保存" in saved.text and "Conggang" in saved.text
    taps = sum(1 for e in chat._events if e[0] == "press") - taps_before
    typed = [e for e in chat._events if e[0] == "in"]
    # the menu button is typed by Telegram, not by the farmer: count it as a tap
    assert taps + 1 == 5
    assert typed[-1][1]["text"] == "１２００斤"
    [report] = await _reports(session)
    assert (
        report.product.value,
        report.process.value if report.process else None,
        report.variety.value,
        report.quantity_g,
        report.status,
    ) == ("parchment", "washed", "catimor", 600_000, ReportStatus.SUBMITTED)


async def test_complete_report_in_english_with_every_optional_detail(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    chat = emulator.user(202, language_code="en")
    await register_farmer(chat, "en", name="Ann")
    await report_parchment(chat, "1,200 kg", lang="en")
    await chat.press("💧 Moisture")
    await chat.receive()
    await chat.send("11.5%")
    summary = await chat.receive()
    assert "Moisture: 11.5%" in summary.text and "Quantity: 1,200 kg" in summary.text
    await chat.press("🏷 Grade")
    await chat.receive()
    await chat.press("AA")
    assert "Grade: AA" in (await chat.receive_until(lambda m: "Grade: AA" in m.text)).text
    await chat.press("📷 Photo")
    await chat.receive()
    await chat.send_photo()
    assert "Photo: attached" in (await chat.receive()).text
    await chat.press("✅ Confirm")
    saved = await chat.receive_until(lambda m: "is saved" in m.text)
    assert "Report #1 is saved: 1,200 kg at Conggang" in saved.text
    [report] = await _reports(session)
    assert (report.moisture_tenths, report.grade and report.grade.value) == (115, "AA")
    assert report.photo_file_id


async def test_fresh_cherry_skips_the_process_question(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    chat = emulator.user(203, language_code="en")
    await register_farmer(chat, "en", name="Bo")
    await chat.send("/report")
    await chat.receive()
    await chat.press("Fresh cherry")
    assert "Which variety" in (await chat.receive_until(lambda m: bool(m.buttons))).text
    await chat.press("Typica")
    await chat.receive_until(lambda m: "How much" in m.text)
    await chat.send("2 t")
    summary = await chat.receive()
    assert "Process" not in summary.text and "2,000 kg" in summary.text
    await chat.press("✅ Confirm")
    await chat.receive_until(lambda m: "is saved" in m.text)
    [report] = await _reports(session)
    assert report.process is None and report.quantity_g == 2_000_000


async def test_every_quantity_problem_gets_a_reason_and_the_question_again(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village]
) -> None:
    chat = emulator.user(204, language_code="en")
    await register_farmer(chat, "en", name="Cai")
    await chat.send("📦 Report harvest")
    await chat.receive()
    await chat.press("Parchment")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press("Washed")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press("Catimor")
    await chat.receive_until(lambda m: "How much" in m.text)
    question = "How much do you have?"
    for typed, reason in [
        ("lots", "could not read a number"),
        ("0 kg", "cannot be zero"),
        ("-5 kg", "cannot be negative"),
        ("5 lb", "do not know that unit"),
        ("0.1 kg", "less than half a kilogram"),
        ("500 t", "more than 100 tonnes"),
        ("1.0001 kg", "nearest gram"),
    ]:
        await chat.send(typed)
        await _asked_again(chat, reason, question)
    for odd in (chat.send_sticker, chat.send_voice, chat.send_photo):
        await odd()
        await _asked_again(chat, "not an answer", question)
    await chat.send_location(25.1, 99.2)
    await _asked_again(chat, "not an answer", question)
    await chat.send("240")
    unit = await chat.receive()
    assert "240 of what?" in unit.text and unit.buttons[:2] == ["240 kg", "240 斤 (jin)"]
    await chat.press("240 斤 (jin)")
    summary = await chat.receive_until(lambda m: "Please check" in m.text)
    assert "Product: Parchment" in summary.text and "Quantity: 240 jin (120 kg)" in summary.text


async def test_button_questions_refuse_typing_and_keep_earlier_answers(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village]
) -> None:
    chat = emulator.user(205, language_code="zh")
    await register_farmer(chat, "zh")
    await chat.send("📦 上报收成")
    await chat.receive()
    await chat.send("咖啡")
    await _asked_again(chat, "请点击下面的按钮之一", "您要卖什么")
    await chat.press("带壳豆")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.send_sticker()
    await _asked_again(chat, "这不是这个问题的答案", "处理方式")
    await chat.press("日晒")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press("铁皮卡")
    await chat.receive_until(lambda m: "您有多少" in m.text)
    await chat.send("300公斤")
    summary = await chat.receive()
    assert "带壳豆" in summary.text and "日晒" in summary.text and "铁皮卡" in summary.text


async def test_moisture_grade_and_photo_problems(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village]
) -> None:
    chat = emulator.user(206, language_code="en")
    await register_farmer(chat, "en", name="Dai")
    await report_parchment(chat, "100 kg", lang="en")
    await chat.press("💧 Moisture")
    await chat.receive()
    question = "moisture in percent"
    for typed, reason in [
        ("wet", "could not read a percentage"),
        ("95", "between 1% and 80%"),
        ("12.25", "at most one decimal"),
    ]:
        await chat.send(typed)
        await _asked_again(chat, reason, question)
    await chat.press("Skip")
    assert (
        "Moisture: not given" in (await chat.receive_until(lambda m: "Please check" in m.text)).text
    )
    await chat.press("📷 Photo")
    await chat.receive()
    await chat.send("here it is")
    await _asked_again(chat, "tap one of the buttons", "Send one photo")
    await chat.press("Skip")
    await chat.receive_until(lambda m: "Please check" in m.text)
    await chat.press("🏷 Grade")
    await chat.receive()
    await chat.press("No grade")
    assert "Grade: not given" in (await chat.receive_until(lambda m: "Please check" in m.text)).text


async def test_change_one_field_from_the_summary(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    chat = emulator.user(207, language_code="en")
    await register_farmer(chat, "en", name="Fu")
    await report_parchment(chat, "100 kg", lang="en")
    await chat.press("✏️ Change")
    await chat.receive()
    await chat.press("Quantity")
    await chat.receive_until(lambda m: "How much" in m.text)
    await chat.send("150 kg")
    summary = await chat.receive()
    assert "Quantity: 150 kg" in summary.text and "Variety: Catimor" in summary.text
    await chat.press("✏️ Change")
    await chat.receive()
    await chat.press("Product")
    await chat.receive()
    await chat.press("Green bean")
    summary = await chat.receive_until(lambda m: "Please check" in m.text)
    assert "Product: Green bean" in summary.text and "Process: Washed" in summary.text
    await chat.press("✅ Confirm")
    await chat.receive_until(lambda m: "is saved" in m.text)
    [report] = await _reports(session)
    assert (report.product.value, report.quantity_g) == ("green", 150_000)


async def test_cancel_leaves_the_wizard_and_saves_nothing(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    chat = emulator.user(208, language_code="en")
    await register_farmer(chat, "en", name="Gao")
    await chat.send("📦 Report harvest")
    await chat.receive()
    await chat.press("Parchment")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.send("/cancel")
    cancelled = await chat.receive()
    assert cancelled.text == "Cancelled. Nothing was saved." and cancelled.reply_keyboard
    await chat.send("100 kg")
    assert "choose from the menu" in (await chat.receive()).text
    await report_parchment(chat, "100 kg", lang="en")
    await chat.press("✖ Cancel")
    assert "cancelled" in (await chat.receive_until(lambda m: "Nothing" in m.text)).text
    await chat.send("/cancel")
    assert (await chat.receive()).text == "There is nothing to cancel."
    assert await _reports(session) == []


async def test_restart_mid_wizard_resumes_at_the_same_step(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    chat = emulator.user(209, language_code="zh")
    await register_farmer(chat, "zh")
    await chat.send("📦 上报收成")
    await chat.receive()
    await chat.press("带壳豆")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press("蜜处理")
    await chat.receive_until(lambda m: "品种" in m.text)
    await running_bot.restart()
    await chat.press("波旁")
    await chat.receive_until(lambda m: "您有多少" in m.text)
    await running_bot.restart()
    await chat.send("3吨")
    summary = await chat.receive()
    assert (
        "蜜处理" in summary.text and "波旁" in summary.text and "3 吨（3,000 公斤）" in summary.text
    )
    await chat.press("✅ 确认")
    await chat.receive_until(lambda m: "已保存" in m.text)
    assert [r.quantity_g for r in await _reports(session)] == [3_000_000]


async def test_two_farmers_in_parallel_never_mix(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    li, ann = emulator.user(210, language_code="zh"), emulator.user(211, language_code="en")
    await asyncio.gather(
        register_farmer(li, "zh", name="李"),
        register_farmer(ann, "en", name="Ann", village="Nankang"),
    )
    await asyncio.gather(report_parchment(li, "500斤"), report_parchment(ann, "80 kg", "en"))
    await asyncio.gather(li.press("✅ 确认"), ann.press("✅ Confirm"))
    li_saved = await li.receive_until(lambda m: "已保存" in m.text)
    ann_saved = await ann.receive_until(lambda m: "is saved" in m.text)
    assert "500 斤（250 公斤）" in li_saved.text and "Conggang" in li_saved.text
    assert "80 kg" in ann_saved.text and "Nankang" in ann_saved.text
    assert all("kg" not in m.text for m in li.messages if "已保存" in m.text)
    reports = await _reports(session)
    by_village = {r.village_id: r.quantity_g for r in reports}
    assert by_village == {villages[0].id: 250_000, villages[1].id: 80_000}


async def test_a_duplicate_update_has_one_effect(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    chat = emulator.user(212, language_code="en")
    await register_farmer(chat, "en", name="Hu")
    await report_parchment(chat, "100 kg", lang="en")
    update_id = await chat.press("✅ Confirm")
    await chat.receive_until(lambda m: "is saved" in m.text)
    summary = next(m for m in chat.messages if "Please check" in m.text)
    await chat.press(
        callback_data="sum:confirm",
        message=summary,
        force=True,
        update_id=int(update_id[len(str(chat.id)) :]),
    )
    await chat.send("📋 My reports", update_id=10_000)
    await chat.send("📋 My reports", update_id=10_000)
    await running_bot.idle(chat)
    listings = [m for m in chat.messages if "latest harvest reports" in m.text]
    assert len(listings) == 1
    assert len(await _reports(session)) == 1


async def test_stale_buttons_say_the_menu_expired_and_show_the_current_one(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    chat = emulator.user(213, language_code="en")
    await register_farmer(chat, "en", name="Jin")
    await report_parchment(chat, "100 kg", lang="en")
    summary = chat.last
    assert summary is not None
    await chat.press("✅ Confirm")
    await chat.receive_until(lambda m: "is saved" in m.text)
    await chat.press(callback_data="sum:confirm", message=summary, force=True)
    answer = await chat.wait_callback_answer()
    assert "expired" in answer.get("text", "")
    assert "What would you like to do" in (await chat.receive()).text
    await chat.send("📦 Report harvest")
    product_question = await chat.receive()
    await chat.press("Parchment")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press(callback_data="hv:product:green", message=product_question, force=True)
    await chat.wait_callback_answer()
    assert "How was it processed?" in (await chat.receive()).text
    await chat.press(callback_data="zz:unknown", message=product_question, force=True)
    await chat.wait_callback_answer()
    assert "How was it processed?" in (await chat.receive()).text
    assert len(await _reports(session)) == 1


async def test_my_reports_and_withdraw(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], session: AsyncSession
) -> None:
    chat = emulator.user(214, language_code="en")
    await register_farmer(chat, "en", name="Kai")
    await chat.send("📋 My reports")
    assert "no harvest reports yet" in (await chat.receive()).text
    for amount in ("100 kg", "200 kg"):
        await report_parchment(chat, amount, lang="en")
        await chat.press("✅ Confirm")
        await chat.receive_until(lambda m: "is saved" in m.text)
    await chat.send("/reports")
    listing = await chat.receive()
    assert listing.text.index("#2") < listing.text.index("#1")
    assert "Received: waiting to be sold together" in listing.text
    assert listing.buttons == ["Withdraw #2", "Withdraw #1"]
    await chat.press("Withdraw #1")
    confirm = await chat.receive()
    assert "Withdraw this report?" in confirm.text and "#1" in confirm.text
    await chat.press("No, keep it")
    await chat.wait_for(lambda c: "kept" in (confirm.text or ""))
    await chat.press("Withdraw #1", message=listing)
    await chat.receive()
    await chat.press("Yes, withdraw")
    await chat.wait_for(lambda c: "withdrawn" in (c.messages[-1].text or ""))
    await chat.press("Withdraw #1", message=listing)
    assert (
        "can no longer be withdrawn"
        in (await chat.receive_until(lambda m: "withdrawn" in m.text)).text
    )
    statuses = {r.id: r.status for r in await _reports(session)}
    assert statuses == {1: ReportStatus.WITHDRAWN, 2: ReportStatus.SUBMITTED}
    await chat.send("/reports")
    listing = await chat.receive()
    assert "Withdrawn" in listing.text and listing.buttons == ["Withdraw #2"]


async def test_only_farmers_report(emulator: BotApiEmulator, running_bot: BotRunner) -> None:
    chat = emulator.user(215, language_code="en")
    await chat.send("/report")
    assert "Only registered farmers" in (await chat.receive()).text
