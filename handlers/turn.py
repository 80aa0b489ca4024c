"""Who is being answered in this update: chat, user, state and session in one argument.

Replies are queued, not sent: DbSessionMiddleware sends them in order after the update's
transaction commits (bot/replies.py), so a reply Telegram refuses never undoes what the user
did. A callback query is answered there too; a handler that wants a text or an alert on it
sets them on its `callback_answer: CallbackAnswer` argument.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.fsm.context import FSMContext
from aiogram.methods import EditMessageText, SendMessage, SendPhoto, TelegramMethod
from aiogram.types import CallbackQuery, InputFile, Message, TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.models import User
from bot.replies import Hook, OnSent, Replies

Markup = Any


@dataclass
class Turn:
    """Injected into handlers as `turn`; prompts use it to ask their question again."""

    bot: Bot
    chat_id: int
    state: FSMContext
    user: User
    session: AsyncSession
    replies: Replies
    settings: Settings

    async def say(self, text: str, markup: Markup = None, *, on_sent: OnSent | None = None) -> None:
        """Queue a message to this chat. `on_sent(session, message)` runs after it is sent,
        in a short transaction of its own (to record the message id, say)."""
        self.send(SendMessage(chat_id=self.chat_id, text=text, reply_markup=markup), on_sent)

    async def photo(self, photo: str | InputFile, caption: str | None = None) -> None:
        self.send(SendPhoto(chat_id=self.chat_id, photo=photo, caption=caption))

    async def edit(self, message_id: int, text: str, markup: Markup = None) -> None:
        """Queue an edit of one of the bot's messages in this chat (its buttons go unless
        `markup` is given); an edit Telegram refuses is logged and skipped."""
        self.send(
            EditMessageText(
                chat_id=self.chat_id, message_id=message_id, text=text, reply_markup=markup
            )
        )

    async def mark_answered(self, callback: CallbackQuery, text: str) -> None:
        """Replace a question's buttons with the answer given, so old buttons cannot be
        pressed again."""
        if isinstance(callback.message, Message):
            await self.edit(callback.message.message_id, text)

    def send(self, method: TelegramMethod[Any], on_sent: OnSent | None = None) -> None:
        """Queue any Bot API call to go out after the commit, in order with the others."""
        self.replies.add(method, on_sent)

    def after_commit(self, hook: Hook) -> None:
        """Run `hook` (plain or async) once this update's changes are committed."""
        self.replies.after_commit(hook)

    async def data(self) -> dict[str, Any]:
        return await self.state.get_data()


class TurnMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        chat = data.get("event_chat")
        from_user = data.get("event_from_user")
        user = data.get("user")
        state = data.get("state")
        chat_id = chat.id if chat else from_user.id if from_user else None
        if user is not None and state is not None and chat_id is not None:
            data["turn"] = Turn(
                data["bot"],
                chat_id,
                state,
                user,
                data["session"],
                data["replies"],
                data["settings"],
            )
        return await handler(event, data)
