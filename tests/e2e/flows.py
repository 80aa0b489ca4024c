"""Conversations reused by several end-to-end tests, written as a user would tap and type, and
the people and lots a test starts from, written straight into the tables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import MerchantStatus, User, Village, utcnow
from bot.services import harvests, lots, users
from bot.services.harvests import HarvestDraft
from bot.services.pools import PoolKey
from tests.conditions import outbox_drained
from tests.emulator import BotMessage, UserChat

if TYPE_CHECKING:
    from tests.conftest import BotRunner

Tr = Callable[[str], str]
NOTICE_WAIT = 20  # notices to one chat leave a second apart (NOTICE_CHAT_INTERVAL)


def translator(runner: BotRunner, lang: str) -> Tr:
    """The running bot's own translation, to compare what a user sees with the catalogs."""
    assert runner.app is not None
    i18n = runner.app.i18n
    return lambda msgid: i18n.gettext(msgid, locale=lang)


async def stored_user(session: AsyncSession, telegram_id: int) -> User:
    """The user as the bot committed them (read afresh, transaction ended)."""
    session.expire_all()
    user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
    await session.commit()
    assert user is not None
    return user


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
    "digest_yes": "✅ 要",
    "digest_no": "不要",
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
    "digest_yes": "✅ Yes",
    "digest_no": "No",
}
WORDS = {"zh": ZH, "en": EN}


async def register_farmer(
    chat: UserChat,
    lang: str = "zh",
    name: str = "李伟",
    village: str = "Conggang",
    digest: bool = True,
) -> BotMessage:
    """/start to the welcome with the main menu (`digest`: the answer to the daily prices
    question); returns the welcome message."""
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
    await answer_digest(chat, lang, digest)
    return await chat.receive_until(lambda m: m.reply_keyboard is not None)


DIGEST_QUESTION = "Do you want today's coffee prices every morning?"


async def answer_digest(chat: UserChat, lang: str = "zh", want: bool = True) -> None:
    """Registration's last question: today's prices every morning, yes or no."""
    w = WORDS[lang]
    asked = await chat.receive_until(lambda m: w["digest_yes"] in m.buttons)
    assert asked.buttons[:2] == [w["digest_yes"], w["digest_no"]]  # yes first: the default
    await chat.press(w["digest_yes"] if want else w["digest_no"])


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


async def seed_farmer(
    session: AsyncSession,
    village: Village,
    tid: int,
    lang: str,
    kgs: list[int],
    product: str = "parchment",
    photo: str | None = None,
) -> User:
    """A farmer who registered earlier, with a report per quantity in ``kgs`` (washed AA
    Catimor, 11% moisture; cherry has neither process nor grade)."""
    user = await users.ensure_user(session, tid)
    await users.set_language(session, user, lang)
    await users.register_farmer(
        session, user, name=f"F{tid}", phone="13800000000", village_id=village.id
    )
    for kg in kgs:
        bean = product != "cherry"
        await harvests.submit_report(
            session,
            user,
            HarvestDraft(
                product=product,
                process="washed" if bean else None,
                variety="catimor",
                quantity_g=kg * 1000,
                grade="AA" if bean else None,
                moisture_tenths=110 if bean else None,
                photo_file_id=photo,
            ),
        )
    return user


async def seed_merchant(
    session: AsyncSession, tid: int, lang: str, status: MerchantStatus = MerchantStatus.APPROVED
) -> User:
    """A merchant who registered earlier, approved unless ``status`` says otherwise."""
    user = await users.ensure_user(session, tid)
    await users.set_language(session, user, lang)
    await users.register_merchant(session, user, company=f"Co{tid}", contact="13900000000")
    user.merchant_status = status
    return user


async def open_lots(
    session: AsyncSession,
    runner: BotRunner,
    key: PoolKey,
    closes_in: timedelta = timedelta(hours=2),
    target_kg: int | None = None,
) -> list[int]:
    """Open auctions as a coordinator would (reserve ¥20.00/kg, increment ¥0.10/kg)."""
    # Here, not at the top: bench/programme.py and `farmgate demo --seed` use this module
    # where pytest (which tests.conftest imports) is not installed.
    from tests.conftest import COORDINATOR_ID

    coordinator = await users.get_user(session, COORDINATOR_ID)
    assert coordinator is not None
    opened = await lots.open_lots(
        session,
        coordinator,
        key,
        target_kg * 1000 if target_kg else None,
        lots.Terms(
            reserve_fen=2000,
            increment_fen=10,
            closes_at=utcnow() + closes_in,
            extension=timedelta(minutes=3),
        ),
    )
    ids = [lot.id for lot in opened]
    await session.commit()
    assert runner.app is not None
    runner.app.notices.wake()
    await runner.app.scheduler.wake_auctions()
    # The new-lot notices are in every merchant's chat before anyone taps anything.
    await outbox_drained(session, timeout=NOTICE_WAIT)
    return ids
