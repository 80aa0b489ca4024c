"""Coordinators run auctions through the emulator: open lots on a pool (whole and sliced) with
buttons or typed answers, every bad answer refused with its reason, a pool that changed under
the summary shown again; /auctions with bids, closing early (sold, unsold), cancelling; the
seller's acceptance by button, a second answer refused, and the deadline passing; everyone
else refused. Farmers, merchants and coordinators get the notices of each outcome."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.formatting import format_price, format_quantity, format_schedule
from bot.models import (
    CoordinatorVia,
    Grade,
    HarvestReport,
    Lot,
    LotStatus,
    Process,
    Product,
    ReportStatus,
    User,
    Village,
    utcnow,
)
from bot.services import bids, harvests, lots, users
from bot.services.access import OPERATOR
from bot.services.bids import Placed
from bot.services.coordination import approve_merchant, make_coordinator
from bot.services.harvests import HarvestDraft
from bot.services.pools import PoolKey
from handlers.callbacks import AuctionCb, LotCb, PoolCb, SaleCb
from tests.conditions import eventually, outbox_drained
from tests.conftest import COORDINATOR_ID, BotRunner
from tests.e2e.flows import WORDS, Tr, translator
from tests.emulator import BotApiEmulator, BotMessage, UserChat

LANGS = pytest.mark.parametrize("lang", ["zh", "en"])
NOT_ALLOWED = "Sorry, only coordinators can do that."
EMULATOR: list[BotApiEmulator] = []


@pytest.fixture(autouse=True)
def _chats(emulator: BotApiEmulator) -> Iterator[None]:
    """The test's emulator, for the helpers that open the chats of people made in the database."""
    EMULATOR[:] = [emulator]
    yield
    EMULATOR.clear()


# --- Setting the scene in the database -----------------------------------------------------


async def farmer(
    session: AsyncSession, village: Village, tid: int, name: str, kg: Sequence[int], lang: str
) -> User:
    """A registered farmer with confirmed parchment reports (washed, grade AA), oldest first
    in the order given; their chat is open (EMULATOR) so notices reach them."""
    EMULATOR[0].user(tid, language_code=lang)
    user = await users.ensure_user(session, tid)
    await users.set_language(session, user, lang)
    await users.register_farmer(
        session, user, name=name, phone="13800000000", village_id=village.id
    )
    start = utcnow() - timedelta(days=10)
    for index, amount in enumerate(kg):
        draft = HarvestDraft(
            product="parchment",
            process="washed",
            variety="catimor",
            quantity_g=amount * 1000,
            grade="AA",
        )
        report = await harvests.submit_report(session, user, draft)
        report.created_at = start + timedelta(minutes=tid * 10 + index)
    await session.flush()
    return user


async def merchant(session: AsyncSession, tid: int, company: str, lang: str = "en") -> User:
    EMULATOR[0].user(tid, language_code=lang)
    user = await users.ensure_user(session, tid)
    await users.set_language(session, user, lang)
    await users.register_merchant(session, user, company=company, contact="13900000000")
    user.name = f"Buyer {tid}"
    await approve_merchant(session, OPERATOR, user.id)
    return user


async def coordinator_chat(emulator: BotApiEmulator, lang: str) -> UserChat:
    """The configured coordinator's first /start: language, then the greeting and menu."""
    chat = emulator.user(COORDINATOR_ID, language_code=lang)
    await chat.send("/start")
    await chat.receive_until(lambda m: bool(m.buttons))
    await chat.press(WORDS[lang]["language"])
    await chat.receive_until(lambda m: m.reply_keyboard is not None)
    return chat


def key(village: Village) -> PoolKey:
    return PoolKey(village.id, Product.PARCHMENT, Process.WASHED, Grade.AA)


def pool_cb(village: Village) -> str:
    return PoolCb(village_id=village.id, product="parchment", process="washed", grade="AA").pack()


def auc(action: str, value: str = "") -> str:
    return AuctionCb(action=action, value=value).pack()


