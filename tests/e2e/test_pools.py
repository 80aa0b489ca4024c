"""/pools through the emulator: farmers report, a coordinator sees each pool's figures in
their language; farmers are refused; nothing reported yet reads as such."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.formatting import format_date
from bot.models import HarvestReport, Village
from tests.conftest import COORDINATOR_ID, BotRunner
from tests.e2e.flows import WORDS, register_farmer, report_parchment
from tests.emulator import BotApiEmulator, UserChat

EXTRA = {
    "zh": {"moisture": "💧 含水量", "grade": "🏷 等级", "saved": "已保存"},
    "en": {"moisture": "💧 Moisture", "grade": "🏷 Grade", "saved": "is saved"},
}
EMPTY = {"zh": "还没有等待汇总出售的收成。", "en": "No harvest is waiting to be pooled yet."}
NOT_ALLOWED = {"zh": "抱歉，只有协调员可以这样做。", "en": "Sorry, only coordinators can do that."}
EXPECTED = {
    "zh": [
        "待售收成，按货池汇总（共 2 个）：",
        "Conggang · 带壳豆，水洗，A级 — 1,300 公斤，2 户农户（3 份上报），"
        "含水率 10.5–12%，最早 {date}",
        "Nankang · 带壳豆，水洗，未分级 — 100 公斤，1 户农户（1 份上报），"
        "未提供含水率，最早 {date}",
    ],
    "en": [
        "Harvest waiting to be sold, by pool (2):",
        "Conggang · Parchment, Washed, grade A — 1,300 kg from 2 farmers (3 reports), "
        "moisture 10.5–12%, oldest {date}",
        "Nankang · Parchment, Washed, ungraded — 100 kg from 1 farmer (1 report), "
        "no moisture given, oldest {date}",
    ],
}


async def _report(
    chat: UserChat, lang: str, quantity: str, moisture: str | None, grade: str | None
) -> None:
    """One confirmed parchment report, with the optional moisture and grade when given."""
    words, extra = WORDS[lang], EXTRA[lang]
    await report_parchment(chat, quantity, lang=lang)
    if moisture is not None:
        await chat.press(extra["moisture"])
        await chat.receive()
        await chat.send(moisture)
        await chat.receive_until(lambda m: words["confirm"] in m.buttons)
    if grade is not None:
        await chat.press(extra["grade"])
        await chat.receive()
        await chat.press(grade)
        await chat.receive_until(lambda m: words["confirm"] in m.buttons)
    await chat.press(words["confirm"])
    await chat.receive_until(lambda m: extra["saved"] in m.text)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_coordinator_sees_each_pool_and_farmers_are_refused(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
    lang: str,
) -> None:
    coordinator = emulator.user(COORDINATOR_ID, language_code=lang)
    await coordinator.send("/pools")
    assert (await coordinator.receive()).text == EMPTY[lang], coordinator.transcript()

    first = emulator.user(301, language_code=lang)
    await register_farmer(first, lang, name="Li", village="Conggang")
    await _report(first, lang, "1200斤", "12", "A")  # 600 kg
    await _report(first, lang, "50 kg", None, "A")
    second = emulator.user(302, language_code=lang)
    await register_farmer(second, lang, name="Wang", village="Conggang")
    await _report(second, lang, "650 kg", "10.5%", "A")
    third = emulator.user(303, language_code=lang)
    await register_farmer(third, lang, name="Zhao", village="Nankang")
    await _report(third, lang, "100 kg", None, None)

    await third.send("/pools")
    assert (await third.receive()).text == NOT_ALLOWED[lang], third.transcript()

    await coordinator.send("/pools")
    shown = await coordinator.receive()
    await running_bot.idle(coordinator, third)
    rows = await session.execute(
        select(Village.name, func.min(HarvestReport.created_at))
        .join(Village, Village.id == HarvestReport.village_id)
        .group_by(Village.name)
    )
    oldest = {name: at for name, at in rows.all()}
    await session.commit()
    tz = running_bot.settings.tz
    heading, conggang, nankang = EXPECTED[lang]
    assert shown.text == "\n\n".join(
        [
            heading,
            conggang.format(date=format_date(oldest["Conggang"], lang, tz)),
            nankang.format(date=format_date(oldest["Nankang"], lang, tz)),
        ]
    ), coordinator.transcript()
