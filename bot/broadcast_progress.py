"""Broadcast progress, run by the notice dispatcher every few seconds.

Each tick first finishes the broadcasts whose notices all have their outcome
(bot/services/broadcasts.settle: from the database alone, so it works after a restart, and a
broadcast without a progress message gets its report through the outbox), then edits each
running broadcast's progress message; its last edit is the final report. The counts are read
in one short transaction and the edits go out after it: no database lock is held across an
HTTP request.

A message that cannot be edited any more (the author blocked the bot: 403; it was deleted:
400 "message to edit not found" or "message can't be edited") is given up for good, recorded
in the database so it is not tried again every tick, and the report then goes through the
outbox. One broadcast's trouble never stops the others' updates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import Broadcast
from bot.services import broadcasts
from bot.services.broadcasts import Progress

log = logging.getLogger(__name__)

# Renders a broadcast's progress message; called with the author's locale active.
ProgressView = Callable[[Broadcast, Progress], tuple[str, InlineKeyboardMarkup | None]]
NOT_MODIFIED = "message is not modified"


class TryLater(Exception):
    """Telegram asked to wait or cannot be reached: no more edits this tick."""


class ProgressReporter:
    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        i18n: I18n,
        view: ProgressView | None,
        on_notices: Callable[[], None] = lambda: None,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.i18n = i18n
        self.view = view
        self.on_notices = on_notices
        self._shown: dict[int, str] = {}  # what each progress message shows now

    async def tick(self) -> None:
        async with self.sessionmaker() as session, session.begin():
            finished = await broadcasts.settle(session)
            shown = await broadcasts.shown_in_messages(session) if self.view else []
        for done in finished:
            log.info("broadcast %s finished: %s", done.broadcast_id, done.status.value)
        if any(done.reported for done in finished):
            self.on_notices()
        for broadcast, language, counts in shown:
            try:
                await self._show(broadcast, language, counts)
            except TryLater:
                return
            except Exception:  # a bug: the other broadcasts are still shown
                log.exception("progress of broadcast %s not shown", broadcast.id)

    async def _show(self, broadcast: Broadcast, language: str | None, counts: Progress) -> None:
        assert self.view is not None
        with self.i18n.context(), self.i18n.use_locale(language or self.i18n.default_locale):
            text, markup = self.view(broadcast, counts)
        if self._shown.get(broadcast.id) != text:
            try:
                await self.bot.edit_message_text(
                    text,
                    chat_id=broadcast.progress_chat_id,
                    message_id=broadcast.progress_message_id,
                    reply_markup=markup,
                )
            except TelegramForbiddenError as exc:
                await self._lost(broadcast, exc.message, author_blocked=True)
                return
            except TelegramBadRequest as exc:
                if NOT_MODIFIED not in exc.message:  # "not modified": it shows this already
                    await self._lost(broadcast, exc.message)
                    return
            except (
                TelegramRetryAfter,
                TelegramUnauthorizedError,
                TelegramNetworkError,
                TelegramServerError,
            ) as exc:
                raise TryLater from exc
        if broadcast.finished_at is not None:  # the final report is shown
            self._shown.pop(broadcast.id, None)
            async with self.sessionmaker() as session, session.begin():
                await broadcasts.progress_message_shown(session, broadcast.id)
        else:
            self._shown[broadcast.id] = text

    async def _lost(
        self, broadcast: Broadcast, reason: str, *, author_blocked: bool = False
    ) -> None:
        log.warning(
            "progress message of broadcast %s given up (%s); its report goes through the outbox",
            broadcast.id,
            reason,
        )
        self._shown.pop(broadcast.id, None)
        async with self.sessionmaker() as session, session.begin():
            reported = await broadcasts.progress_message_lost(
                session, broadcast.id, author_blocked=author_blocked
            )
        if reported:
            self.on_notices()