async def stored_lots(session: AsyncSession) -> list[Lot]:
    session.expire_all()
    rows = list(await session.scalars(select(Lot).order_by(Lot.id)))
    session.expunge_all()  # read as they are now, kept readable after the commit
    await session.commit()
    return rows


async def report_statuses(session: AsyncSession, village: Village) -> set[ReportStatus]:
    session.expire_all()
    rows = set(
        await session.scalars(
            select(HarvestReport.status).where(HarvestReport.village_id == village.id)
        )
    )
    await session.commit()
    return rows


def kg(grams: int, lang: str, t: Tr) -> str:
    return format_quantity(grams, lang, t)


async def press_and_read(chat: UserChat, data: str, what: str = "") -> BotMessage:
    """Press a button by its callback data and return the next message with buttons."""
    await chat.press(callback_data=data)
    return await chat.receive_until(lambda m: bool(m.inline_keyboard) and what in m.text)


async def from_pools(chat: UserChat, village: Village) -> BotMessage:
    """/pools, then the village's 🔨 button: the lot size question."""
    await chat.send("/pools")
    await chat.receive_until(lambda m: bool(m.inline_keyboard))
    return await press_and_read(chat, pool_cb(village))


# --- Opening ------------------------------------------------------------------------------------


@LANGS
async def test_a_coordinator_opens_a_whole_pool_and_sliced_lots_with_buttons(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
    lang: str,
) -> None:
    t = translator(running_bot, lang)
    conggang, nankang = villages
    await farmer(session, conggang, 301, "Li", [600], lang)
    await farmer(session, conggang, 302, "Wang", [700], lang)
    # Nankang, oldest first: Zhao 400, Sun 800, Zhao 500: 1 t lots are [Zhao, Sun], [Zhao].
    await farmer(session, nankang, 303, "Zhao", [400], lang)
    await farmer(session, nankang, 304, "Sun", [800], lang)
    zhao = await users.ensure_user(session, 303)
    draft = HarvestDraft(
        product="parchment", process="washed", variety="catimor", quantity_g=500_000, grade="AA"
    )
    await harvests.submit_report(session, zhao, draft)
    await session.commit()
    coordinator = await coordinator_chat(emulator, lang)

    await coordinator.send("/pools")
    pools = pools_first = await coordinator.receive()
    assert len(pools.inline_keyboard) == 2, coordinator.transcript()
    assert all(b.text.startswith("🔨") for row in pools.inline_keyboard for b in row)
    assert "Conggang" in pools.inline_keyboard[0][0].text

    # The whole Conggang pool, with the configured defaults.
    size = await press_and_read(coordinator, pool_cb(conggang))
    assert t("Whole pool ({kg})").format(kg=kg(1_300_000, lang, t)) in size.buttons
    assert t("Lots of {kg}").format(kg=kg(1_000_000, lang, t)) in size.buttons
    assert t("Lots of {kg}").format(kg=kg(5_000_000, lang, t)) not in size.buttons  # > pool
    reserve = await press_and_read(coordinator, auc("size", "all"))
    assert format_price(2200, lang, t) in reserve.buttons
    await press_and_read(coordinator, auc("reserve", "2200"))
    closes = await press_and_read(coordinator, auc("increment", "20"))
    assert t("In {hours} h").format(hours=24) in closes.buttons
    await press_and_read(coordinator, auc("hours", "24"))
    summary = await press_and_read(coordinator, auc("accept", "auto"), "Wang")
    text = summary.text
    assert "Li" in text and "Wang" in text, coordinator.transcript()
    assert t("Reserve price: {price}").format(price=format_price(2200, lang, t)) in text
    assert t("Minimum increment: {price}").format(price=format_price(20, lang, t)) in text
    assert t("After the close: {what}").format(what=t("sold at once to the best bid")) in text
    await coordinator.press(callback_data=auc("confirm"))
    opened = await coordinator.receive_until(
        lambda m: t("/auctions shows them with their bids.") in m.text
    )
    (lot,) = await stored_lots(session)
    assert lot.grams == 1_300_000 and lot.farmers == 2 and lot.reserve_fen == 2200
    assert lot.increment_fen == 20 and not lot.confirm_before_sale
    assert t("Lot #{id}").format(id=lot.id) in opened.text
    assert format_schedule(lot.closes_at, lang, running_bot.settings.tz) in opened.text
    delta = lot.closes_at - utcnow()
    assert timedelta(hours=23, minutes=50) < delta <= timedelta(hours=24)

    # Farmers are told, in their language.
    li_chat = emulator.user(301, language_code=lang)
    told = await li_chat.receive_until(lambda m: m.text.startswith("🔨"), timeout=10)
    assert t("Lot #{id}").format(id=lot.id) in told.text
    assert kg(600_000, lang, t) in told.text

    # Nankang in 1 t lots: the summary says who is in which lot.
    await coordinator.send("/pools")
    pools = await coordinator.receive()
    assert len(pools.inline_keyboard) == 1 and "Nankang" in pools.inline_keyboard[0][0].text
    await press_and_read(coordinator, pool_cb(nankang))
    await press_and_read(coordinator, auc("size", "1000"))
    await press_and_read(coordinator, auc("reserve", "2200"))
    await press_and_read(coordinator, auc("increment", "10"))
    await press_and_read(coordinator, auc("hours", "48"))
    summary = await press_and_read(coordinator, auc("accept", "confirm"), "Sun")
    blocks = summary.text.split("\n\n")
    first = next(b for b in blocks if "Sun" in b)
    second = blocks[blocks.index(first) + 1]
    assert "Zhao" in first and kg(1_200_000, lang, t) in first, summary.text
    assert "Zhao" in second and "Sun" not in second and kg(500_000, lang, t) in second
    assert t("a coordinator confirms every sale before it is made") in summary.text
    await coordinator.press(callback_data=auc("confirm"))
    await coordinator.receive_until(lambda m: t("/auctions shows them with their bids.") in m.text)
    opened_lots = await stored_lots(session)
    assert [x.grams for x in opened_lots[1:]] == [1_200_000, 500_000]
    assert all(x.confirm_before_sale for x in opened_lots[1:])
    assert await report_statuses(session, nankang) == {ReportStatus.POOLED}
    sun = emulator.user(304, language_code=lang)
    told = await sun.receive_until(lambda m: m.text.startswith("🔨"), timeout=10)
    assert t("Lot #{id}").format(id=opened_lots[1].id) in told.text

    await coordinator.send("/pools")
    assert (await coordinator.receive()).text == t("No harvest is waiting to be pooled yet.")
    # The first /pools message's button, pressed again: that pool is in lots now.
    await coordinator.press(callback_data=pool_cb(conggang), message=pools_first)
    assert (await coordinator.receive()).text == t(
        "This pool is empty now: its reports were withdrawn or went into another lot. "
        "Send /pools to see what is waiting."
    )


