"""Anything no other handler took: say why, then ask the current question again.

Included last. A stray text, sticker, photo or voice gets the current step's question again; an
old or unknown button says the menu has expired and shows the current one.
"""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from handlers.common import show_menu
from handlers.prompts import ask_current
from handlers.routing import RouterRecipe
from handlers.turn import Turn

router = RouterRecipe("fallback")


@router.callback_query()
async def expired_button(
    callback: CallbackQuery, turn: Turn, callback_answer: CallbackAnswer
) -> None:
    callback_answer.text = _("This menu has expired. Here is the current one.")
    if not await ask_current(turn):
        await show_menu(turn)


@router.message()
async def unexpected_message(message: Message, turn: Turn) -> None:
    if await turn.state.get_state() is not None:
        await turn.say(_("Sorry, that is not an answer to this question."))
        await ask_current(turn)
        return
    if not turn.user.registered:
        await show_menu(turn)
        return
    await show_menu(turn, _("Sorry, I did not understand that. Please choose from the menu below."))
