"""Coordinators collect sold lots: /collect (or 📦 Collection on a sold lot's /auctions card)
sets the place and time, then a weighing screen lists every report of the lot with buttons to
record it as reported (✓), type the weight the scale showed (✏️) or mark it not delivered
(✗), with the running total against the reported total. When every report is recorded,
✅ Complete collection shows what completing does and asks first. Rules, the invoice and the
payouts live in bot/services/collections.py.
"""

from __future__ import annotations

from datetime import date

from aiogram import F
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.formatting import schedule_example, zone_name
from bot.models import CollectionStatus, utcnow
from bot.quantity import QuantityRejected, parse_quantity
from bot.services import collections
from bot.services.broadcasts import parse_schedule_time
from bot.services.collections import CollectionView
from bot.services.errors import DomainError
from handlers import collection_texts as t
from handlers.access import CoordinatorOnly
from handlers.callbacks import CollectCb
from handlers.prompts import prompt
from handlers.routing import RouterRecipe
from handlers.states import Collecting
from handlers.texts import domain_problem, is_answer, locale, quantity_problem
from handlers.turn import Turn

router = RouterRecipe("collection")
coordinator = CoordinatorOnly()

# One message per lot on /collect; more than this at once floods the chat.
SHOWN_LOTS = 20


def collection_button(lot_id: int) -> InlineKeyboardButton:
    """📦 Collection: on a sold lot's /auctions card and on /collect."""
    return InlineKeyboardButton(
        text=_("📦 Collection"), callback_data=CollectCb(action="open", lot_id=lot_id).pack()
    )


def _button(
    text: str, action: str, lot_id: int, report_id: int = 0, page: int = 0
) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text,
        callback_data=CollectCb(
            action=action, lot_id=lot_id, report_id=report_id, page=page
        ).pack(),
    )


def _page(view: CollectionView, page: int) -> int:
    return min(max(page, 0), t.pages(view) - 1)


def screen_markup(view: CollectionView, page: int) -> InlineKeyboardMarkup:
    """Three buttons per report of the page (numbered as on the screen), paging, change of
    place or time, and Complete once every report is recorded."""
    rows = []
    start = page * t.PAGE
    for number, c in enumerate(view.contributions[start : start + t.PAGE], start=start + 1):
        rows.append(
            [
                _button(f"✓ {number}", "ok", view.lot_id, c.report_id, page),
                _button(f"✏️ {number}", "type", view.lot_id, c.report_id, page),
                _button(f"✗ {number}", "none", view.lot_id, c.report_id, page),
            ]
        )
    nav = []
    if page > 0:
        nav.append(_button(_("◀ Previous"), "page", view.lot_id, page=page - 1))
    if page + 1 < t.pages(view):
        nav.append(_button(_("Next ▶"), "page", view.lot_id, page=page + 1))
    if nav:
        rows.append(nav)
    rows.append([_button(_("📍 Change place or time"), "place", view.lot_id, page=page)])
    if view.complete_ready:
        rows.append([_button(_("✅ Complete collection"), "complete", view.lot_id, page=page)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def _screen(
    turn: Turn, view: CollectionView, page: int, message_id: int | None = None
) -> None:
    """The weighing screen, in place of `message_id` when given, else as a new message."""
    page = _page(view, page)
    text, markup = t.screen(view, page, turn.settings.tz), screen_markup(view, page)
    if message_id is not None:
        await turn.edit(message_id, text, markup)
    else:
        await turn.say(text, markup)


def _message_id(callback: CallbackQuery) -> int | None:
    return callback.message.message_id if isinstance(callback.message, Message) else None


def _alert(callback_answer: CallbackAnswer, exc: DomainError) -> None:
    callback_answer.text = domain_problem(exc)
    callback_answer.show_alert = True


# --- /collect -----------------------------------------------------------------------------------


@router.message(Command("collect"), coordinator)
async def list_collections(message: Message, turn: Turn, settings: Settings) -> None:
    await turn.state.clear()
    rows = await collections.awaiting_collection(turn.session, turn.user)
    if not rows:
        await turn.say(_("No sold lot waits for collection. /auctions shows the running ones."))
        return
    await turn.say(_("Sold lots to collect: {count}").format(count=len(rows)))
    for view in rows[:SHOWN_LOTS]:
        await turn.say(
            t.card(view, settings.tz),
            InlineKeyboardMarkup(inline_keyboard=[[collection_button(view.lot_id)]]),
        )


@router.callback_query(CollectCb.filter(F.action.in_({"open", "page", "back"})), coordinator)
async def open_collection(
    callback: CallbackQuery,
    callback_data: CollectCb,
    turn: Turn,
    callback_answer: CallbackAnswer,
) -> None:
    try:
        view = await collections.collection_view(turn.session, turn.user, callback_data.lot_id)
    except DomainError as exc:
        _alert(callback_answer, exc)
        return
    if view.place is None:
        await _start_place(turn, view.lot_id)
        return
    if view.status == CollectionStatus.COMPLETED:
        _alert(callback_answer, DomainError("collection_completed"))
        return
    await _screen(turn, view, callback_data.page, _message_id(callback))


# --- Place and time -------------------------------------------------------------------------------


def _cancel_markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button(_("✖ Cancel"), "cancel", 0)]])