async def test_typed_answers_and_every_bad_one_are_answered(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
) -> None:
    t = translator(running_bot, "en")
    conggang = villages[0]
    await farmer(session, conggang, 301, "Li", [600, 900], "en")
    await farmer(session, conggang, 302, "Wang", [700], "en")
    await session.commit()
    coordinator = await coordinator_chat(emulator, "en")
    size_question = "How should it be sold"
    await from_pools(coordinator, conggang)

    async def answer(text: str, reply: str, then: str) -> None:
        await coordinator.send(text)
        got = await coordinator.receive()
        assert got.text == reply, coordinator.transcript()
        asked = await coordinator.receive()
        assert then in asked.text, coordinator.transcript()

    await answer("lots", t("I could not read a number there."), size_question)
    await answer("0 kg", t("The quantity cannot be zero."), size_question)
    await answer("5", t("Please add a unit: kg, 公斤, 斤 or 吨."), size_question)
    await answer(
        "200 t", t("That is more than 100 tonnes: please check the number and unit."), size_question
    )
    await coordinator.send("1 t")
    reserve_q = "Reserve price per kg"
    await coordinator.receive_until(lambda m: reserve_q in m.text)

    price_errors = [
        ("cheap", "I could not read a price there. Please type it like 22.5."),
        ("0", "The price cannot be zero."),
        ("-5", "The price cannot be negative."),
        ("1500", "That is more than ¥1,000 per kg: please check the number (per kg, in yuan)."),
        ("22.555", "Please give the price to the fen, like 22.55."),
        (
            "22 yuan/jin",
            "Prices here are per kilogram, not per jin. Please type the price per kg, like 22.5.",
        ),
        (
            "22 potatoes",
            "I did not understand the unit. Please type yuan per kg, like 22.5 or ¥22.5/kg.",
        ),
    ]
    for typed, reply in price_errors:
        await answer(typed, t(reply) if "per jin" not in reply else reply, reserve_q)
    # A decimal comma: both readings offered; the coordinator taps one.
    await coordinator.send("22,5")
    readings = await coordinator.receive()
    assert readings.text == t(
        "Did you mean {first} or {second}? Tap one, or type it with a dot."
    ).format(first=format_price(2250, "en", t), second=format_price(22500, "en", t))
    await coordinator.press(format_price(2250, "en", t))
    increment_q = "Minimum increment"
    await coordinator.receive_until(lambda m: increment_q in m.text)
    await answer(
        "30",
        t(
            "The minimum increment must be more than zero and not more than the reserve price. "
            "Please choose another one."
        ),
        increment_q,
    )
    await coordinator.send("¥0.3")
    closes_q = "When should bidding close?"
    await coordinator.receive_until(lambda m: closes_q in m.text)
    await answer(
        "tomorrow",
        t("I could not read that date and time. Please write it like 2026-12-01 09:00."),
        closes_q,
    )
    await answer(
        "2020-01-01 10:00",
        t("That time has already passed. Please choose a later one."),
        closes_q,
    )
    tz = running_bot.settings.tz
    when = (
        (utcnow() + timedelta(days=3))
        .astimezone(tz)
        .replace(hour=18, minute=0, second=0, microsecond=0)
    )
    await coordinator.send(when.strftime("%Y-%m-%d %H:%M"))
    await coordinator.receive_until(lambda m: "is the best bid sold at once" in m.text)
    await coordinator.press(callback_data=auc("accept", "below"))
    below_q = "Below which price per kg"
    await coordinator.receive_until(lambda m: below_q in m.text)
    await answer("nothing", t("I could not read a price there. Please type it like 22.5."), below_q)
    await coordinator.send("25")
    summary = await coordinator.receive_until(lambda m: bool(m.inline_keyboard))
    assert "Bidding closes: " + format_schedule(when, "en", tz) in summary.text
    assert "Reserve price: " + format_price(2250, "en", t) in summary.text
    assert "Minimum increment: " + format_price(30, "en", t) in summary.text
    assert (
        "After the close: a coordinator confirms the sale if the best bid is below "
        + format_price(2500, "en", t)
    ) in summary.text
    assert summary.text.count("New lot ") == 2  # 1 t lots of 1.5 t and 0.7 t... as planned

    # A farmer reports more to the pool before the coordinator confirms: shown again.
    wang = await users.ensure_user(session, 302)
    draft = HarvestDraft(
        product="parchment", process="washed", variety="catimor", quantity_g=50_000, grade="AA"
    )
    await harvests.submit_report(session, wang, draft)
    await session.commit()
    await coordinator.press(callback_data=auc("confirm"))
    changed = await coordinator.receive()
    assert changed.text == t(
        "The pool changed since you looked (a report was added, withdrawn or put in another "
        "lot), so nothing was opened. Here is the new plan: please check it again."
    ), coordinator.transcript()
    again = await coordinator.receive_until(lambda m: bool(m.inline_keyboard))
    assert format_quantity(50_000, "en", t) in again.text
    assert await stored_lots(session) == []
    await coordinator.press(callback_data=auc("confirm"))
    await coordinator.receive_until(lambda m: "/auctions shows them" in m.text)
    opened = await stored_lots(session)
    assert sum(x.grams for x in opened) == 2_250_000
    assert {(x.reserve_fen, x.increment_fen, x.accept_below_fen) for x in opened} == {
        (2250, 30, 2500)
    }
    assert {x.closes_at for x in opened} == {when}

    # /cancel leaves the dialogue; the pool's button is pressed again from /pools.
    await farmer(session, conggang, 305, "Zhou", [300], "en")
    await session.commit()
    await from_pools(coordinator, conggang)
    await coordinator.send("/cancel")
    assert "Cancelled" in (await coordinator.receive()).text
    await coordinator.send("2 t")
    assert "did not understand" in (await coordinator.receive()).text
    # The closing time passes while the summary waits: asked again, nothing opened.
    await from_pools(coordinator, conggang)
    await press_and_read(coordinator, auc("size", "all"))
    await press_and_read(coordinator, auc("reserve", "2200"))
    await press_and_read(coordinator, auc("increment", "10"))
    await press_and_read(coordinator, auc("hours", "24"))
    await press_and_read(coordinator, auc("accept", "auto"), "Zhou")
    assert running_bot.app is not None
    dp, bot = running_bot.app.dp, running_bot.app.bot
    dialogue = StorageKey(bot_id=bot.id, chat_id=COORDINATOR_ID, user_id=COORDINATOR_ID)
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    await dp.storage.update_data(dialogue, {"closes_at": past})
    await coordinator.press(callback_data=auc("confirm"))
    refused = await coordinator.receive()
    assert refused.text == t("That closing time has already passed. Please choose a later one.")
    assert closes_q in (await coordinator.receive()).text
    assert len(await stored_lots(session)) == len(opened)
    # The Cancel button too.
    await coordinator.press(callback_data=auc("cancel"))
    assert (await coordinator.receive_until(lambda m: "No auction" in m.text)).text == t(
        "No auction was opened."
    )


