"""Command menus (Telegram's "/" list): one per shipped language, and a longer one in each
coordinator's and each approved merchant's chat. Registered when polling starts (a startup
hook wired by handlers.setup) and, for a promoted coordinator or an approved merchant, queued
as replies of the /promote or approval update."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import DeleteMyCommands, SetMyCommands
from aiogram.types import BotCommand, BotCommandScopeChat
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import SHIPPED_LOCALES, Settings
from bot.i18n import N_
from bot.services import coordination

log = logging.getLogger(__name__)

COMMANDS = [
    ("start", N_("Start or show the main menu")),
    ("report", N_("Report a harvest")),
    ("reports", N_("My harvest reports")),
    ("payouts", N_("My payouts")),
    ("prices", N_("Coffee prices today, and a chart")),
    ("profile", N_("My profile")),
    ("rules", N_("How the auctions work")),
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
    ("demote", N_("Take the coordinator role from a user")),
    ("audit", N_("Recent coordinator actions")),
    ("pools", N_("Harvest waiting to be sold, by pool")),
    ("auctions", N_("Open auctions and sales waiting for acceptance")),
    ("collect", N_("Sold lots to collect and weigh")),
    ("stats", N_("The programme's figures")),
    ("export", N_("All the data as CSV files")),
    ("due", N_("Payouts due: mark them paid")),
    ("disputes", N_("Open payout disputes")),
    ("setprice", N_("Set a reference price")),
]

# An approved merchant's chat adds the market.
MERCHANT_COMMANDS = [
    ("lots", N_("Lots open for bids")),
    ("mybids", N_("My bids, won lots and what I owe")),
]


def command_list(
    i18n: I18n, locale: str, commands: list[tuple[str, str]] = COMMANDS
) -> list[BotCommand]:
    """A command menu in one language."""
    return [
        BotCommand(command=command, description=i18n.gettext(msgid, locale=locale))
        for command, msgid in commands
    ]


def coordinator_menus(i18n: I18n, telegram_id: int) -> list[SetMyCommands]:
    """Coordinators see their own tools too, in a menu scoped to their chat: the calls that
    set it, for each language and the default."""
    scope = BotCommandScopeChat(chat_id=telegram_id)
    return [
        SetMyCommands(
            commands=command_list(
                i18n, locale or i18n.default_locale, COMMANDS + COORDINATOR_COMMANDS
            ),
            scope=scope,
            language_code=locale,
        )
        for locale in (None, *SHIPPED_LOCALES)
    ]


def merchant_menus(i18n: I18n, telegram_id: int) -> list[SetMyCommands]:
    """An approved merchant's menu, scoped to their chat: the market's commands first."""
    scope = BotCommandScopeChat(chat_id=telegram_id)
    return [
        SetMyCommands(
            commands=command_list(
                i18n, locale or i18n.default_locale, MERCHANT_COMMANDS + COMMANDS
            ),
            scope=scope,
            language_code=locale,
        )
        for locale in (None, *SHIPPED_LOCALES)
    ]


def former_coordinator_menus(telegram_id: int) -> list[DeleteMyCommands]:
    """A former coordinator's chat falls back to everyone's menu."""
    scope = BotCommandScopeChat(chat_id=telegram_id)
    return [
        DeleteMyCommands(scope=scope, language_code=locale) for locale in (None, *SHIPPED_LOCALES)
    ]


async def set_commands(
    bot: Bot,
    i18n: I18n,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    dispatcher: Dispatcher,
) -> None:
    """Register the command menu once per shipped language, and the default one; then each
    coordinator's (a startup hook: its arguments come from the dispatcher's workflow data).

    COORDINATOR_IDS is applied first: ids added become coordinators, and those who were
    coordinators only because of it and are no longer in it lose the role and its menu."""
    for locale in SHIPPED_LOCALES:
        await bot.set_my_commands(command_list(i18n, locale), language_code=locale)
    await bot.set_my_commands(command_list(i18n, settings.default_locale))
    async with sessionmaker() as session, session.begin():
        removed = await coordination.apply_configured_coordinators(
            session, settings.coordinator_ids
        )
        known = {user.telegram_id for user in await coordination.coordinators(session)}
        merchants = await coordination.approved_merchant_ids(session)
    for user in removed:
        key = StorageKey(bot_id=bot.id, chat_id=user.telegram_id, user_id=user.telegram_id)
        await FSMContext(dispatcher.storage, key).clear()  # a coordinator dialogue of theirs ends
        try:
            for delete in former_coordinator_menus(user.telegram_id):
                await bot(delete)
        except TelegramBadRequest:
            log.info("could not reset the menu of former coordinator %s", user.telegram_id)
    for telegram_id in sorted(known | settings.coordinator_ids):
        try:
            for method in coordinator_menus(i18n, telegram_id):
                await bot(method)
        except TelegramBadRequest:  # a configured coordinator who never opened the chat
            log.info("coordinator %s has no chat with the bot yet", telegram_id)
    # Merchants' menus were set when they were approved; this refresh (a changed command
    # list after an upgrade) runs beside polling: hundreds of merchants at Telegram's
    # distance would otherwise keep the bot from answering anyone for minutes at each start.
    refresh = asyncio.create_task(
        _refresh_merchant_menus(bot, i18n, sorted(merchants - known - settings.coordinator_ids))
    )
    _refreshing.add(refresh)
    refresh.add_done_callback(_refreshing.discard)


_refreshing: set[asyncio.Task[None]] = set()


async def _refresh_merchant_menus(bot: Bot, i18n: I18n, telegram_ids: list[int]) -> None:
    for telegram_id in telegram_ids:
        try:
            for method in merchant_menus(i18n, telegram_id):
                await bot(method)
        except TelegramBadRequest:
            log.info("could not set the menu of merchant %s", telegram_id)
        except Exception:  # a network failure: the menus stay as they were; try next start
            log.warning("refreshing merchants' menus stopped", exc_info=True)
            return


async def menus_refreshed() -> None:
    """Wait until the merchants' menus refresh begun at start is over (a benchmark measures
    after it: hundreds of Bot API calls that are no update's)."""
    await asyncio.gather(*_refreshing, return_exceptions=True)


async def stop_menu_refresh() -> None:
    """A shutdown hook: the refresh must not outlive the bot's session."""
    for task in list(_refreshing):
        task.cancel()
    await asyncio.gather(*_refreshing, return_exceptions=True)
