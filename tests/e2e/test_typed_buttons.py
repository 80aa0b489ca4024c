"""Words typed where buttons are expected (issue 7): a word that names a button of the question
is taken as that button; any other word is told to tap the buttons, which are shown again. A
phone number typed where the share-phone button is asked gets the same help in registration
and in the profile."""

from __future__ import annotations

import pytest

from bot.models import Village
from tests.conftest import BotRunner
from tests.e2e.flows import answer_digest, register_farmer, report_parchment
from tests.emulator import BotApiEmulator, BotMessage, UserChat

WORDS = {
    "zh": {
        "language": "中文",
        "farmer": "我种咖啡",
        "name_question": "请问您的名字？",
        "phone_help": "请不要手动输入号码",
        "welcome": "欢迎，李伟",
        "digest_question": "每天早上要不要收到当天的咖啡价格？",
        "digest_yes": "要",
        "report": "上报收成",
        "product_question": "您要卖什么？",
        "parchment": "带壳豆",
        "process_question": "是什么处理方式？",
        "not_a_button": "咖啡",
        "tap_buttons": "请点击下面的按钮之一。",
        "washed": "水洗",
        "grade": "🏷 等级",
        "grade_question": "是什么等级？",
        "grade_word": "A级",
        "grade_typed": "aa",
        "grade_done": "等级：AA",
        "photo": "📷 照片",
        "photo_question": "请发一张咖啡的照片。",
        "no_photo": "没有照片",
        "skip": "跳过",
        "photo_done": "照片：无",
        "profile": "我的资料",
        "change_phone": "修改电话",
        "phone_question": "分享新手机号",
    },
    "en": {
        "language": "english",
        "farmer": "I grow coffee",
        "name_question": "What is your name?",
        "phone_help": "Please do not type the number",
        "welcome": "Welcome, 李伟",
        "digest_question": "Do you want today's coffee prices every morning?",
        "digest_yes": "YES",
        "report": "report harvest",
        "product_question": "What do you want to sell?",
        "parchment": "PARCHMENT",
        "process_question": "How was it processed?",
        "not_a_button": "coffee",
        "tap_buttons": "Please tap one of the buttons below.",
        "washed": "Washed",
        "grade": "🏷 Grade",
        "grade_question": "Which grade is it?",
        "grade_word": "A grade",
        "grade_typed": "aa",
        "grade_done": "Grade: AA",
        "photo": "📷 Photo",
        "photo_question": "Send one photo of your coffee.",
        "no_photo": "no photo",
        "skip": " skip ",
        "photo_done": "Photo: none",
        "profile": "profile",
        "change_phone": "Change phone",
        "phone_question": "Share your new phone number",
    },
}
LANGS = pytest.mark.parametrize("lang", ["zh", "en"])


async def _told_to_tap(chat: UserChat, hint: str, question: str) -> BotMessage:
    """The hint, then the question again with its buttons; returns the question."""
    said = await chat.receive()
    assert said.text == hint, chat.transcript()
    asked = await chat.receive()
    assert question in asked.text and asked.buttons, chat.transcript()
    return asked


@LANGS
async def test_typed_words_register_a_farmer(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], lang: str
) -> None:
    w = WORDS[lang]
    chat = emulator.user(701 if lang == "zh" else 702, language_code=lang)
    await chat.send("/start")
    await chat.receive()
    await chat.send(w["language"])
    await chat.receive_until(lambda m: bool(m.buttons))  # the role question
    await chat.send(w["farmer"])
    assert (await chat.receive_until(lambda m: bool(m.text))).text == w["name_question"]
    await chat.send("李伟")
    asked = await chat.receive()
    assert asked.reply_keyboard and asked.reply_keyboard[0][0].request_contact
    await chat.send("13800000001")
    help_text = (await chat.receive()).text
    assert w["phone_help"] in help_text, chat.transcript()
    again = await chat.receive()
    assert again.reply_keyboard and again.reply_keyboard[0][0].request_contact
    await chat.send_contact("+86 138 0000 0001")
    await chat.receive()
    assert "Conggang" in (await chat.receive()).buttons
    await chat.send("  conggang ")
    await chat.receive_until(lambda m: m.text == w["digest_question"])
    await chat.send(w["digest_yes"])
    welcome = await chat.receive_until(lambda m: m.reply_keyboard is not None)
    assert w["welcome"] in welcome.text and "Conggang" in welcome.text, chat.transcript()


