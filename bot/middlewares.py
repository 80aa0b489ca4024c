"""Update-level middlewares: one database session per update, locale per user."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n, I18nMiddleware
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db import current_session
from bot.i18n import pick_locale
from bot.models import ProcessedUpdate, User
from bot.services.users import ensure_user

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def user_locale(user: User | None, tg_user: TgUser | None, default: str) -> str:
    if user is not None and user.language:
        return user.language
    return pick_locale(tg_user.language_code if tg_user else None, default)


class DbSessionMiddleware(BaseMiddleware):
    """Opens the update's session, drops redelivered updates, loads the user, commits once.

    The update id is recorded in the same transaction as the handler's changes, so a
    redelivered update is a no-op and a failed one can be delivered again. Any exception is
    rolled back and answered with an apology in the user's language: no update ends unhandled.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        i18n: I18n,
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.after_commit = after_commit
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.i18n = i18n

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        tg_user: TgUser | None = data.get("event_from_user")
        locale = user_locale(None, tg_user, self.settings.default_locale)
        async with self.sessionmaker() as session:
            token = current_session.set(session)
            try:
                session.add(ProcessedUpdate(update_id=event.update_id))
                try:
                    await session.flush()
                except IntegrityError:
                    await session.rollback()
                    log.info("update %s already handled; skipped", event.update_id)
                    return UNHANDLED
                user: User | None = None
                if tg_user is not None and not tg_user.is_bot:
                    user = await ensure_user(session, tg_user.id, self.settings.coordinator_ids)
                    locale = user_locale(user, tg_user, self.settings.default_locale)
                data.update(session=session, user=user, settings=self.settings)
                result = await handler(event, data)
                await session.commit()
                self.after_commit()
                return result
            except Exception:
                log.exception("update %s failed", event.update_id)
                await session.rollback()
                chat = data.get("event_chat")
                await self._apologise(
                    event,
                    data.get("bot"),
                    chat.id if chat else None,
                    locale,
                )
                return UNHANDLED
            finally:
                current_session.reset(token)

    async def _apologise(
        self, event: Update, bot: Bot | None, chat_id: int | None, locale: str
    ) -> None:
        if bot is None:
            return
        text = self.i18n.gettext(
            "Sorry, something went wrong on our side. Your earlier answers are kept; "
            "please try again.",
            locale=locale,
        )
        if event.callback_query is not None:
            with contextlib.suppress(TelegramAPIError):  # it may have been answered already
                await bot.answer_callback_query(event.callback_query.id)
        try:
            if chat_id is not None:
                await bot.send_message(chat_id, text)
        except TelegramAPIError:
            log.warning("could not apologise for update %s", event.update_id)


class UserI18nMiddleware(I18nMiddleware):
    """The user's saved language, else their Telegram client's, else the programme default."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        return user_locale(data.get("user"), data.get("event_from_user"), self.i18n.default_locale)