# --- Running auctions -------------------------------------------------------------------------


async def fresh(session: AsyncSession, telegram_id: int) -> User:
    """The user as stored now, loaded in this session (objects expire at each commit)."""
    user = await session.scalar(
        select(User)
        .where(User.telegram_id == telegram_id)
        .execution_options(populate_existing=True)
    )
    assert user is not None
    return user


async def open_lot(session: AsyncSession, village: Village, **terms: object) -> int:
    """An auction on the village's whole pool, opened in the database; its lot id."""
    base: dict[str, object] = {
        "reserve_fen": 2000,
        "increment_fen": 10,
        "closes_at": utcnow() + timedelta(days=1),
    }
    base.update(terms)
    coord = await fresh(session, COORDINATOR_ID)
    (lot,) = await lots.open_lots(session, coord, key(village), None, lots.Terms(**base))  # type: ignore[arg-type]
    lot_id = lot.id
    await session.commit()
    return lot_id


async def bid(session: AsyncSession, merchant: int, lot: int, fen: int) -> None:
    """A merchant's bid (by Telegram id), placed in the database: the bidding UI is not ours."""
    result = await bids.place_bid(
        session, await fresh(session, merchant), lot, confirmed=True, price_fen=fen
    )
    assert isinstance(result, Placed), result
    await session.commit()


