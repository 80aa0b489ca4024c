"""Who is being answered in this update: chat, user, state and session in one argument."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import User

Markup = Any


@dataclass
class Turn:
    """Injected into handlers as `turn`; prompts use it to ask their question again."""

    bot: Bot
    chat_id: int
    state: FSMContext
    user: User
    session: AsyncSession

    async def say(self, text: str, markup: Markup = None) -> Message:
        return await self.bot.send_message(self.chat_id, text, reply_markup=markup)

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
            data["turn"] = Turn(data["bot"], chat_id, state, user, data["session"])
        return await handler(event, data)


async def mark_answered(callback: CallbackQuery, text: str) -> None:
    """Replace a question's buttons with the answer given, so old buttons cannot be pressed."""
    await callback.answer()
    if isinstance(callback.message, Message):
        try:
            await callback.message.edit_text(text, reply_markup=None)
        except TelegramBadRequest:
            pass