async def _start_place(turn: Turn, lot_id: int) -> None:
    await turn.state.set_state(Collecting.place)
    await turn.state.set_data({"lot_id": lot_id})
    await ask_place(turn)


async def _dialogue_view(turn: Turn) -> CollectionView | None:
    """The lot of the running dialogue as it is now; a lot gone from collection ends it."""
    data = await turn.data()
    try:
        return await collections.collection_view(turn.session, turn.user, int(data["lot_id"]))
    except (DomainError, KeyError, ValueError, TypeError) as exc:
        await turn.state.clear()
        await turn.say(
            domain_problem(exc if isinstance(exc, DomainError) else DomainError("no_such_lot"))
        )
        return None


@prompt(Collecting.place)
async def ask_place(turn: Turn) -> None:
    view = await _dialogue_view(turn)
    if view is not None:
        await turn.say(t.place_question(view), _cancel_markup())


async def _unfinished(
    turn: Turn, lot_id: int, callback_answer: CallbackAnswer
) -> collections.CollectionView | None:
    """The lot's collection while it can still change; otherwise the press is answered why."""
    try:
        view = await collections.collection_view(turn.session, turn.user, lot_id)
    except DomainError as exc:
        _alert(callback_answer, exc)
        return None
    if view.invoice_fen is not None:
        _alert(callback_answer, DomainError("collection_completed"))
        return None
    return view


@router.callback_query(CollectCb.filter(F.action == "place"), coordinator)
async def change_place(
    callback: CallbackQuery, callback_data: CollectCb, turn: Turn, callback_answer: CallbackAnswer
) -> None:
    view = await _unfinished(turn, callback_data.lot_id, callback_answer)
    if view is None:
        return
    await _start_place(turn, view.lot_id)


@router.message(Collecting.place, is_answer, coordinator)
async def place_typed(message: Message, turn: Turn) -> None:
    place = collections.check_place(message.text or "")
    await turn.state.update_data(place=place)
    await turn.state.set_state(Collecting.when)
    await ask_when(turn)


@prompt(Collecting.when)
async def ask_when(turn: Turn) -> None:
    tz = turn.settings.tz
    await turn.say(
        _("When is it collected? Type the date and time in {zone}, for example {example}.").format(
            zone=zone_name(tz, locale()), example=schedule_example(utcnow(), tz)
        ),
        _cancel_markup(),
    )


@router.message(Collecting.when, is_answer, coordinator)
async def when_typed(message: Message, turn: Turn, settings: Settings) -> None:
    collect_at = parse_schedule_time(message.text or "", settings.tz)
    data = await turn.data()
    try:
        view = await collections.set_collection(
            turn.session, turn.user, int(data["lot_id"]), str(data["place"]), collect_at
        )
    except DomainError as exc:
        if exc.reason != "schedule_in_past":
            await turn.state.clear()
        raise
    await turn.state.clear()
    await turn.say(t.set_text(view, settings.tz))
    await _screen(turn, view, 0)


@router.callback_query(CollectCb.filter(F.action == "cancel"), coordinator)
async def cancel_dialogue(
    callback: CallbackQuery, turn: Turn, callback_answer: CallbackAnswer
) -> None:
    current = await turn.state.get_state()
    if current is None or not current.startswith(f"{Collecting.__name__}:"):
        callback_answer.text = _("This menu has expired.")
        return
    await turn.state.clear()
    await turn.mark_answered(callback, _("Cancelled."))


# --- Weighing -------------------------------------------------------------------------------------


