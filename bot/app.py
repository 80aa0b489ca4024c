"""Builds the Bot and the Dispatcher from settings and runs them (long polling)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import BotCommand, BotCommandScopeChat
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import SHIPPED_LOCALES, Settings
from bot.db import make_engine, make_sessionmaker
from bot.i18n import N_, make_i18n
from bot.middlewares import DbSessionMiddleware, UserI18nMiddleware
from bot.notice_dispatcher import DispatcherOptions, NoticeDispatcher
from bot.notices.pacing import PacingMiddleware
from bot.scheduler import Scheduler
from bot.services import coordination
from bot.storage import SqlAlchemyStorage

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    i18n: I18n
    bot: Bot
    dp: Dispatcher
    notices: NoticeDispatcher
    scheduler: Scheduler

    async def start_background(self) -> None:
        """Notice delivery and timed jobs run beside polling, started and stopped with it."""
        await self.notices.start()
        await self.scheduler.start()

    async def stop_background(self) -> None:
        await self.drain_updates()
        await self.scheduler.stop()
        await self.notices.stop()

    async def drain_updates(self, wait_s: float = 10) -> None:
        """Let updates already being handled finish before their resources close (a Redis
        lock left held would stall that chat for a minute after a restart)."""
        # aiogram keeps no public handle on these tasks; its set is the only way to wait.
        running = set(getattr(self.dp, "_handle_update_tasks", ()))
        if running:
            await asyncio.wait(running, timeout=wait_s)

    async def close(self) -> None:
        await self.stop_background()
        await self.dp.storage.close()
        await self.dp.fsm.events_isolation.close()
        await self.bot.session.close()
        await self.engine.dispose()


def make_bot(settings: Settings) -> Bot:
    session = AiohttpSession(
        api=TelegramAPIServer.from_base(settings.telegram_api_url.rstrip("/")),
        # room for the notices in flight, besides polling and replies (aiohttp's default: 100)
        limit=settings.notice_max_in_flight + 20,
    )
    return Bot(settings.bot_token, session=session, default=DefaultBotProperties(parse_mode=None))


def _storage(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[BaseStorage, BaseEventIsolation]:
    """Dialogue state in Redis when REDIS_URL is set (several processes), else in the database."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

        redis_storage = RedisStorage.from_url(settings.redis_url)
        return redis_storage, RedisEventIsolation(redis_storage.redis)
    return SqlAlchemyStorage(sessionmaker), SimpleEventIsolation()


def build_app(settings: Settings) -> App:
    import handlers

    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    i18n = make_i18n(settings.locales_dir, settings.default_locale)
    storage, isolation = _storage(settings, sessionmaker)
    dp = Dispatcher(storage=storage, events_isolation=isolation)
    bot = make_bot(settings)
    notices = NoticeDispatcher(
        bot,
        sessionmaker,
        i18n,
        DispatcherOptions(
            rate=settings.notice_rate,
            chat_interval=settings.notice_chat_interval,
            max_in_flight=settings.notice_max_in_flight,
        ),
        progress_view=handlers.progress_view,
    )
    # Replies take their share of the notices' global rate (Telegram counts them together).
    bot.session.middleware(PacingMiddleware(notices.pacer))
    scheduler = Scheduler(sessionmaker, on_notices=notices.wake)
    dp.update.outer_middleware(
        DbSessionMiddleware(sessionmaker, settings, i18n, after_commit=notices.wake)
    )
    UserI18nMiddleware(i18n).setup(dp)
    handlers.setup(dp)
    dp["i18n"] = i18n
    dp["scheduler"] = scheduler
    app = App(settings, engine, sessionmaker, i18n, bot, dp, notices, scheduler)
    dp.startup.register(app.start_background)
    dp.shutdown.register(app.stop_background)
    # aiogram registers fsm.close as its first shutdown handler; in-flight updates must finish
    # (and release their locks) before it closes the storage, so ours runs first.
    dp.shutdown.handlers.insert(0, dp.shutdown.handlers.pop())
    return app


COMMANDS = [
    ("start", N_("Start or show the main menu")),
    ("report", N_("Report a harvest")),
    ("reports", N_("My harvest reports")),
    ("profile", N_("My profile")),
    ("language", N_("Change language")),
    ("help", N_("Help")),
    ("cancel", N_("Cancel the current step")),
]


COORDINATOR_COMMANDS = [
    ("broadcast", N_("Send an announcement")),
    ("broadcasts", N_("Scheduled and running announcements")),
    ("approve", N_("Merchants waiting for approval")),
    ("villages", N_("Villages, deep links and QR codes")),
    ("promote", N_("Make a user a coordinator")),
]


def command_list(
    i18n: I18n, locale: str, commands: list[tuple[str, str]] = COMMANDS
) -> list[BotCommand]:
    """A command menu in one language."""
    return [
        BotCommand(command=command, description=i18n.gettext(msgid, locale=locale))
        for command, msgid in commands
    ]


async def set_coordinator_commands(bot: Bot, i18n: I18n, telegram_id: int) -> None:
    """Coordinators see their own tools too, in a menu scoped to their chat."""
    scope = BotCommandScopeChat(chat_id=telegram_id)
    for locale in (None, *SHIPPED_LOCALES):
        commands = command_list(
            i18n, locale or i18n.default_locale, COMMANDS + COORDINATOR_COMMANDS
        )
        await bot.set_my_commands(commands, scope=scope, language_code=locale)


async def set_commands(app: App) -> None:
    """Register the command menu once per shipped language, and the default one."""
    for locale in SHIPPED_LOCALES:
        await app.bot.set_my_commands(command_list(app.i18n, locale), language_code=locale)
    await app.bot.set_my_commands(command_list(app.i18n, app.settings.default_locale))
    async with app.sessionmaker() as session:
        known = {user.telegram_id for user in await coordination.coordinators(session)}
    for telegram_id in sorted(known | app.settings.coordinator_ids):
        try:
            await set_coordinator_commands(app.bot, app.i18n, telegram_id)
        except TelegramBadRequest:  # a configured coordinator who never opened the chat
            log.info("coordinator %s has no chat with the bot yet", telegram_id)


async def run_polling(app: App) -> None:
    await app.bot.delete_webhook(drop_pending_updates=False)
    await set_commands(app)
    try:
        await app.dp.start_polling(
            app.bot,
            polling_timeout=app.settings.polling_timeout,
            handle_signals=True,
            close_bot_session=False,
        )
    finally:
        await app.close()
