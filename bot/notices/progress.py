"""Live progress of running broadcasts: the progress message is edited every few seconds, and
its last edit is the final report."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.models import Broadcast, BroadcastStatus, User
from bot.notices.sending import TRANSIENT
from bot.services import broadcasts
from bot.services.broadcasts import Progress

log = logging.getLogger(__name__)

# Renders a broadcast's progress message; called with the coordinator's locale active.
ProgressView = Callable[[Broadcast, Progress], tuple[str, InlineKeyboardMarkup | None]]


class ProgressReporter:
    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        engine: AsyncEngine,
        i18n: I18n,
        view: ProgressView,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.engine = engine
        self.i18n = i18n
        self.view = view
        self._shown: dict[int, str] = {}

    async def report(self) -> None:
        """Edit each running broadcast's progress message; the last edit is the report.

        The counts are read (and a finished broadcast marked done) in one short transaction;
        the edits go out after it, so no database lock is held across an HTTP request."""
        reports: list[tuple[Broadcast, str | None, Progress]] = []
        async with self.sessionmaker() as session, session.begin():
            rows = await session.execute(
                select(Broadcast, User.language)
                .join(User, User.id == Broadcast.created_by)
                .where(
                    Broadcast.progress_message_id.is_not(None),
                    Broadcast.status != BroadcastStatus.SCHEDULED,
                )
            )
            for broadcast, language in rows.all():
                done = await broadcasts.progress(session, broadcast)
                await broadcasts.finish_if_done(session, broadcast, done)
                reports.append((broadcast, language, done))
        for broadcast, language, done in reports:
            with (
                self.i18n.context(),
                self.i18n.use_locale(language or self.i18n.default_locale),
            ):
                text, markup = self.view(broadcast, done)
            if self._shown.get(broadcast.id) == text:
                continue
            try:
                await self.bot.edit_message_text(
                    text,
                    chat_id=broadcast.progress_chat_id,
                    message_id=broadcast.progress_message_id,
                    reply_markup=markup,
                )
            except TelegramBadRequest as exc:
                log.info("progress of broadcast %s not edited: %s", broadcast.id, exc)
            except (TelegramRetryAfter, *TRANSIENT):
                continue
            if broadcast.status in (BroadcastStatus.DONE, BroadcastStatus.CANCELLED):
                self._shown.pop(broadcast.id, None)
                async with self.engine.begin() as conn:  # the final report is shown
                    await conn.execute(
                        update(Broadcast)
                        .where(Broadcast.id == broadcast.id)
                        .values(progress_message_id=None)
                    )
            else:
                self._shown[broadcast.id] = text
