"""Coordinators run the market: open auctions on pools (/pools → 🔨), watch them (/auctions),
see every bid, close early, cancel, and accept or reject a sale that waits for them.

Opening is a short dialogue (lot size, reserve, increment, close, acceptance, summary); each
question takes a button or a typed answer, and bad input gets its reason and the question
again. The summary's plan is what opens: lots.open_lots compares it with the pool at confirm
time and refuses a changed pool, which is then shown again. Rules live in bot/services/lots.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiogram import F
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.auction import FEN_PER_YUAN, GRAMS_PER_KG, PriceProblem, PriceRejected, parse_price
from bot.config import Settings
from bot.formatting import schedule_example, zone_name
from bot.models import Grade, LotStatus, Process, Product, utcnow
from bot.quantity import QuantityRejected, parse_quantity
from bot.scheduler import Scheduler
from bot.services import lots, pools
from bot.services.broadcasts import parse_schedule_time
from bot.services.errors import DomainError
from bot.services.lots import CoordinatorLot
from bot.services.pools import Pool, PoolKey
from handlers import auction_texts as t
from handlers.access import CoordinatorOnly
from handlers.callbacks import AuctionCb, LotCb, PoolCb, SaleCb
from handlers.collection import collection_button
from handlers.prompts import AskFn, prompt
from handlers.routing import RouterRecipe
from handlers.states import Auctioning
from handlers.texts import (
    MENU_AUCTIONS,
    domain_problem,
    is_answer,
    is_menu,
    locale,
    quantity_problem,
)
from handlers.turn import Turn

router = RouterRecipe("auctions")
coordinator = CoordinatorOnly()

# One message per lot on /auctions; more than this at once floods the chat.
SHOWN_LOTS = 20


# --- The pool being auctioned ------------------------------------------------------------------


def pool_button(pool: Pool) -> PoolCb:
    k = pool.key
    return PoolCb(
        village_id=k.village_id,
        product=k.product.value,
        process=k.process.value if k.process else "",
        grade=k.grade.value if k.grade else "",
    )


def pool_markup(shown: list[Pool]) -> InlineKeyboardMarkup | None:
    """One "🔨 Auction" button per pool of a /pools message."""
    if not shown:
        return None
    builder = InlineKeyboardBuilder()
    for pool in shown:
        builder.button(text=t.pool_button(pool), callback_data=pool_button(pool))
    builder.adjust(1)
    return builder.as_markup()


def _key(data: dict[str, Any]) -> PoolKey:
    """The pool a button or the dialogue names; a forged name is an empty pool."""
    try:
        return PoolKey(
            int(data["village_id"]),
            Product(data["product"]),
            Process(data["process"]) if data.get("process") else None,
            Grade(data["grade"]) if data.get("grade") else None,
        )
    except (KeyError, ValueError, TypeError):
        raise DomainError("pool_empty") from None


async def _pool(turn: Turn) -> Pool | None:
    """The pool of the running dialogue as it is now; an emptied pool ends the dialogue (said
    here: a prompt may be asking again after another refusal)."""
    try:
        key = _key(await turn.data())
    except DomainError:
        key = None
    found = next((p for p in await pools.pools(turn.session) if p.key == key), None)
    if found is None:
        await turn.state.clear()
        await turn.say(domain_problem(DomainError("pool_empty")))
    return found


def _buttons(*rows: tuple[str, AuctionCb]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for text, data in rows:
        builder.button(text=text, callback_data=data)
    builder.button(text=_("✖ Cancel"), callback_data=AuctionCb(action="cancel"))
    builder.adjust(1)
    return builder.as_markup()


@router.callback_query(PoolCb.filter(), coordinator)
async def start(callback: CallbackQuery, callback_data: PoolCb, turn: Turn) -> None:
    await turn.state.set_state(Auctioning.size)
    await turn.state.set_data(
        {
            "village_id": callback_data.village_id,
            "product": callback_data.product,
            "process": callback_data.process,
            "grade": callback_data.grade,
        }
    )
    await ask_size(turn)


# --- Lot size ------------------------------------------------------------------------------------


@prompt(Auctioning.size)
async def ask_size(turn: Turn) -> None:
    pool = await _pool(turn)
    if pool is None:
        return
    rows = [(t.whole_pool_label(pool.grams), AuctionCb(action="size", value="all"))]
    for size_kg in turn.settings.lot_sizes_kg:
        if size_kg * GRAMS_PER_KG < pool.grams:
            rows.append((t.slice_label(size_kg), AuctionCb(action="size", value=str(size_kg))))
    await turn.say(t.size_question(pool, turn.settings), _buttons(*rows))


async def _size_known(turn: Turn, target_g: int | None) -> None:
    if target_g is not None and target_g <= 0:
        raise DomainError("bad_lot_size")
    await turn.state.update_data(target_g=target_g)
    await turn.state.set_state(Auctioning.reserve)
    await ask_reserve(turn)


@router.callback_query(Auctioning.size, AuctionCb.filter(F.action == "size"), coordinator)
async def size_pressed(callback: CallbackQuery, callback_data: AuctionCb, turn: Turn) -> None:
    if callback_data.value == "all":
        await _size_known(turn, None)
        return
    try:
        size_kg = int(callback_data.value)
    except ValueError:
        raise DomainError("bad_lot_size") from None
    await _size_known(turn, size_kg * GRAMS_PER_KG)


@router.message(Auctioning.size, is_answer, coordinator)
async def size_typed(message: Message, turn: Turn) -> None:
    try:
        grams = parse_quantity(message.text or "")
    except QuantityRejected as exc:
        await turn.say(quantity_problem(exc))
        await ask_size(turn)
        return
    await _size_known(turn, grams)


# --- Prices (reserve, increment, acceptance threshold) -----------------------------------------


async def _typed_price(turn: Turn, text: str, action: str, ask: AskFn) -> int | None:
    """A typed price in fen per kg, or None after saying why not (a decimal comma: both
    readings offered as buttons)."""
    try:
        return parse_price(text)
    except PriceRejected as exc:
        if exc.problem == PriceProblem.AMBIGUOUS_SEPARATOR and exc.readings:
            rows = [
                (t.price(fen), AuctionCb(action=action, value=str(fen))) for fen in exc.readings
            ]
            await turn.ask(t.price_problem(exc), _buttons(*rows))
            return None
        await turn.say(t.price_problem(exc))
        await ask(turn)
        return None


def _pressed_fen(value: str, reason: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise DomainError(reason) from None


@prompt(Auctioning.reserve)
async def ask_reserve(turn: Turn) -> None:
    pool = await _pool(turn)
    if pool is None:
        return
    rows = []
    default = turn.settings.auction_reserves.get(pool.key.product.value)
    if default is not None:
        fen = int(default * FEN_PER_YUAN)
        rows.append((t.price(fen), AuctionCb(action="reserve", value=str(fen))))
    await turn.say(
        _(
            "Reserve price per kg: bids below it do not count. Tap the usual one or type a "
            "price in yuan per kg, like 22.5."
        ),
        _buttons(*rows),
    )


async def _reserve_known(turn: Turn, fen: int) -> None:
    lots.check_reserve(fen)
    await turn.state.update_data(reserve_fen=fen)
    await turn.state.set_state(Auctioning.increment)
    await ask_increment(turn)


@router.callback_query(Auctioning.reserve, AuctionCb.filter(F.action == "reserve"), coordinator)
async def reserve_pressed(callback: CallbackQuery, callback_data: AuctionCb, turn: Turn) -> None:
    await _reserve_known(turn, _pressed_fen(callback_data.value, "bad_reserve"))


@router.message(Auctioning.reserve, is_answer, coordinator)
async def reserve_typed(message: Message, turn: Turn) -> None:
    fen = await _typed_price(turn, message.text or "", "reserve", ask_reserve)
    if fen is not None:
        await _reserve_known(turn, fen)


@prompt(Auctioning.increment)
async def ask_increment(turn: Turn) -> None:
    rows = []
    for step in turn.settings.auction_increments:
        fen = int(step * FEN_PER_YUAN)
        rows.append((t.price(fen), AuctionCb(action="increment", value=str(fen))))
    await turn.say(
        _(
            "Minimum increment: by how much per kg a bid must beat the leading one. Tap one or "
            "type it, like 0.2."
        ),
        _buttons(*rows),
    )


async def _increment_known(turn: Turn, fen: int) -> None:
    data = await turn.data()
    lots.check_increment(fen, int(data["reserve_fen"]))
    await turn.state.update_data(increment_fen=fen)
    await turn.state.set_state(Auctioning.closes)
    await ask_closes(turn)


@router.callback_query(Auctioning.increment, AuctionCb.filter(F.action == "increment"), coordinator)
async def increment_pressed(callback: CallbackQuery, callback_data: AuctionCb, turn: Turn) -> None:
    await _increment_known(turn, _pressed_fen(callback_data.value, "bad_increment"))


@router.message(Auctioning.increment, is_answer, coordinator)
async def increment_typed(message: Message, turn: Turn) -> None:
    fen = await _typed_price(turn, message.text or "", "increment", ask_increment)
    if fen is not None:
        await _increment_known(turn, fen)


# --- Closing time ------------------------------------------------------------------------------


@prompt(Auctioning.closes)
async def ask_closes(turn: Turn) -> None:
    tz = turn.settings.tz
    rows = [
        (_("In {hours} h").format(hours=hours), AuctionCb(action="hours", value=str(hours)))
        for hours in turn.settings.auction_hours
    ]
    await turn.say(
        _(
            "When should bidding close? Tap one, or type the date and time in {zone}, for "
            "example {example}."
        ).format(zone=zone_name(tz, locale()), example=schedule_example(utcnow(), tz)),
        _buttons(*rows),
    )


async def _closes_known(turn: Turn, closes_at: datetime) -> None:
    await turn.state.update_data(closes_at=closes_at.isoformat())
    await turn.state.set_state(Auctioning.acceptance)
    await ask_acceptance(turn)


@router.callback_query(Auctioning.closes, AuctionCb.filter(F.action == "hours"), coordinator)
async def hours_pressed(callback: CallbackQuery, callback_data: AuctionCb, turn: Turn) -> None:
    try:
        hours = int(callback_data.value)
    except ValueError:
        raise DomainError("close_in_past") from None
    if hours <= 0:
        raise DomainError("close_in_past")
    await _closes_known(turn, utcnow() + timedelta(hours=hours))


@router.message(Auctioning.closes, is_answer, coordinator)
async def closes_typed(message: Message, turn: Turn, settings: Settings) -> None:
    await _closes_known(turn, parse_schedule_time(message.text or "", settings.tz))


# --- Seller's acceptance ----------------------------------------------------------------------


@prompt(Auctioning.acceptance)
async def ask_acceptance(turn: Turn) -> None:
    await turn.say(
        _("When bidding closes, is the best bid sold at once, or does a coordinator confirm it?"),
        _buttons(
            (_("Sell to the best bid"), AuctionCb(action="accept", value="auto")),
            (_("Confirm before sale"), AuctionCb(action="accept", value="confirm")),
            (_("Confirm if below a price…"), AuctionCb(action="accept", value="below")),
        ),
    )


@router.callback_query(Auctioning.acceptance, AuctionCb.filter(F.action == "accept"), coordinator)
async def acceptance_pressed(callback: CallbackQuery, callback_data: AuctionCb, turn: Turn) -> None:
    if callback_data.value == "below":
        await turn.state.set_state(Auctioning.accept_below)
        await ask_accept_below(turn)
        return
    confirm = callback_data.value == "confirm"
    await turn.state.update_data(confirm=confirm, accept_below_fen=None)
    await _enter_summary(turn)


@prompt(Auctioning.accept_below)
async def ask_accept_below(turn: Turn) -> None:
    await turn.say(
        _(
            "Below which price per kg must a coordinator confirm the sale? Type it, like 25. "
            "A best bid at or above it is sold at once."
        ),
        _buttons(),
    )


async def _accept_below_known(turn: Turn, fen: int) -> None:
    lots.check_reserve(fen)
    await turn.state.update_data(confirm=False, accept_below_fen=fen)
    await _enter_summary(turn)


@router.callback_query(Auctioning.accept_below, AuctionCb.filter(F.action == "below"), coordinator)
async def accept_below_pressed(
    callback: CallbackQuery, callback_data: AuctionCb, turn: Turn
) -> None:
    await _accept_below_known(turn, _pressed_fen(callback_data.value, "bad_reserve"))


@router.message(Auctioning.accept_below, is_answer, coordinator)
async def accept_below_typed(message: Message, turn: Turn) -> None:
    fen = await _typed_price(turn, message.text or "", "below", ask_accept_below)
    if fen is not None:
        await _accept_below_known(turn, fen)


# --- Summary and opening -----------------------------------------------------------------------


def _target(data: dict[str, Any]) -> int | None:
    target = data.get("target_g")
    return None if target is None else int(target)


def _terms(data: dict[str, Any], settings: Settings) -> lots.Terms:
    below = data.get("accept_below_fen")
    return lots.Terms(
        reserve_fen=int(data["reserve_fen"]),
        increment_fen=int(data["increment_fen"]),
        closes_at=datetime.fromisoformat(str(data["closes_at"])),
        extension=timedelta(minutes=settings.soft_close_minutes),
        confirm_before_sale=bool(data.get("confirm")),
        accept_below_fen=None if below is None else int(below),
    )


async def _enter_summary(turn: Turn) -> None:
    """Plan the lots and keep the plan (report ids per lot) that Confirm will open."""
    data = await turn.data()
    plan = await lots.plan(turn.session, turn.user, _key(data), _target(data))
    if not plan:
        await turn.state.clear()
        raise DomainError("pool_empty")
    await turn.state.update_data(expected=[list(p.report_ids) for p in plan])
    await turn.state.set_state(Auctioning.summary)
    await ask_summary(turn)


@prompt(Auctioning.summary)
async def ask_summary(turn: Turn) -> None:
    data = await turn.data()
    pool = await _pool(turn)
    if pool is None:
        return
    plan = await lots.plan(turn.session, turn.user, pool.key, _target(data))
    terms = _terms(data, turn.settings)
    lines = t.terms_lines(
        terms.reserve_fen,
        terms.increment_fen,
        terms.closes_at,
        turn.settings.soft_close_minutes,
        terms.confirm_before_sale,
        terms.accept_below_fen,
        turn.settings.tz,
    )
    pages = t.summary_pages(pool, plan, lines, t.lot_size_text(_target(data)), turn.settings)
    for page in pages[:-1]:
        await turn.say(page)
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Open the auction"), callback_data=AuctionCb(action="confirm"))
    builder.button(text=_("✖ Cancel"), callback_data=AuctionCb(action="cancel"))
    builder.adjust(1)
    await turn.say(pages[-1], builder.as_markup())


@router.callback_query(Auctioning.summary, AuctionCb.filter(F.action == "confirm"), coordinator)
async def confirm(
    callback: CallbackQuery, turn: Turn, settings: Settings, scheduler: Scheduler
) -> None:
    data = await turn.data()
    try:
        opened = await lots.open_lots(
            turn.session,
            turn.user,
            _key(data),
            _target(data),
            _terms(data, settings),
            expected=data.get("expected"),
        )
    except DomainError as exc:
        if exc.reason == "pool_changed":
            await turn.say(domain_problem(exc))
            await _enter_summary(turn)
            return
        if exc.reason == "close_in_past":
            await turn.state.set_state(Auctioning.closes)  # asked again after the reason
        else:
            await turn.state.clear()
        raise
    await turn.state.clear()  # the summary's buttons go with the dialogue (Turn.finish)
    turn.after_commit(scheduler.wake_auctions)
    await turn.say(t.opened_text(opened, settings.tz))


@router.callback_query(AuctionCb.filter(F.action == "cancel"), coordinator)
async def cancel_dialogue(
    callback: CallbackQuery, turn: Turn, callback_answer: CallbackAnswer
) -> None:
    current = await turn.state.get_state()
    if current is None or not current.startswith(f"{Auctioning.__name__}:"):
        callback_answer.text = _("This menu has expired.")
        return
    await turn.state.clear()
    await turn.mark_answered(callback, _("Cancelled."))
    await turn.say(_("No auction was opened."))


# --- /auctions -----------------------------------------------------------------------------------


def lot_markup(lot: CoordinatorLot) -> InlineKeyboardMarkup | None:
    """Open: bids, close now, cancel; waiting for acceptance: accept, reject, bids; sold:
    its collection (handlers/collection.py)."""
    builder = InlineKeyboardBuilder()
    if lot.status == LotStatus.AWAITING:
        builder.button(text=_("✅ Accept"), callback_data=SaleCb(lot_id=lot.id, accept=True))
        builder.button(text=_("✖ Reject"), callback_data=SaleCb(lot_id=lot.id, accept=False))
        builder.button(text=_("📋 Bids"), callback_data=LotCb(action="bids", lot_id=lot.id))
        builder.adjust(2, 1)
        return builder.as_markup()
    if lot.status == LotStatus.SOLD:
        return InlineKeyboardMarkup(inline_keyboard=[[collection_button(lot.id)]])
    if lot.status != LotStatus.OPEN:
        return None
    builder.button(text=_("📋 Bids"), callback_data=LotCb(action="bids", lot_id=lot.id))
    builder.button(text=_("⏹ Close now"), callback_data=LotCb(action="close", lot_id=lot.id))
    builder.button(text=_("✖ Cancel auction"), callback_data=LotCb(action="cancel", lot_id=lot.id))
    builder.adjust(1, 2)
    return builder.as_markup()


@router.message(Command("auctions"), coordinator)
@router.message(is_menu(MENU_AUCTIONS), coordinator)
async def list_auctions(message: Message, turn: Turn, settings: Settings) -> None:
    await turn.state.clear()
    rows = await lots.lots_of_coordinators(turn.session, turn.user)
    if not rows:
        await turn.say(
            _("No auction is open and no sale waits for acceptance. /pools shows what to sell.")
        )
        return
    if len(rows) > SHOWN_LOTS:
        await turn.say(
            _("{count} auctions. Here are the first {shown}, closing first.").format(
                count=len(rows), shown=SHOWN_LOTS
            )
        )
    else:
        await turn.say(
            _("Open auctions and sales waiting for acceptance: {count}").format(count=len(rows))
        )
    now = utcnow()
    for lot in rows[:SHOWN_LOTS]:
        await turn.say(t.lot_card(lot, now, settings.tz), lot_markup(lot))


async def _show(
    turn: Turn, callback: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    """Redraw the lot's card in place (or send it, for a button typed as a word)."""
    if isinstance(callback.message, Message):
        await turn.edit(callback.message.message_id, text, markup)
    else:
        await turn.say(text, markup)