async def test_close_early_sold_and_unsold_and_cancel(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
) -> None:
    t = translator(running_bot, "en")
    conggang, nankang = villages
    coordinator = await coordinator_chat(emulator, "en")
    await farmer(session, conggang, 301, "Li", [600], "en")
    await farmer(session, nankang, 303, "Zhao", [400], "en")
    await merchant(session, 501, "Tea & Co")
    await merchant(session, 502, "Yunnan Beans")
    await session.commit()
    sold = await open_lot(session, conggang)
    unsold = await open_lot(session, nankang)
    await bid(session, 501, sold, 2000)
    await bid(session, 502, sold, 2100)
    await outbox_drained(session)

    await coordinator.send("/auctions")
    heading = await coordinator.receive()
    assert heading.text == "Open auctions and sales waiting for acceptance: 2"
    cards = [await coordinator.receive(), await coordinator.receive()]
    card = next(c for c in cards if f"Lot #{sold}" in c.text)
    assert (
        "Leading: " + format_price(2100, "en", t) + " by Buyer 502 (Yunnan Beans) · 2 bids"
        in card.text
    )
    assert ["📋 Bids", "⏹ Close now", "✖ Cancel auction"] == card.buttons

    await coordinator.press("📋 Bids", message=card)
    listed = await coordinator.receive()
    lines = listed.text.split("\n")
    assert lines[0] == f"Bids on Lot #{sold} (2), oldest first:"
    assert "Buyer 501 (Tea & Co): bid " + format_price(2000, "en", t) in lines[1]
    assert "→ leading " + format_price(2100, "en", t) + ", Buyer 502 (Yunnan Beans)" in lines[2]

    # Close early: a confirmation first, then sold to the leader.
    await coordinator.press("⏹ Close now", message=card)
    await coordinator.wait_for(lambda c: "Close Lot #" in card.text)
    assert card.buttons == ["⏹ Yes, close it now", "◀ Back"]
    await coordinator.press("◀ Back", message=card)
    await coordinator.wait_for(
        lambda c: card.buttons == ["📋 Bids", "⏹ Close now", "✖ Cancel auction"]
    )
    await coordinator.press("⏹ Close now", message=card)
    await coordinator.wait_for(lambda c: "⏹ Yes, close it now" in card.buttons)
    await coordinator.press("⏹ Yes, close it now", message=card)
    await coordinator.wait_for(lambda c: "is sold to" in card.text)
    assert card.buttons == ["📦 Collection"]  # a sold lot is collected next (/collect)
    assert f"✅ Lot #{sold} is sold to Buyer 502 (Yunnan Beans) at " in card.text
    won = await emulator.user(502).receive_until(lambda m: m.text.startswith("🏆"), timeout=10)
    assert f"Lot #{sold}" in won.text
    await emulator.user(501).receive_until(
        lambda m: "was sold to another merchant" in m.text, timeout=10
    )
    await emulator.user(301).receive_until(lambda m: m.text.startswith("✅ Sold!"), timeout=10)
    assert await report_statuses(session, conggang) == {ReportStatus.SOLD}

    # Pressing the old confirmation again: the lot is over.
    await coordinator.press(
        callback_data=LotCb(action="close_yes", lot_id=sold).pack(), message=card, force=True
    )
    answer = await coordinator.wait_callback_answer()
    assert answer["text"] == "This auction is over already: sold." and answer["show_alert"]

    # No bid: closing early ends it unsold, the farmer is told, the pool is back.
    other = next(c for c in cards if f"Lot #{unsold}" in c.text)
    assert "No bid yet." in other.text
    await coordinator.press("⏹ Close now", message=other)
    await coordinator.wait_for(lambda c: "It has no bid" in other.text)
    await coordinator.press("⏹ Yes, close it now", message=other)
    await coordinator.wait_for(lambda c: "closed without a valid bid" in other.text)
    await emulator.user(303).receive_until(lambda m: "was not sold this time" in m.text, timeout=10)
    assert await report_statuses(session, nankang) == {ReportStatus.SUBMITTED}

    # Cancel: bids void, farmers told, the pool is back and /pools shows it.
    again = await open_lot(session, nankang)
    await bid(session, 501, again, 2500)
    await coordinator.send("/auctions")
    await coordinator.receive()
    card = await coordinator.receive()
    assert f"Lot #{again}" in card.text
    await coordinator.press("✖ Cancel auction", message=card)
    await coordinator.wait_for(lambda c: "Cancel the auction of" in card.text)
    await coordinator.press("✖ Yes, cancel the auction", message=card)
    await coordinator.wait_for(lambda c: "is cancelled" in card.text)
    await emulator.user(303).receive_until(
        lambda m: "was cancelled by the cooperative" in m.text, timeout=10
    )
    await emulator.user(501).receive_until(
        lambda m: "your bids on it no longer count" in m.text, timeout=10
    )
    assert await report_statuses(session, nankang) == {ReportStatus.SUBMITTED}
    await coordinator.send("/pools")
    pools = await coordinator.receive()
    assert "Nankang" in pools.text and len(pools.inline_keyboard) == 1
    await coordinator.send("/auctions")
    assert (await coordinator.receive()).text == t(
        "No auction is open and no sale waits for acceptance. /pools shows what to sell."
    )

    # The audit log names each action.
    await coordinator.send("/audit")
    log = (await coordinator.receive()).text
    for action in (
        f"cancelled the auction of Lot #{again}",
        f"closed the auction of Lot #{unsold} early",
        f"closed the auction of Lot #{sold} early",
        f"opened the auction of Lot #{sold} (600 kg, reserve " + format_price(2000, "en", t) + ")",
    ):
        assert action in log, log