@LANGS
async def test_typed_words_in_a_report_are_buttons_or_pointed_to_them(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], lang: str
) -> None:
    w = WORDS[lang]
    chat = emulator.user(703 if lang == "zh" else 704, language_code=lang)
    await register_farmer(chat, lang)
    await chat.send(w["report"])  # the menu button's words, without its emoji
    assert w["product_question"] in (await chat.receive()).text, chat.transcript()
    await chat.send(w["parchment"])
    assert w["process_question"] in (await chat.receive()).text, chat.transcript()
    await chat.send(w["not_a_button"])
    asked = await _told_to_tap(chat, w["tap_buttons"], w["process_question"])
    assert w["washed"] in asked.buttons
    await chat.send_sticker()  # not typed: simply not an answer
    assert "tap" not in (await chat.receive()).text
    await chat.receive()
    await chat.send("/cancel")
    await chat.receive()

    await report_parchment(chat, "100 kg", lang=lang)
    await chat.press(w["grade"])
    await chat.receive()
    await chat.send(w["grade_word"])
    asked = await _told_to_tap(chat, w["tap_buttons"], w["grade_question"])
    assert "AA" in asked.buttons
    await chat.send(w["grade_typed"])
    assert w["grade_done"] in (await chat.receive_until(lambda m: "AA" in m.text)).text
    await chat.press(w["photo"])
    await chat.receive()
    await chat.send(w["no_photo"])
    asked = await _told_to_tap(chat, w["tap_buttons"], w["photo_question"])
    assert asked.buttons == [w["skip"].strip().capitalize()]
    await chat.send(w["skip"])
    assert w["photo_done"] in (await chat.receive_until(lambda m: w["photo_done"] in m.text)).text


@LANGS
async def test_a_typed_phone_number_gets_the_same_help_in_registration_and_profile(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], lang: str
) -> None:
    w = WORDS[lang]
    chat = emulator.user(705 if lang == "zh" else 706, language_code=lang)
    await chat.send("/start")
    await chat.receive()
    await chat.press("中文" if lang == "zh" else "English")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press("🌱 我种咖啡" if lang == "zh" else "🌱 I grow coffee")
    await chat.receive_until(lambda m: bool(m.text))
    await chat.send("李伟")
    await chat.receive()
    await chat.send("+86 138 0000 0001")
    in_registration = (await chat.receive()).text
    await chat.receive()
    await chat.send_contact("+86 138 0000 0001")
    await chat.receive()
    await chat.receive()
    await chat.press("Conggang")
    await answer_digest(chat, lang)
    await chat.receive_until(lambda m: m.reply_keyboard is not None)

    await chat.send(w["profile"])
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press(w["change_phone"])
    assert w["phone_question"] in (await chat.receive()).text
    await chat.send("13900000002")
    in_profile = await chat.receive()
    assert in_profile.text == in_registration and w["phone_help"] in in_profile.text
    again = await chat.receive()
    assert w["phone_question"] in again.text
    assert again.reply_keyboard and again.reply_keyboard[0][0].request_contact


@LANGS
async def test_a_question_answered_by_a_typed_word_loses_its_buttons(
    emulator: BotApiEmulator, running_bot: BotRunner, villages: list[Village], lang: str
) -> None:
    """A typed word is a press of the open question's button: that question's buttons go, as
    when it is asked again after a word that names none."""
    w = WORDS[lang]
    chat = emulator.user(707 if lang == "zh" else 708, language_code=lang)
    await register_farmer(chat, lang)
    await chat.send(w["report"])
    product = await chat.receive()
    await chat.send(w["parchment"])
    process = await chat.receive()
    assert w["process_question"] in process.text and process.buttons, chat.transcript()
    await chat.wait_for(lambda c: not product.inline_keyboard)
    await chat.send(w["not_a_button"])
    await _told_to_tap(chat, w["tap_buttons"], w["process_question"])
    await chat.wait_for(lambda c: not process.inline_keyboard)