async def _card(turn: Turn, lot_id: int) -> CoordinatorLot:
    return await lots.coordinator_lot(turn.session, turn.user, lot_id)


def _alert(callback_answer: CallbackAnswer, exc: DomainError) -> None:
    callback_answer.text = domain_problem(exc)
    callback_answer.show_alert = True


@router.callback_query(LotCb.filter(F.action == "bids"), coordinator)
async def show_bids(
    callback: CallbackQuery,
    callback_data: LotCb,
    turn: Turn,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    try:
        rows = await lots.lot_bids(turn.session, turn.user, callback_data.lot_id)
    except DomainError as exc:
        _alert(callback_answer, exc)
        return
    for page in t.bid_pages(callback_data.lot_id, rows, settings.tz):
        await turn.say(page)


def _confirm_markup(action: str, lot_id: int, yes: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=yes, callback_data=LotCb(action=f"{action}_yes", lot_id=lot_id))
    builder.button(text=_("◀ Back"), callback_data=LotCb(action="keep", lot_id=lot_id))
    builder.adjust(1)
    return builder.as_markup()


@router.callback_query(LotCb.filter(F.action.in_({"close", "cancel"})), coordinator)
async def ask_lot_action(
    callback: CallbackQuery,
    callback_data: LotCb,
    turn: Turn,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    """Closing or cancelling takes a second press: the card asks first."""
    try:
        lot = await _card(turn, callback_data.lot_id)
    except DomainError as exc:
        _alert(callback_answer, exc)
        return
    card = t.lot_card(lot, utcnow(), settings.tz)
    if lot.status != LotStatus.OPEN and not (
        callback_data.action == "cancel" and lot.status == LotStatus.AWAITING
    ):
        _alert(callback_answer, DomainError("lot_not_open", status=lot.status.value))
        await _show(turn, callback, card, lot_markup(lot))
        return
    if callback_data.action == "close":
        question, yes = t.close_question(lot), _("⏹ Yes, close it now")
    else:
        question, yes = t.cancel_question(lot), _("✖ Yes, cancel the auction")
    await _show(
        turn, callback, f"{card}\n\n{question}", _confirm_markup(callback_data.action, lot.id, yes)
    )


@router.callback_query(LotCb.filter(F.action == "keep"), coordinator)
async def keep_lot(
    callback: CallbackQuery,
    callback_data: LotCb,
    turn: Turn,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    try:
        lot = await _card(turn, callback_data.lot_id)
    except DomainError as exc:
        _alert(callback_answer, exc)
        return
    await _show(turn, callback, t.lot_card(lot, utcnow(), settings.tz), lot_markup(lot))


@router.callback_query(LotCb.filter(F.action.in_({"close_yes", "cancel_yes"})), coordinator)
async def lot_action(
    callback: CallbackQuery,
    callback_data: LotCb,
    turn: Turn,
    settings: Settings,
    scheduler: Scheduler,
    callback_answer: CallbackAnswer,
) -> None:
    try:
        if callback_data.action == "close_yes":
            await lots.close_early(
                turn.session,
                turn.user,
                callback_data.lot_id,
                timedelta(hours=settings.acceptance_hours),
            )
        else:
            await lots.cancel(turn.session, turn.user, callback_data.lot_id)
    except DomainError as exc:
        await _refused(turn, callback, callback_answer, exc, callback_data.lot_id, settings)
        return
    turn.after_commit(scheduler.wake_auctions)
    lot = await _card(turn, callback_data.lot_id)
    text = t.closed_text(lot, settings.tz)
    card = f"{t.lot_card(lot, utcnow(), settings.tz)}\n\n{text}"
    await _show(turn, callback, card, lot_markup(lot))


async def _refused(
    turn: Turn,
    callback: CallbackQuery,
    callback_answer: CallbackAnswer,
    exc: DomainError,
    lot_id: int,
    settings: Settings,
) -> None:
    """An alert saying why, and the card redrawn as the lot is now (its buttons with it)."""
    _alert(callback_answer, exc)
    if exc.reason == "no_such_lot":
        return
    lot = await _card(turn, lot_id)
    card = t.lot_card(lot, utcnow(), settings.tz)
    if isinstance(callback.message, Message):
        await turn.edit(
            callback.message.message_id, f"{card}\n\n{domain_problem(exc)}", lot_markup(lot)
        )
    else:
        await turn.say(domain_problem(exc))


# --- Seller's acceptance (the acceptance_needed notice, and /auctions) ---------------------------


@router.callback_query(SaleCb.filter(), coordinator)
async def decide_sale(
    callback: CallbackQuery,
    callback_data: SaleCb,
    turn: Turn,
    settings: Settings,
    scheduler: Scheduler,
    callback_answer: CallbackAnswer,
) -> None:
    try:
        await lots.decide_sale(turn.session, turn.user, callback_data.lot_id, callback_data.accept)
    except DomainError as exc:
        _alert(callback_answer, exc)
        if exc.reason != "no_such_lot" and isinstance(callback.message, Message):
            note = domain_problem(exc)
            text = callback.message.text
            await turn.edit(callback.message.message_id, f"{text}\n\n{note}" if text else note)
        return
    turn.after_commit(scheduler.wake_auctions)
    lot = await _card(turn, callback_data.lot_id)
    text = t.closed_text(lot, settings.tz)
    if isinstance(callback.message, Message) and callback.message.text:
        await turn.edit(
            callback.message.message_id, f"{callback.message.text}\n\n{text}", lot_markup(lot)
        )
    else:
        await turn.say(text, lot_markup(lot))