@LANGS
async def test_the_seller_accepts_or_rejects_by_button_once_and_a_deadline_rejects(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
    lang: str,
) -> None:
    t = translator(running_bot, lang)
    conggang, nankang = villages
    coordinator = await coordinator_chat(emulator, lang)
    second = emulator.user(9001, language_code=lang)  # made a coordinator in the database
    other = await users.ensure_user(session, 9001)
    await users.set_language(session, other, lang)
    await make_coordinator(session, other, OPERATOR, CoordinatorVia.CHAT)
    await farmer(session, conggang, 301, "Li", [600], lang)
    await farmer(session, nankang, 303, "Zhao", [400], lang)
    await merchant(session, 501, "Tea & Co", lang)
    await session.commit()

    accepted = await open_lot(session, conggang, confirm_before_sale=True)
    await bid(session, 501, accepted, 2300)
    await lots.close_early(
        session, await fresh(session, COORDINATOR_ID), accepted, timedelta(hours=24)
    )
    await session.commit()
    lot_name = t("Lot #{id}").format(id=accepted)

    def needed(m: BotMessage) -> bool:
        return m.text.startswith("🔔") and lot_name in m.text

    notice = await coordinator.receive_until(needed, timeout=10)
    theirs = await second.receive_until(needed, timeout=10)
    assert notice.buttons == [t("✅ Accept the sale"), t("✖ Reject")]
    await coordinator.press(t("✅ Accept the sale"), message=notice)
    await coordinator.wait_for(lambda c: notice.buttons == [t("📦 Collection")])
    sold = t(
        "✅ {lot} is sold to {who} at {price}. The buyer, the other bidders and the "
        "farmers are told."
    ).format(
        lot=lot_name,
        who=t("{name} ({company})").format(name="Buyer 501", company="Tea & Co"),
        price=format_price(2300, lang, t),
    )
    assert notice.text.endswith(sold), coordinator.transcript()
    await emulator.user(501).receive_until(lambda m: m.text.startswith("🏆"), timeout=10)
    await emulator.user(301).receive_until(
        lambda m: m.text.startswith(t("✅ Sold!")[:2]), timeout=10
    )

    # The other coordinator answers too late; the first one presses again (a forged press).
    decided = t("This sale was decided already: {status}.").format(status=t("sold"))
    await second.press(t("✖ Reject"), message=theirs)
    answer = await second.wait_callback_answer()
    assert answer["text"] == decided and answer["show_alert"]
    await second.wait_for(lambda c: theirs.text.endswith(decided))
    assert theirs.buttons == []
    await coordinator.press(
        callback_data=SaleCb(lot_id=accepted, accept=True).pack(), message=notice, force=True
    )
    assert (await coordinator.wait_callback_answer())["text"] == decided

    # Rejected by button from /auctions: back to the pool, everyone told.
    rejected = await open_lot(session, nankang, accept_below_fen=3000)
    await bid(session, 501, rejected, 2400)
    await lots.close_early(
        session, await fresh(session, COORDINATOR_ID), rejected, timedelta(hours=24)
    )
    await session.commit()
    await coordinator.send("/auctions")
    await coordinator.receive_until(
        lambda m: bool(m.inline_keyboard) and t("Lot #{id}").format(id=rejected) in m.text
    )
    card = coordinator.last
    assert card is not None
    assert card.buttons == [t("✅ Accept"), t("✖ Reject"), t("📋 Bids")]
    await coordinator.press(t("✖ Reject"), message=card)
    await emulator.user(303).receive_until(
        lambda m: t("Lot #{id}").format(id=rejected) in m.text and "🔨" not in m.text,
        timeout=10,
    )
    await emulator.user(501).receive_until(
        lambda m: (
            t("Lot #{id}").format(id=rejected) in m.text
            and format_price(2400, lang, t) in m.text
            and not m.text.startswith("🏆")
        ),
        timeout=10,
    )
    assert await report_statuses(session, nankang) == {ReportStatus.SUBMITTED}

    # Nobody answers in time: the scheduler rejects it and tells the coordinators.
    late = await open_lot(session, nankang, confirm_before_sale=True)
    await bid(session, 501, late, 2100)
    await lots.close_early(session, await fresh(session, COORDINATOR_ID), late, timedelta(hours=24))
    await session.execute(
        update(Lot).where(Lot.id == late).values(acceptance_due_at=utcnow() - timedelta(minutes=1))
    )
    await session.commit()
    assert running_bot.app is not None
    done = await running_bot.app.scheduler.run_auctions()
    assert done["expired"] == 1
    late_name = t("Lot #{id}").format(id=late)
    await coordinator.receive_until(
        lambda m: m.text.startswith("⌛") and late_name in m.text, timeout=10
    )
    await second.receive_until(
        lambda m: m.text.startswith("⌛") and late_name in m.text, timeout=10
    )

    async def back() -> bool:
        return await report_statuses(session, nankang) == {ReportStatus.SUBMITTED}

    await eventually(back, "the late lot's reports back in the pool")
    stored = {x.id: x.status for x in await stored_lots(session)}
    assert stored == {
        accepted: LotStatus.SOLD,
        rejected: LotStatus.REJECTED,
        late: LotStatus.REJECTED,
    }
    await coordinator.send("/audit")
    log = (await coordinator.receive()).text
    price = format_price(2100, lang, t)
    timed_out = t("rejected the sale of {lot} at {price}: nobody answered in time")
    assert timed_out.format(lot=late_name, price=price) in log, log
    assert t("the bot (a deadline passed)") in log, log
    assert (
        t("accepted the sale of {lot} at {price}").format(
            lot=lot_name, price=format_price(2300, lang, t)
        )
        in log
    ), log


