"""/setprice through the emulator, in Chinese and English: product and grade buttons, every kind
of badly typed price answered with its reason and the question again, a decimal comma's two
readings as buttons, the confirmation showing the change from the last price, Cancel and
/cancel storing nothing; farmers, merchants and strangers are told it is for coordinators."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.formatting import format_change, format_money, format_price
from bot.models import AuditAction, AuditEntry, Grade, Price, Product, Village
from bot.services import prices, users
from bot.services.prices import Key
from tests.conftest import BotRunner
from tests.e2e.flows import WORDS, Tr, translator
from tests.e2e.test_auctions_coordinator import coordinator_chat
from tests.e2e.test_payouts import farmer_in_chat
from tests.emulator import BotApiEmulator, BotMessage, UserChat

LANGS = pytest.mark.parametrize("lang", ["zh", "en"])
GREEN_AA = Key(Product.GREEN, Grade.AA)
PRICE_QUESTION = "Type the new price per kg in yuan, like 9.6, 9.6元 or ¥9.6. /cancel stops."
NOT_ALLOWED = "Sorry, only coordinators can do that."


def _price(t: Tr, lang: str, fen: int) -> str:
    return format_price(fen, lang, t)


async def _to_price_question(chat: UserChat, t: Tr, lang: str) -> BotMessage:
    """/setprice, Green bean, AA (after a word that is no grade): the price question."""
    await chat.send("/setprice")
    asked = await chat.receive()
    assert asked.text == t("Which product is the reference price for?")
    assert asked.buttons == [t("Fresh cherry"), t("Parchment"), t("Green bean"), t("✖ Cancel")]
    await chat.press(t("Green bean"))
    grades = await chat.receive_until(lambda m: m.text == t("Which grade?"))
    assert grades.buttons == ["AA", "A", "AB", "PB", "C", t("ungraded"), t("✖ Cancel")]
    await chat.send("coffee")
    assert (await chat.receive()).text == t("Please tap one of the buttons below.")
    assert (await chat.receive()).text == t("Which grade?")
    await chat.press("AA")
    return await chat.receive_until(lambda m: t(PRICE_QUESTION) in m.text)


@LANGS
async def test_a_coordinator_sets_a_price_typed_any_way_and_sees_the_change(
    emulator: BotApiEmulator, running_bot: BotRunner, session: AsyncSession, lang: str
) -> None:
    t = translator(running_bot, lang)
    title = t("Green bean") + " · AA"
    chat = await coordinator_chat(emulator, lang)

    asked = await _to_price_question(chat, t, lang)
    assert t("{title} has no reference price yet.").format(title=title) in asked.text
    refusals = [
        ("abc", "I could not read a price there. Please type the price per kilogram in yuan, "
         "like 9.60 or 9.6元."),
        ("0", "A price cannot be zero."),
        ("-9.6", "A price cannot be negative."),
        ("9.6元/斤", "Prices here are per kilogram, not per jin. One kilogram is two jin, so a "
         "price per kilogram is twice the price per jin. Please type the price per kilogram."),
        ("9.6 kg", "Please type the price per kilogram in yuan, like 9.60, 9.6元 or 9.6元/公斤."),
        ("9.655", "Prices are in whole fen: at most two decimals, like 9.65."),
    ]  # fmt: skip
    for typed, reason in refusals:
        await chat.send(typed)
        assert (await chat.receive()).text == t(reason), chat.transcript()
        assert t(PRICE_QUESTION) in (await chat.receive()).text, chat.transcript()
    await chat.send("5000")
    assert (await chat.receive()).text == t(
        "That is more than {limit}: please check the number. Prices are per kilogram."
    ).format(limit=_price(t, lang, 100_000))
    assert t(PRICE_QUESTION) in (await chat.receive()).text
    # A decimal comma is never guessed: both readings are offered.
    await chat.send("9,6")
    readings = await chat.receive()
    assert readings.buttons == [_price(t, lang, 960), _price(t, lang, 9600), t("✖ Cancel")]
    await chat.press(_price(t, lang, 960))
    confirm = await chat.receive_until(lambda m: t("✅ Confirm") in m.buttons)
    assert confirm.text == "\n".join(
        [
            t("Set the reference price of {title}?").format(title=title),
            "",
            t("Now: {price}").format(price=t("none yet")),
            t("New: {price}").format(price=_price(t, lang, 960)),
        ]
    )
    await chat.press(t("✅ Confirm"))
    done = await chat.receive_until(lambda m: "✅" in m.text)
    assert done.text == t("✅ The reference price of {title} is now {price}.").format(
        title=title, price=_price(t, lang, 960)
    )

    # Again, in full-width digits with the yuan sign: the change from the last one is shown.
    asked = await _to_price_question(chat, t, lang)
    assert (
        t("The reference price of {title} is {price}.").format(
            title=title, price=_price(t, lang, 960)
        )
        in asked.text
    )
    await chat.send("¥１０．０８")
    confirm = await chat.receive_until(lambda m: t("✅ Confirm") in m.buttons)
    change = t("{money} ({percent})").format(
        money="+" + format_money(48, lang), percent=format_change(Decimal(5), lang)
    )
    assert t("Now: {price}").format(price=_price(t, lang, 960)) in confirm.text
    assert t("New: {price}").format(price=_price(t, lang, 1008)) in confirm.text
    assert t("Change: {change}").format(change=change) in confirm.text, confirm.text
    await chat.press(t("✅ Confirm"))
    done = await chat.receive_until(lambda m: "✅" in m.text)
    assert (
        t("It was {price}: {change}.").format(price=_price(t, lang, 960), change=change)
        in done.text
    )

    # Cancel at the confirmation, and /cancel at the price: nothing stored.
    await _to_price_question(chat, t, lang)
    await chat.send("12")
    await chat.receive_until(lambda m: t("✅ Confirm") in m.buttons)
    await chat.press(t("✖ Cancel"))
    assert (await chat.receive()).text == t("Cancelled. Nothing was saved.")
    await _to_price_question(chat, t, lang)
    await chat.send("/cancel")
    assert (await chat.receive()).text == t("Cancelled. Nothing was saved.")
    # Fresh cherry has no grade: the price question comes straight after the product.
    await chat.send("/setprice")
    await chat.receive()
    await chat.press(t("Fresh cherry"))
    asked = await chat.receive_until(lambda m: t(PRICE_QUESTION) in m.text)
    assert t("{title} has no reference price yet.").format(title=t("Fresh cherry")) in asked.text
    await chat.send("5.5元")
    await chat.receive_until(lambda m: t("✅ Confirm") in m.buttons)
    await chat.press(t("✅ Confirm"))
    await chat.receive_until(lambda m: "✅" in m.text)
    # The audit log names what was set.
    await chat.send("/audit")
    log = await chat.receive()
    assert (
        t("set the reference price of {what} to {price}").format(
            what=title, price=_price(t, lang, 1008)
        )
        in log.text
    ), log.text
    await running_bot.idle(chat)

    session.expire_all()
    current = await prices.reference(session, GREEN_AA)
    assert current is not None and (current.fen_per_kg, current.previous_fen) == (1008, 960)
    cherry = await prices.reference(session, Key(Product.CHERRY))
    assert cherry is not None and cherry.fen_per_kg == 550
    assert await session.scalar(select(func.count()).select_from(Price)) == 3
    audited = select(func.count()).where(AuditEntry.action == AuditAction.PRICE_SET)
    assert await session.scalar(audited) == 3
    await session.commit()


@LANGS
async def test_setprice_is_for_coordinators_only(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    session: AsyncSession,
    villages: list[Village],
    lang: str,
) -> None:
    t = translator(running_bot, lang)
    await farmer_in_chat(emulator, session, villages[0], 801, lang)
    merchant = await users.ensure_user(session, 802)
    await users.set_language(session, merchant, lang)
    await users.register_merchant(session, merchant, company="Co", contact="13900000000")
    await session.commit()
    for tid in (801, 802, 803):  # 803: a stranger who never registered
        chat = emulator.user(tid, language_code=lang)
        if tid == 803:
            await chat.send("/start")
            await chat.receive_until(lambda m: bool(m.buttons))
            await chat.press(WORDS[lang]["language"])
            await chat.receive_until(lambda m: bool(m.buttons))
        await chat.send("/setprice")
        assert (await chat.receive()).text == t(NOT_ALLOWED), chat.transcript()
        # A coordinator's button, forwarded or forged, is refused the same way.
        query = await chat.press(callback_data="pset:confirm:", message=0, force=True)
        answer = await chat.wait_callback_answer(query)
        assert (answer["text"], answer.get("show_alert")) == (t(NOT_ALLOWED), True)
        await running_bot.idle(chat)
    session.expire_all()
    assert await session.scalar(select(func.count()).select_from(Price)) == 0
    await session.commit()
