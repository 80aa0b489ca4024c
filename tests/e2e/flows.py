"""Conversations reused by several end-to-end tests, written as a user would tap and type."""

from __future__ import annotations

from tests.emulator import BotMessage, UserChat

ZH = {
    "language": "中文",
    "farmer": "🌱 我种咖啡",
    "merchant": "🏢 我收购咖啡",
    "report": "📦 上报收成",
    "reports": "📋 我的上报",
    "profile": "👤 我的资料",
    "parchment": "带壳豆",
    "cherry": "鲜果",
    "washed": "水洗",
    "catimor": "卡蒂姆",
    "confirm": "✅ 确认",
    "cancel": "✖ 取消",
}
EN = {
    "language": "English",
    "farmer": "🌱 I grow coffee",
    "merchant": "🏢 I buy coffee",
    "report": "📦 Report harvest",
    "reports": "📋 My reports",
    "profile": "👤 Profile",
    "parchment": "Parchment",
    "cherry": "Fresh cherry",
    "washed": "Washed",
    "catimor": "Catimor",
    "confirm": "✅ Confirm",
    "cancel": "✖ Cancel",
}
WORDS = {"zh": ZH, "en": EN}


async def register_farmer(
    chat: UserChat, lang: str = "zh", name: str = "李伟", village: str = "Conggang"
) -> BotMessage:
    """/start to the welcome with the main menu; returns the welcome message."""
    w = WORDS[lang]
    await chat.send("/start")
    await chat.receive_until(lambda m: bool(m.inline_keyboard))
    await chat.press(w["language"])
    await chat.receive_until(lambda m: bool(m.inline_keyboard))
    await chat.press(w["farmer"])
    await chat.receive_until(lambda m: m.reply_keyboard is None and bool(m.text))
    await chat.send(name)
    asked = await chat.receive()
    assert asked.reply_keyboard and asked.reply_keyboard[0][0].request_contact
    await chat.send_contact("+86 138 0000 0001")
    await chat.receive()  # the number is confirmed
    villages = await chat.receive()
    assert village in villages.buttons
    await chat.press(village)
    return await chat.receive_until(lambda m: m.reply_keyboard is not None)


async def report_parchment(
    chat: UserChat, quantity: str = "1200斤", lang: str = "zh"
) -> BotMessage:
    """The shortest complete report: returns the summary shown before Confirm."""
    w = WORDS[lang]
    await chat.send(w["report"])
    await chat.receive()
    await chat.press(w["parchment"])
    await chat.receive_until(lambda m: bool(m.inline_keyboard))
    await chat.press(w["washed"])
    await chat.receive_until(lambda m: bool(m.inline_keyboard))
    await chat.press(w["catimor"])
    await chat.receive_until(lambda m: bool(m.inline_keyboard))
    await chat.send(quantity)
    return await chat.receive_until(lambda m: w["confirm"] in m.buttons)