async def test_everyone_else_is_refused(
    emulator: BotApiEmulator,
    running_bot: BotRunner,
    villages: list[Village],
    session: AsyncSession,
) -> None:
    conggang = villages[0]
    coordinator = await coordinator_chat(emulator, "en")
    await farmer(session, conggang, 301, "Li", [600], "en")
    await merchant(session, 501, "Tea & Co")
    await session.commit()
    lot = await open_lot(session, conggang, confirm_before_sale=True)
    await bid(session, 501, lot, 2300)
    await outbox_drained(session)

    for tid in (301, 501):
        chat = emulator.user(tid, language_code="en")
        await chat.send("/auctions")
        assert (await chat.receive_until(lambda m: NOT_ALLOWED in m.text)).text == NOT_ALLOWED
        forged = [
            SaleCb(lot_id=lot, accept=True).pack(),
            LotCb(action="close_yes", lot_id=lot).pack(),
            LotCb(action="cancel_yes", lot_id=lot).pack(),
            LotCb(action="bids", lot_id=lot).pack(),
            pool_cb(conggang),
            auc("confirm"),
        ]
        for data in forged:
            await chat.press(callback_data=data, message=0, force=True)
            answer = await chat.wait_callback_answer()
            assert answer["text"] == NOT_ALLOWED and answer["show_alert"], data
    (stored,) = await stored_lots(session)
    assert stored.status == LotStatus.OPEN and stored.bids == 1

    # A coordinator's forged button for a lot that does not exist is refused as such.
    await coordinator.press(
        callback_data=LotCb(action="close_yes", lot_id=9999).pack(), message=0, force=True
    )
    assert (await coordinator.wait_callback_answer())[
        "text"
    ] == "That lot was not found. Send /lots to see the lots open now."
