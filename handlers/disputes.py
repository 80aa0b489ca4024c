"""Payout disputes in chat: a farmer's "⚠️ This is wrong" on a payout notice (why? → confirm
→ coordinators are told), and the coordinators' /disputes, each resolved with a correction
typed as money ("12.5", "-3", "¥12.5元") or an explanation. Rules live in
bot/services/payouts.py.
"""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.auction import PriceProblem, PriceRejected
from bot.formatting import format_money
from bot.models import DisputeStatus
from bot.services import payouts
from bot.services.errors import DomainError
from handlers.access import CoordinatorOnly
from handlers.callbacks import DisputeCb, ResolveCb
from handlers.market_notices import lot_name
from handlers.payout_notices import resolve_buttons, signed_money
from handlers.prompts import prompt
from handlers.routing import RouterRecipe
from handlers.states import Disputing, Resolving
from handlers.texts import is_answer, locale
from handlers.turn import Turn

router = RouterRecipe("disputes")
coordinator = CoordinatorOnly()

SHOWN_DISPUTES = 20  # one message each


# --- The farmer: "this is wrong" --------------------------------------------------------------


@router.callback_query(DisputeCb.filter(F.action == "open"))
async def start_dispute(callback: CallbackQuery, callback_data: DisputeCb, turn: Turn) -> None:
    await payouts.farmer_payout(turn.session, turn.user, callback_data.payout_id)
    await turn.state.set_state(Disputing.reason)
    await turn.state.set_data({"payout_id": callback_data.payout_id})
    await ask_reason(turn)


async def _payout_words(turn: Turn) -> dict[str, str]:
    payout_id = int((await turn.data()).get("payout_id", 0))
    try:
        payout = await payouts.farmer_payout(turn.session, turn.user, payout_id)
    except DomainError:
        await turn.state.clear()
        raise
    return {
        "lot": lot_name(payout.lot_id),
        "amount": format_money(payouts.amount_fen(payout), locale()),
    }


@prompt(Disputing.reason)
async def ask_reason(turn: Turn) -> None:
    words = await _payout_words(turn)
    await turn.say(
        _(
            "What is wrong with your payout for {lot} ({amount})? Please write it in a few "
            "words, for example the weight you brought. /cancel stops."
        ).format_map(words)
    )


