"""Builds the Bot and the Dispatcher from settings and runs them (long polling)."""

from __future__ import annotations

import asyncio
import gc
import logging
from dataclasses import dataclass

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import price_chart
from bot.config import Settings
from bot.db import database_slots, make_engine, make_sessionmaker
from bot.i18n import make_i18n
from bot.middlewares import DbSessionMiddleware, UserI18nMiddleware
from bot.notice_dispatcher import DispatcherOptions, NoticeDispatcher
from bot.notices.pacing import PacingMiddleware
from bot.polling import UpdateDispatcher
from bot.response_types import KeepResponseTypes
from bot.scheduler import Market, PayoutReminders, Retention, Scheduler
from bot.services.price_feed import FeedConfig
from bot.services.price_pushes import PushRules
from bot.storage import DestinyKeyBuilder, SqlAlchemyStorage

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    i18n: I18n
    bot: Bot
    dp: UpdateDispatcher
    notices: NoticeDispatcher
    scheduler: Scheduler

    async def start_background(self) -> None:
        """Notice delivery and timed jobs run beside polling, started and stopped with it."""
        await self.notices.start()
        await self.scheduler.start()

    async def stop_background(self) -> None:
        await self.dp.drain()
        await self.scheduler.stop()
        await self.notices.stop()

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
    session.middleware(KeepResponseTypes())
    return Bot(settings.bot_token, session=session, default=DefaultBotProperties(parse_mode=None))


def _storage(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[BaseStorage, BaseEventIsolation]:
    """Dialogue state in Redis when REDIS_URL is set (several processes), else in the database."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

        keys = DestinyKeyBuilder()
        redis_storage = RedisStorage.from_url(settings.redis_url, key_builder=keys)
        return redis_storage, RedisEventIsolation(redis_storage.redis, key_builder=keys)
    return SqlAlchemyStorage(sessionmaker), SimpleEventIsolation()


def build_app(settings: Settings) -> App:
    import handlers

    engine = make_engine(settings.database_url, pool_size=settings.database_pool_size)
    sessionmaker = make_sessionmaker(engine)
    i18n = make_i18n(settings.locales_dir, settings.default_locale)
    storage, isolation = _storage(settings, sessionmaker)
    # Drains in-flight updates before aiogram closes the storage (bot.polling).
    dp = UpdateDispatcher(storage=storage, events_isolation=isolation)
    bot = make_bot(settings)
    notices = NoticeDispatcher(
        bot,
        sessionmaker,
        i18n,
        DispatcherOptions(
            rate=settings.notice_rate,
            chat_interval=settings.notice_chat_interval,
            max_in_flight=settings.notice_max_in_flight,
            programme=settings.programme_name,
            timezone=settings.timezone,
        ),
        progress_view=handlers.progress_view,
    )
    # Replies take their share of the notices' global rate (Telegram counts them together).
    bot.session.middleware(PacingMiddleware(notices.pacer))
    scheduler = Scheduler(
        sessionmaker,
        on_notices=notices.wake,
        retention=Retention.from_settings(settings),
        market=Market.from_settings(settings),
        reminders=PayoutReminders.from_settings(settings),
        price_rules=PushRules.from_settings(settings),
        feed=FeedConfig.from_settings(settings),
    )
    dp.update.outer_middleware(
        DbSessionMiddleware(
            sessionmaker,
            settings,
            i18n,
            after_commit=notices.wake,
            slots=database_slots(engine),
        )
    )
    UserI18nMiddleware(i18n).setup(dp)
    handlers.setup(dp)
    dp["i18n"] = i18n
    dp["settings"] = settings
    dp["sessionmaker"] = sessionmaker
    dp["scheduler"] = scheduler
    app = App(settings, engine, sessionmaker, i18n, bot, dp, notices, scheduler)
    dp.startup.register(app.start_background)
    dp.shutdown.register(app.stop_background)
    return app


def freeze_startup_heap() -> None:
    """Set aside, for the collector, everything the process has built by now (modules, the
    app, catalogs, fonts): it lives as long as the process. Each full collection scanned all
    of it, some 300,000 objects, holding every update for about 0.3 s; now it scans what
    updates made since (gc.freeze)."""
    gc.collect()
    gc.freeze()


async def run_polling(app: App) -> None:
    await asyncio.to_thread(price_chart.prepare)  # before any update is waiting for it
    freeze_startup_heap()
    await app.bot.delete_webhook(drop_pending_updates=False)
    try:
        await app.dp.start_polling(
            app.bot,
            polling_timeout=app.settings.polling_timeout,
            handle_signals=True,
            close_bot_session=False,
        )
    finally:
        await app.close()
