"""Anything no other handler took: say why, then ask the current question again.

Included last. A word typed where buttons are expected is read as the button it names
(`bot.labels`: emoji, case and spaces ignored), as if that button had been pressed; else the
user is told to tap one of the buttons, and the question is shown again with them. A stray
sticker, photo or voice gets the current step's question again; an old or unknown button says
the menu has expired and shows the current one.
"""

from __future__ import annotations

from typing import Any

from aiogram import Dispatcher
from aiogram.methods import SendMessage
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from bot.labels import match_label
from handlers import keyboards as kb
from handlers.common import show_menu
from handlers.prompts import ask_current
from handlers.routing import RouterRecipe
from handlers.texts import share_phone_help
from handlers.turn import Turn

router = RouterRecipe("fallback")

# Set on an update re-dispatched as the button a typed word named, so it is read only once.
TYPED_BUTTON = "typed_button"


@router.callback_query()
async def expired_button(
    callback: CallbackQuery, turn: Turn, callback_answer: CallbackAnswer
) -> None:
    callback_answer.text = _("This menu has expired. Here is the current one.")
    if not await ask_current(turn):
        await show_menu(turn)


@router.message()
async def unexpected_message(message: Message, turn: Turn, **data: Any) -> None:
    if await turn.state.get_state() is None:
        if await _typed_button(message, turn, [kb.main_menu(turn.user)], data):
            return
        if not turn.user.registered:
            await show_menu(turn)
            return
        await show_menu(
            turn, _("Sorry, I did not understand that. Please choose from the menu below.")
        )
        return
    # The current question, rendered aside: its buttons are what a typed word may name.
    markups = [
        reply.method.reply_markup
        for reply in await turn.render(ask_current)
        if isinstance(reply.method, SendMessage)
    ]
    menu = [kb.main_menu(turn.user)] if turn.user.registered else []
    if await _typed_button(message, turn, markups + menu, data):
        return
    await turn.say(_hint(message, markups))
    await ask_current(turn)


def _hint(message: Message, question: list[Any]) -> str:
    """Why the message is no answer: typed text where only buttons answer is pointed to them
    (to the share-phone button in particular); anything else is simply not an answer."""
    typed = bool(message.text) and not (message.text or "").startswith("/")
    if typed and any(_asks_contact(markup) for markup in question):
        return share_phone_help()
    if typed and any(_labels(markup) for markup in question):
        return _("Please tap one of the buttons below.")
    return _("Sorry, that is not an answer to this question.")


def _asks_contact(markup: Any) -> bool:
    return isinstance(markup, ReplyKeyboardMarkup) and any(
        b.request_contact for row in markup.keyboard for b in row
    )


def _labels(markup: Any) -> list[tuple[str, str | None, bool]]:
    """(label, callback data, is a reply-keyboard text button) of each pressable button."""
    if isinstance(markup, InlineKeyboardMarkup):
        return [
            (b.text, b.callback_data, False)
            for row in markup.inline_keyboard
            for b in row
            if b.callback_data is not None
        ]
    if isinstance(markup, ReplyKeyboardMarkup):
        return [
            (b.text, None, True)
            for row in markup.keyboard
            for b in row
            if isinstance(b, KeyboardButton) and not (b.request_contact or b.request_location)
        ]
    return []


async def _typed_button(
    message: Message, turn: Turn, markups: list[Any], data: dict[str, Any]
) -> bool:
    """Read a typed word as the button it names and handle it as that button; False when it
    names none (or this update already is such a button)."""
    if not message.text or message.text.startswith("/") or data.get(TYPED_BUTTON):
        return False
    buttons = [button for markup in markups for button in _labels(markup)]
    found = match_label(message.text, [label for label, _data, _reply in buttons])
    if found is None:
        return False
    label, callback_data, reply = buttons[found]
    dispatcher: Dispatcher = data["dispatcher"]
    context = {**data, TYPED_BUTTON: True}
    if reply:
        await dispatcher.propagate_event(
            "message", message.model_copy(update={"text": label, "entities": None}), **context
        )
        return True
    assert message.from_user is not None
    pressed = CallbackQuery(
        id=f"typed-{message.message_id}",
        from_user=message.from_user,
        chat_instance=str(turn.chat_id),
        message=None,
        data=callback_data,
    )
    # No callback query was sent, so none is answered: this answer goes nowhere.
    context["callback_answer"] = CallbackAnswer(answered=False)
    await dispatcher.propagate_event("callback_query", pressed, **context)
    return True
