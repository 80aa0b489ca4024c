"""Payouts in chat: a farmer's /payouts (history and totals), and the coordinators' /due
(what is due, "mark paid" per payout or all at once, each asking for the transfer's
reference). Rules live in bot/services/payouts.py; this router reads and words.
"""

from __future__ import annotations

from datetime import date

from aiogram import F
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.formatting import format_date, format_day, format_money, format_quantity
from bot.models import Payout, PayoutStatus, Role, utcnow
from bot.services import payouts
from bot.services.errors import DomainError
from handlers.access import CoordinatorOnly
from handlers.callbacks import PayoutCb
from handlers.market_notices import lot_name
from handlers.prompts import prompt
from handlers.routing import RouterRecipe
from handlers.states import Paying
from handlers.texts import MENU_PAYOUTS, is_answer, is_menu, locale
from handlers.turn import Turn

router = RouterRecipe("payouts")
coordinator = CoordinatorOnly()

SHOWN_DUE = 20  # "mark paid" buttons on one /due message


# --- A farmer's history ----------------------------------------------------------------------


def _history_line(p: Payout, disputed: bool, turn: Turn) -> str:
    loc, tz = locale(), turn.settings.tz
    facts = {
        "id": p.id,
        "lot": lot_name(p.lot_id),
        "kg": format_quantity(p.grams, loc, _),
        "amount": format_money(payouts.amount_fen(p), loc),
        "day": format_day(p.due_on, loc),
        "reference": p.reference or "—",
    }
    if p.status == PayoutStatus.PAID and p.paid_at is not None:
        facts["day"] = format_date(p.paid_at, loc, tz)
        line = _("✅ #{id} {lot}, {kg}: {amount}, paid {day} (ref. {reference})")
    else:
        line = _("⏳ #{id} {lot}, {kg}: {amount}, to be paid {day}")
    line = line.format_map(facts)
    if disputed:
        line += " " + _("⚠️ disputed")
    return line


def _totals_line(label: str, totals: payouts.Totals, **extra: str) -> str:
    loc = locale()
    return label.format(
        paid=format_money(totals.paid_fen, loc),
        coming=format_money(totals.scheduled_fen, loc),
        **extra,
    )


@router.message(Command("payouts"))
@router.message(is_menu(MENU_PAYOUTS))
async def show_history(message: Message, turn: Turn) -> None:
    user = turn.user
    if user.role != Role.FARMER or not user.registered:
        raise DomainError("not_farmer")
    settings = turn.settings
    found = await payouts.history(turn.session, user, utcnow(), settings.tz, settings.season_start)
    if not found.lines:
        await turn.say(
            _(
                "You have no payouts yet. When your coffee is collected and weighed, we tell "
                "you here what you will be paid, and when."
            )
        )
        return
    parts = [
        _("💴 Your payouts"),
        _totals_line(
            _("This season (since {since}): {paid} paid, {coming} to come."),
            found.season,
            since=format_day(found.season_from, locale()),
        )
        + "\n"
        + _totals_line(_("All time: {paid} paid, {coming} to come."), found.all_time),
        "\n".join(_history_line(p, p.id in found.disputed, turn) for p in found.lines),
    ]
    if found.more:
        parts.append(_("…and {n} older payouts.").format(n=found.more))
    parts.append(_("Something wrong? Press “⚠️ This is wrong” under the payout's message."))
    await turn.say("\n\n".join(parts))


# --- Coordinators: what is due, marking it paid ------------------------------------------------