@router.callback_query(CollectCb.filter(F.action.in_({"ok", "none"})), coordinator)
async def record_pressed(
    callback: CallbackQuery,
    callback_data: CollectCb,
    turn: Turn,
    callback_answer: CallbackAnswer,
) -> None:
    try:
        recorded = await collections.record_weight(
            turn.session,
            turn.user,
            callback_data.lot_id,
            callback_data.report_id,
            delivered=callback_data.action == "ok",
        )
    except DomainError as exc:
        _alert(callback_answer, exc)
        return
    callback_answer.text = t.recorded_text(recorded)
    current = await turn.state.get_state()
    if current is not None and current.startswith(f"{Collecting.__name__}:"):
        await turn.state.clear()  # a weight being typed is answered by this press instead
    view = await collections.collection_view(turn.session, turn.user, callback_data.lot_id)
    await _screen(turn, view, callback_data.page, _message_id(callback))


@router.callback_query(CollectCb.filter(F.action == "type"), coordinator)
async def type_pressed(
    callback: CallbackQuery, callback_data: CollectCb, turn: Turn, callback_answer: CallbackAnswer
) -> None:
    view = await _unfinished(turn, callback_data.lot_id, callback_answer)
    if view is None:
        return
    await turn.state.set_state(Collecting.weight)
    await turn.state.set_data(
        {
            "lot_id": callback_data.lot_id,
            "report_id": callback_data.report_id,
            "page": callback_data.page,
        }
    )
    await ask_weight(turn)


@prompt(Collecting.weight)
async def ask_weight(turn: Turn) -> None:
    view = await _dialogue_view(turn)
    if view is None:
        return
    report_id = int((await turn.data()).get("report_id", 0))
    found = next((c for c in view.contributions if c.report_id == report_id), None)
    if found is None:
        await turn.state.clear()
        await turn.say(domain_problem(DomainError("no_such_contribution")))
        return
    await turn.say(t.weight_question(found), _cancel_markup())


@router.message(Collecting.weight, is_answer, coordinator)
async def weight_typed(message: Message, turn: Turn) -> None:
    try:
        grams = parse_quantity(message.text or "")
    except QuantityRejected as exc:
        await turn.say(quantity_problem(exc))
        await ask_weight(turn)
        return
    data = await turn.data()
    try:
        recorded = await collections.record_weight(
            turn.session, turn.user, int(data["lot_id"]), int(data["report_id"]), grams
        )
    except DomainError as exc:
        if exc.reason != "bad_weight":
            await turn.state.clear()
        raise
    await turn.state.clear()
    await turn.say(t.recorded_text(recorded))
    view = await collections.collection_view(turn.session, turn.user, int(data["lot_id"]))
    await _screen(turn, view, int(data.get("page", 0)))


# --- Completing ----------------------------------------------------------------------------------


def _due_on(settings: Settings) -> date:
    return collections.pay_date(utcnow(), settings.tz, settings.payout_days)


@router.callback_query(CollectCb.filter(F.action == "complete"), coordinator)
async def ask_complete(
    callback: CallbackQuery,
    callback_data: CollectCb,
    turn: Turn,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    """Completing takes a second press: the screen shows what it will do first."""
    try:
        view = await collections.collection_view(turn.session, turn.user, callback_data.lot_id)
    except DomainError as exc:
        _alert(callback_answer, exc)
        return
    if not view.complete_ready:
        missing = len(view.contributions) - view.recorded
        _alert(
            callback_answer,
            DomainError("collection_incomplete", missing=missing)
            if missing
            else DomainError("collection_completed"),
        )
        return
    delivered = [c for c in view.contributions if c.delivered]
    settlement = collections.settle(view.price_fen, delivered, settings.payout_fees)
    text = t.confirmation(view, settlement, settings.payout_fees, _due_on(settings))
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(_("✅ Yes, complete it"), "complete_yes", view.lot_id)],
            [_button(_("◀ Back"), "back", view.lot_id, page=callback_data.page)],
        ]
    )
    message_id = _message_id(callback)
    if message_id is not None:
        await turn.edit(message_id, text, markup)
    else:
        await turn.say(text, markup)


@router.callback_query(CollectCb.filter(F.action == "complete_yes"), coordinator)
async def complete(
    callback: CallbackQuery,
    callback_data: CollectCb,
    turn: Turn,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    try:
        done = await collections.complete(
            turn.session,
            turn.user,
            callback_data.lot_id,
            settings.payout_fees,
            settings.payout_days,
            settings.tz,
        )
    except DomainError as exc:
        _alert(callback_answer, exc)
        message_id = _message_id(callback)
        if message_id is not None and exc.reason != "no_such_lot":
            await turn.edit(message_id, domain_problem(exc))
        return
    text = t.completed_text(done)
    message_id = _message_id(callback)
    if message_id is not None:
        await turn.edit(message_id, text)
    else:
        await turn.say(text)
