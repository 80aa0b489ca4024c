"""Bidding in chat: quick-bid buttons, a typed price, a proxy maximum, confirmation of a price
far above the leading one.

Every bid goes through bot/services/bids.place_bid under the lot's lock; this router only
reads what the merchant typed or pressed and words the outcome. Who may bid is the service's
rule: a farmer, a pending merchant or a stranger pressing a forwarded button is told why.
"""

from __future__ import annotations

from decimal import Decimal

from aiogram import F
from aiogram.types import CallbackQuery, Message

from bot.auction import MAX_FEN_PER_KG, PriceProblem, PriceRejected, parse_price
from bot.config import Settings
from bot.models import LotStatus
from bot.scheduler import Scheduler
from bot.services import bids, lots
from bot.services.bids import ConfirmFirst, Placed
from bot.services.errors import DomainError
from handlers.callbacks import LotCb, MaximumCb, QuickBidCb
from handlers.lot_views import (
    ask_maximum,
    ask_price,
    bid_again_markup,
    confirm_markup,
    confirm_text,
    extended_note,
    not_placed_text,
    placed_text,
    price_problem,
    readings_markup,
)
from handlers.prompts import prompt
from handlers.routing import RouterRecipe
from handlers.states import Bidding
from handlers.texts import domain_problem, is_answer
from handlers.turn import Turn

router = RouterRecipe("bidding")


def confirm_above(settings: Settings) -> Decimal:
    """BID_CONFIRM_ABOVE_PERCENT as the fraction the auction rules take (20 -> 0.20)."""
    return Decimal(settings.bid_confirm_above_percent) / 100


async def place(
    turn: Turn,
    settings: Settings,
    scheduler: Scheduler,
    lot_id: int,
    *,
    price_fen: int | None = None,
    maximum_fen: int | None = None,
    confirmed: bool = False,
) -> bool:
    """Place the bid and say what it did, with fresh buttons when the merchant may bid again.

    True when it was not placed (refused by the rules, or asked back for confirmation): a
    merchant who typed it may type another price at once."""
    for fen in (price_fen, maximum_fen):
        if fen is not None and not 0 < fen <= MAX_FEN_PER_KG:  # a forged button
            problem = PriceProblem.TOO_LARGE if fen > 0 else PriceProblem.ZERO
            await turn.say(price_problem(PriceRejected(problem)))
            return True
    result = await bids.place_bid(
        turn.session,
        turn.user,
        lot_id,
        price_fen=price_fen,
        maximum_fen=maximum_fen,
        confirmed=confirmed,
        confirm_above=confirm_above(settings),
    )
    view = await lots.lot_view(turn.session, lot_id)
    if isinstance(result, ConfirmFirst):
        maximum = maximum_fen is not None
        # The open question: its buttons go at the merchant's next step, so a typo's
        # "✅ Yes" cannot be pressed later by mistake.
        await turn.ask(
            confirm_text(result, maximum), confirm_markup(lot_id, result.price_fen, maximum)
        )
        return True
    if isinstance(result, Placed):
        text = placed_text(view, result, price_fen, maximum_fen)
        if result.extended:
            text += "\n\n" + extended_note(result, settings)
            turn.after_commit(scheduler.wake_auctions)  # the close moved: so does its job
        await turn.say(text, None if result.leads else bid_again_markup(view))
        return False
    await turn.say(not_placed_text(view, result), bid_again_markup(view))
    return view.status == LotStatus.OPEN


async def _leave_typing(turn: Turn) -> None:
    if await turn.state.get_state() in (Bidding.price.state, Bidding.maximum.state):
        await turn.state.clear()


@router.callback_query(QuickBidCb.filter())
async def quick_bid(
    callback: CallbackQuery,
    callback_data: QuickBidCb,
    turn: Turn,
    settings: Settings,
    scheduler: Scheduler,
) -> None:
    await _leave_typing(turn)
    await place(
        turn,
        settings,
        scheduler,
        callback_data.lot_id,
        price_fen=callback_data.price,
        confirmed=callback_data.confirmed,
    )


@router.callback_query(MaximumCb.filter())
async def chosen_maximum(
    callback: CallbackQuery,
    callback_data: MaximumCb,
    turn: Turn,
    settings: Settings,
    scheduler: Scheduler,
) -> None:
    await _leave_typing(turn)
    await place(
        turn,
        settings,
        scheduler,
        callback_data.lot_id,
        maximum_fen=callback_data.maximum,
        confirmed=callback_data.confirmed,
    )


@router.callback_query(LotCb.filter(F.action.in_({"bid", "max"})))
async def start_typing(callback: CallbackQuery, callback_data: LotCb, turn: Turn) -> None:
    """ "✏️ Type a price" or "🤖 Set a maximum": the next message is read as that price."""
    bids.require_bidder(turn.user)
    view = await lots.lot_view(turn.session, callback_data.lot_id)
    if view.status == LotStatus.CANCELLED:
        raise DomainError("lot_cancelled")
    if view.status != LotStatus.OPEN:
        raise DomainError("lot_closed")
    await turn.state.set_state(Bidding.price if callback_data.action == "bid" else Bidding.maximum)
    await turn.state.set_data({"lot_id": view.id})
    await ask_typed(turn)


@prompt(Bidding.price, Bidding.maximum)
async def ask_typed(turn: Turn) -> None:
    lot_id = int((await turn.data()).get("lot_id", 0))
    try:
        view = await lots.lot_view(turn.session, lot_id)
    except DomainError as exc:  # gone meanwhile: nothing left to ask about
        await turn.state.clear()
        await turn.say(domain_problem(exc))
        return
    maximum = await turn.state.get_state() == Bidding.maximum.state
    await turn.say(ask_maximum(view) if maximum else ask_price(view))


@router.message(Bidding.price, is_answer)
@router.message(Bidding.maximum, is_answer)
async def typed_price(
    message: Message, turn: Turn, settings: Settings, scheduler: Scheduler
) -> None:
    """A typed price: read tolerantly, never guessed; each problem answered with how to type
    it (both readings as buttons for "9,6")."""
    maximum = await turn.state.get_state() == Bidding.maximum.state
    lot_id = int((await turn.data()).get("lot_id", 0))
    try:
        fen = parse_price(message.text or "")
    except PriceRejected as exc:
        if exc.problem == PriceProblem.AMBIGUOUS_SEPARATOR:  # asked: its buttons go later
            await turn.ask(price_problem(exc), readings_markup(lot_id, exc.readings, maximum))
        else:
            await turn.say(price_problem(exc))
        return
    state = await turn.state.get_state()
    await turn.state.clear()  # a refusal (the lot closed meanwhile) must not ask again
    if maximum:
        again = await place(turn, settings, scheduler, lot_id, maximum_fen=fen)
    else:
        again = await place(turn, settings, scheduler, lot_id, price_fen=fen)
    if again:  # below the minimum, or asked back: the next message is read as a price again
        await turn.state.set_state(state)
        await turn.state.set_data({"lot_id": lot_id})