def _due_markup(lines: list[payouts.DueLine], today: date) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for line in lines[:SHOWN_DUE]:
        builder.button(
            text=_("✅ #{id} paid").format(id=line.payout.id),
            callback_data=PayoutCb(action="paid", payout_id=line.payout.id),
        )
    builder.button(
        text=_("✅ Mark all due paid"), callback_data=PayoutCb(action="all", day=today.toordinal())
    )
    builder.adjust(*([2] * ((min(len(lines), SHOWN_DUE) + 1) // 2)), 1)
    return builder.as_markup()


def _due_line(line: payouts.DueLine) -> str:
    loc = locale()
    p = line.payout
    return _("#{id} {farmer} ({phone}), {lot}: {amount}, due {day}").format(
        id=p.id,
        farmer=line.farmer_name or "—",
        phone=line.farmer_phone or "—",
        lot=lot_name(p.lot_id),
        amount=format_money(payouts.amount_fen(p), loc),
        day=format_day(p.due_on, loc),
    )


@router.message(Command("due"), coordinator)
async def show_due(message: Message, turn: Turn) -> None:
    today = payouts.local_today(utcnow(), turn.settings.tz)
    lines = await payouts.due(turn.session, turn.user, today)
    if not lines:
        await turn.say(_("No payouts are due. /disputes shows the open disputes."))
        return
    total = sum(payouts.amount_fen(line.payout) for line in lines)
    text = [
        _("💴 Payouts due by {day}: {count}, {total} in all.").format(
            day=format_day(today, locale()), count=len(lines), total=format_money(total, locale())
        ),
        "\n".join(_due_line(line) for line in lines[:SHOWN_DUE]),
    ]
    if len(lines) > SHOWN_DUE:
        text.append(_("…and {n} more.").format(n=len(lines) - SHOWN_DUE))
    text.append(_("Pay each one, then press its button and type the transfer's reference."))
    await turn.say("\n\n".join(text), _due_markup(lines, today))


@router.callback_query(PayoutCb.filter(F.action == "paid"), coordinator)
async def pay_one(callback: CallbackQuery, callback_data: PayoutCb, turn: Turn) -> None:
    await turn.state.set_state(Paying.reference)
    await turn.state.set_data({"payout_id": callback_data.payout_id})
    await ask_reference(turn)


@router.callback_query(PayoutCb.filter(F.action == "all"), coordinator)
async def pay_all(callback: CallbackQuery, callback_data: PayoutCb, turn: Turn) -> None:
    await turn.state.set_state(Paying.reference)
    await turn.state.set_data({"day": callback_data.day})
    await ask_reference(turn)


@prompt(Paying.reference)
async def ask_reference(turn: Turn) -> None:
    data = await turn.data()
    loc = locale()
    if data.get("payout_id"):
        lines = await payouts.due(turn.session, turn.user, date.max)
        line = next((x for x in lines if x.payout.id == int(data["payout_id"])), None)
        if line is None:  # paid meanwhile, or no such payout
            await turn.state.clear()
            await turn.say(_("That payout is not waiting to be paid any more. Send /due."))
            return
        await turn.say(
            _(
                "Type the reference of the transfer (bank or mobile-money transfer id) that "
                "paid #{id}: {amount} to {farmer}. /cancel stops."
            ).format(
                id=line.payout.id,
                amount=format_money(payouts.amount_fen(line.payout), loc),
                farmer=line.farmer_name or "—",
            )
        )
        return
    day = date.fromordinal(int(data["day"]))
    lines = await payouts.due(turn.session, turn.user, day)
    await turn.say(
        _(
            "Type the reference of the one transfer that paid all {count} payouts due by "
            "{day} ({total}). /cancel stops."
        ).format(
            count=len(lines),
            day=format_day(day, loc),
            total=format_money(sum(payouts.amount_fen(x.payout) for x in lines), loc),
        )
    )


@router.message(Paying.reference, is_answer, coordinator)
async def typed_reference(message: Message, turn: Turn) -> None:
    data = await turn.data()
    reference = payouts.check_reference(message.text or "")  # refused: asked again
    loc = locale()
    await turn.state.clear()
    if data.get("payout_id"):
        paid = await payouts.mark_paid(turn.session, turn.user, int(data["payout_id"]), reference)
        await turn.say(
            _(
                "✅ #{id} is marked paid ({amount}, reference {reference}); the farmer is told."
            ).format(
                id=paid.id, amount=format_money(payouts.amount_fen(paid), loc), reference=reference
            )
        )
        return
    day = date.fromordinal(int(data["day"]))
    done = await payouts.mark_all_due_paid(turn.session, turn.user, day, reference)
    if not done:
        await turn.say(_("Nothing was due any more: those payouts were paid meanwhile."))
        return
    await turn.say(
        _(
            "✅ {count} payouts are marked paid ({total}, reference {reference}); each farmer "
            "is told."
        ).format(
            count=len(done),
            total=format_money(sum(payouts.amount_fen(p) for p in done), loc),
            reference=reference,
        )
    )