def _confirm_markup(payout_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Send"), callback_data=DisputeCb(action="send", payout_id=payout_id))
    builder.button(
        text=_("✖ Cancel"), callback_data=DisputeCb(action="cancel", payout_id=payout_id)
    )
    return builder.as_markup()


@router.message(Disputing.reason, is_answer)
async def typed_reason(message: Message, turn: Turn) -> None:
    reason = payouts.check_reason(message.text or "")  # refused: said, and asked again
    await turn.state.update_data(reason=reason)
    await turn.state.set_state(Disputing.confirm)
    await ask_confirm(turn)


@prompt(Disputing.confirm)
async def ask_confirm(turn: Turn) -> None:
    words = await _payout_words(turn)
    data = await turn.data()
    await turn.ask(
        _(
            "You are telling the cooperative that your payout for {lot} ({amount}) is wrong:"
            "\n“{reason}”\n\nSend it?"
        ).format_map(words | {"reason": data.get("reason", "")}),
        _confirm_markup(int(data["payout_id"])),
    )


@router.callback_query(Disputing.confirm, DisputeCb.filter(F.action == "send"))
async def send_dispute(callback: CallbackQuery, callback_data: DisputeCb, turn: Turn) -> None:
    data = await turn.data()
    await turn.state.clear()
    await payouts.open_dispute(
        turn.session, turn.user, int(data["payout_id"]), str(data.get("reason", ""))
    )
    # The question's buttons go at the end of the update (no dialogue is running any more).
    await turn.say(_("📨 Sent. A coordinator will look at it and answer you here."))


@router.callback_query(DisputeCb.filter(F.action.in_({"send", "cancel"})))
async def cancel_dispute(callback: CallbackQuery, turn: Turn) -> None:
    """ "✖ Cancel", or "✅ Send" of a question no longer open (sent or cancelled already)."""
    if await turn.state.get_state() in (Disputing.reason.state, Disputing.confirm.state):
        await turn.state.clear()
    await turn.say(_("Cancelled: nothing was sent."))


# --- Coordinators: open disputes and their resolution ------------------------------------------


def _dispute_text(line: payouts.DisputeLine) -> str:
    return _(
        "⚠️ Dispute #{id}: {farmer} about payout #{payout} for {lot} ({amount}):\n“{reason}”"
    ).format(
        id=line.dispute.id,
        farmer=line.farmer_name or "—",
        payout=line.payout.id,
        lot=lot_name(line.payout.lot_id),
        amount=format_money(payouts.amount_fen(line.payout), locale()),
        reason=line.dispute.reason,
    )


@router.message(Command("disputes"), coordinator)
async def show_disputes(message: Message, turn: Turn) -> None:
    lines = await payouts.open_disputes(turn.session, turn.user)
    if not lines:
        await turn.say(_("No disputes are open."))
        return
    await turn.say(_("Open disputes: {count}.").format(count=len(lines)))
    for line in lines[:SHOWN_DISPUTES]:
        await turn.say(_dispute_text(line), resolve_buttons(line.dispute.id))


@router.callback_query(ResolveCb.filter(), coordinator)
async def start_resolving(callback: CallbackQuery, callback_data: ResolveCb, turn: Turn) -> None:
    line = await payouts.dispute_line(turn.session, turn.user, callback_data.dispute_id)
    if line.dispute.status != DisputeStatus.OPEN:
        raise DomainError("dispute_resolved_already")
    fix = callback_data.action == "fix"
    await turn.state.set_state(Resolving.correction if fix else Resolving.explanation)
    await turn.state.set_data({"dispute_id": line.dispute.id})
    await ask_resolution(turn)


async def _open_line(turn: Turn) -> payouts.DisputeLine:
    """The dispute being resolved; one resolved meanwhile ends the dialogue."""
    dispute_id = int((await turn.data()).get("dispute_id", 0))
    try:
        line = await payouts.dispute_line(turn.session, turn.user, dispute_id)
        if line.dispute.status != DisputeStatus.OPEN:
            raise DomainError("dispute_resolved_already")
    except DomainError:
        await turn.state.clear()
        raise
    return line


@prompt(Resolving.correction, Resolving.explanation)
async def ask_resolution(turn: Turn) -> None:
    line = await _open_line(turn)
    words = {
        "id": str(line.dispute.id),
        "farmer": line.farmer_name or "—",
        "amount": format_money(payouts.amount_fen(line.payout), locale()),
    }
    if await turn.state.get_state() == Resolving.correction.state:
        text = _(
            "Dispute #{id} ({farmer}, now {amount}): type the correction to add to the payout, "
            "like 12.50 to add ¥12.50 or -3 to take ¥3 off. /cancel stops."
        )
    else:
        text = _(
            "Dispute #{id} ({farmer}, {amount}): type your explanation for the farmer; the "
            "payout stays as it is. /cancel stops."
        )
    await turn.say(text.format_map(words))


def money_problem(exc: PriceRejected) -> str:
    """Why a typed correction was not read, and how to type it."""
    if exc.problem == PriceProblem.AMBIGUOUS_SEPARATOR:
        return _("Please use a dot for decimals: 12,5 could be 12.50 or 125. Type 12.50, say.")
    if exc.problem == PriceProblem.TOO_PRECISE:
        return _("At most two decimals (fen), like 12.50.")
    if exc.problem == PriceProblem.ZERO:
        return _("A correction of zero changes nothing: type an amount, or explain instead.")
    if exc.problem == PriceProblem.TOO_LARGE:
        return _("That is more than ¥100,000: please check the amount.")
    return _("I could not read an amount there. Type it like 12.50, or -3 to take money off.")


@router.message(Resolving.correction, is_answer, coordinator)
async def typed_correction(message: Message, turn: Turn) -> None:
    try:
        fen = payouts.parse_correction(message.text or "")
    except PriceRejected as exc:
        await turn.say(money_problem(exc))
        await ask_resolution(turn)
        return
    line = await _open_line(turn)
    dispute, payout = await payouts.resolve_with_correction(
        turn.session, turn.user, line.dispute.id, fen
    )
    await turn.state.clear()
    await turn.say(
        _(
            "✅ Dispute #{id} is resolved: payout #{payout} changed by {correction}, now "
            "{amount}. The farmer is told."
        ).format(
            id=dispute.id,
            payout=payout.id,
            correction=signed_money(fen, locale()),
            amount=format_money(payouts.amount_fen(payout), locale()),
        )
    )


@router.message(Resolving.explanation, is_answer, coordinator)
async def typed_explanation(message: Message, turn: Turn) -> None:
    explanation = payouts.check_explanation(message.text or "")
    line = await _open_line(turn)
    dispute, _payout = await payouts.resolve_with_explanation(
        turn.session, turn.user, line.dispute.id, explanation
    )
    await turn.state.clear()
    await turn.say(
        _("✅ Dispute #{id} is resolved with your explanation. The farmer is told.").format(
            id=dispute.id
        )
    )
