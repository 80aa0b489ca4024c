"""A rule's refusal, answered in one place: say why, then ask the current question again.

Handlers call services and let a DomainError escape; this middleware (around every message
and callback query handler) turns it into the problem in the user's words followed by the
question of the dialogue step the user is at (none when no dialogue is running). A handler
that must move the dialogue elsewhere first (clear it, go back a step) catches the error, does
that, and raises it again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

from bot.services.errors import DomainError
from handlers.prompts import ask_current
from handlers.texts import domain_problem
from handlers.turn import Turn


class RefusalMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        except DomainError as exc:
            turn: Turn | None = data.get("turn")
            if turn is None:
                raise
            await turn.say(domain_problem(exc))
            await ask_current(turn)
            return None
