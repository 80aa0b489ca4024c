"""A coordinator's Confirm / Reject under a held price's notice (handlers/feed_notices.py).

The notice is redrawn with the outcome and without its buttons; a press on a price already
decided (by another coordinator, or by the feed moving on) is answered with who decided it.
Non-coordinators are refused by handlers/access.py. Rules: bot/services/held_prices.py."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from bot.services import held_prices
from bot.services.errors import DomainError
from handlers.access import CoordinatorOnly
from handlers.callbacks import HeldPriceCb
from handlers.routing import RouterRecipe
from handlers.turn import Turn

router = RouterRecipe("held_prices")


def decided_problem(exc: DomainError) -> str:
    """Why a held price cannot be decided any more, in the coordinator's words."""
    d = exc.details
    if exc.reason == "price_not_found":
        return _("That price was not found.")
    if d.get("superseded"):
        return _("The price feed has given a newer price since: this one is no longer asked about.")
    if d.get("outdated"):
        return _("This price was outdated (a newer reference price was set) and is rejected.")
    by = str(d.get("by") or "")
    if d.get("status") == "live":
        return _("This price was already confirmed by {name}.").format(name=by or "—")
    return _("This price was already rejected by {name}.").format(name=by or "—")


def outcome_line(decision: held_prices.Decision, name: str) -> str:
    if decision.outdated:
        return _(
            "✖ A newer reference price was set meanwhile, so this one is outdated and rejected."
        )
    if decision.confirmed:
        return _("✅ Confirmed by {name}: it is the reference price now.").format(name=name)
    return _("✖ Rejected by {name}: the reference price stays as it was.").format(name=name)


@router.callback_query(HeldPriceCb.filter(), CoordinatorOnly())
async def decide_held(
    callback: CallbackQuery,
    callback_data: HeldPriceCb,
    turn: Turn,
    callback_answer: CallbackAnswer,
) -> None:
    message = callback.message if isinstance(callback.message, Message) else None
    try:
        decision = await held_prices.decide(
            turn.session, turn.user, callback_data.price_id, callback_data.confirm
        )
    except DomainError as exc:
        if exc.reason not in ("price_not_found", "price_decided"):
            raise  # not a coordinator any more: handlers/refusals.py answers
        note = decided_problem(exc)
        callback_answer.text = note
        callback_answer.show_alert = True
        if message is not None and message.text:
            await turn.edit(message.message_id, f"{message.text}\n\n{note}")
        return
    line = outcome_line(decision, held_prices.who(turn.user))
    if message is not None and message.text:
        await turn.edit(message.message_id, f"{message.text}\n\n{line}")
    else:
        await turn.say(line)
