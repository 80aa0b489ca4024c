"""Coordinators' figures and exports: /stats (the programme's figures for this month, this
season or all, switched with buttons) and /export (every table as a CSV document).

The figures and the files are the services' (bot/services/figures.py, exports.py); this
router renders them. An export is read after the update commits, one short transaction per
file, and the coordinator sees a progress message move as the files are made: no database
transaction is held across a call to Telegram."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from functools import partial

from aiogram import Bot
from aiogram.filters import Command
from aiogram.methods import EditMessageText, SendDocument, SendMessage
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.formatting import format_count, format_date, format_money, format_price, format_quantity
from bot.models import User, utcnow
from bot.replies import OnSent, Replies, Reply, ReplySender
from bot.services import exports
from bot.services.errors import DomainError
from bot.services.figures import Figures, figures
from bot.services.periods import Period, span
from handlers.access import CoordinatorOnly
from handlers.callbacks import FiguresCb
from handlers.routing import RouterRecipe
from handlers.texts import MENU_EXPORT, MENU_STATS, domain_problem, is_menu, locale
from handlers.turn import Turn

log = logging.getLogger(__name__)
router = RouterRecipe("figures")
coordinator = CoordinatorOnly()

DEFAULT_PERIOD = Period.SEASON


def period_label(period: Period) -> str:
    return {
        Period.MONTH: _("This month"),
        Period.SEASON: _("This season"),
        Period.ALL: _("All"),
    }[period]


def period_buttons(shown: Period) -> InlineKeyboardMarkup:
    """One button a period; the one shown is marked."""
    builder = InlineKeyboardBuilder()
    for period in Period:
        label = period_label(period)
        builder.button(
            text=f"• {label} •" if period == shown else label,
            callback_data=FiguresCb(period=period.value),
        )
    builder.adjust(3)
    return builder.as_markup()


def figures_text(f: Figures, settings: Settings) -> str:
    """The figures in the reader's language, numbers and money the locale's way (Babel)."""
    lang = locale()
    span_ = f.span
    if span_.start is not None and span_.end is not None:
        last = span_.end - timedelta(days=1)
        heading = _("📊 Figures: {period} ({start} – {end})").format(
            period=period_label(span_.period),
            start=format_date(span_.start, lang, settings.tz),
            end=format_date(last, lang, settings.tz),
        )
    else:
        heading = _("📊 Figures: {period}").format(period=period_label(span_.period))
    n = partial(format_count, locale=lang)
    weight = partial(format_quantity, locale=lang, translate=_)
    lines = [heading, ""]
    lines.append(_("Farmers registered: {count}").format(count=n(f.farmers)))
    lines += [
        _("  · {village}: {count}").format(village=v.village, count=n(v.farmers))
        for v in f.farmers_by_village
    ]
    lines.append(
        _("Harvest reported: {kg} (reports: {reports})").format(
            kg=weight(f.reported_grams), reports=n(f.reports)
        )
    )
    lines.append(
        _("Lots: {opened} opened, {sold} sold, {unsold} unsold").format(
            opened=n(f.lots_opened), sold=n(f.lots_sold), unsold=n(f.lots_unsold)
        )
    )
    lines.append(
        _("Sold: {kg} for {value} ({invoiced} of it invoiced)").format(
            kg=weight(f.sold_grams),
            value=format_money(f.sales_fen, lang),
            invoiced=format_money(f.invoiced_fen, lang),
        )
    )
    average = f.average_fen_per_kg
    lines.append(
        _("Average price: {price}").format(
            price=format_price(average, lang, _) if average is not None else "—"
        )
    )
    lines.append(
        _("Merchants: {approved} approved, {active} active (bid in this period)").format(
            approved=n(f.merchants_approved), active=n(f.merchants_active)
        )
    )
    lines.append(
        _("Payouts: {scheduled} scheduled ({scheduled_value}), {paid} paid ({paid_value})").format(
            scheduled=n(f.payouts_scheduled),
            scheduled_value=format_money(f.payouts_scheduled_fen, lang),
            paid=n(f.payouts_paid),
            paid_value=format_money(f.payouts_paid_fen, lang),
        )
    )
    lines.append(
        _("Disputed payouts: {disputed} (open disputes: {open})").format(
            disputed=n(f.payouts_disputed), open=n(f.disputes_open)
        )
    )
    return "\n".join(lines)


async def _figures(turn: Turn, settings: Settings, period: Period) -> str | None:
    """The figures' text, or None after saying why there are none for this user."""
    try:
        found = await figures(
            turn.session,
            turn.user,
            span(period, utcnow(), settings.tz, settings.season_start),
        )
    except DomainError as exc:
        await turn.say(domain_problem(exc))
        return None
    return figures_text(found, settings)


@router.message(Command("stats"), coordinator)
@router.message(is_menu(MENU_STATS), coordinator)
async def show_stats(message: Message, turn: Turn, settings: Settings) -> None:
    text = await _figures(turn, settings, DEFAULT_PERIOD)
    if text is not None:
        await turn.say(text, period_buttons(DEFAULT_PERIOD))


@router.callback_query(FiguresCb.filter(), coordinator)
async def switch_period(
    callback: CallbackQuery,
    callback_data: FiguresCb,
    callback_answer: CallbackAnswer,
    turn: Turn,
    settings: Settings,
) -> None:
    try:
        period = Period(callback_data.period)
    except ValueError:
        callback_answer.text = _("This button is no longer valid. Send /stats again.")
        return
    text = await _figures(turn, settings, period)
    if text is not None and isinstance(callback.message, Message):
        await turn.edit(callback.message.message_id, text, period_buttons(period))


# --- Export ------------------------------------------------------------------------------------


class ExportJob:
    """Makes the CSV files after the /export update committed and sends them: a progress
    message edited after each file, then one document a file. Texts are rendered in the
    handler (the reader's language is known there)."""

    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        chat_id: int,
        user_id: int,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.chat_id = chat_id
        self.user_id = user_id
        self.sender = ReplySender(sessionmaker)
        self.progress = _("⏳ Preparing export… {done}/{total}")
        self.done = _("✅ Export ready: {files} CSV files, {rows} rows.")
        self.refused = _("The export stopped: you are no longer a coordinator.")
        self.failed = _("The export failed. Please try /export again later.")
        self.message_id: int | None = None

    async def _send(
        self, method: SendMessage | EditMessageText | SendDocument, on_sent: OnSent | None = None
    ) -> None:
        await self.sender.deliver(self.bot, Replies(queued=[Reply(method, on_sent)]))

    async def _record(self, session: AsyncSession, message: object) -> None:
        if isinstance(message, Message):
            self.message_id = message.message_id

    async def _say_progress(self, text: str) -> None:
        if self.message_id is None:
            await self._send(SendMessage(chat_id=self.chat_id, text=text), self._record)
        else:
            await self._send(
                EditMessageText(chat_id=self.chat_id, message_id=self.message_id, text=text)
            )

    async def run(self) -> None:
        try:
            await self._run()
        except Exception:
            log.exception("export for chat %s failed", self.chat_id)
            await self._say_progress(self.failed)

    async def _run(self) -> None:
        total = len(exports.TABLES)
        await self._say_progress(self.progress.format(done=0, total=total))
        files: list[tuple[str, bytes]] = []
        rows = 0
        for done, table in enumerate(exports.TABLES, 1):
            # One short transaction a file (SQLite's is the write lock); none across a send.
            made: tuple[bytes, int] | None = None
            async with self.sessionmaker() as session, session.begin():
                viewer = await session.get(User, self.user_id)
                if viewer is not None:
                    with contextlib.suppress(DomainError):
                        made = await exports.table_bytes(session, viewer, table, self.settings.tz)
            if made is None:
                await self._say_progress(self.refused)
                return
            data, count = made
            files.append((table.filename, data))
            rows += count
            await self._say_progress(self.progress.format(done=done, total=total))
        for filename, data in files:
            await self._send(
                SendDocument(
                    chat_id=self.chat_id, document=BufferedInputFile(data, filename=filename)
                )
            )
        await self._say_progress(self.done.format(files=total, rows=rows))


@router.message(Command("export"), coordinator)
@router.message(is_menu(MENU_EXPORT), coordinator)
async def export(
    message: Message,
    turn: Turn,
    bot: Bot,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    try:
        await exports.start_export(turn.session, turn.user)
    except DomainError as exc:
        await turn.say(domain_problem(exc))
        return
    job = ExportJob(bot, sessionmaker, settings, turn.chat_id, turn.user.id)
    turn.after_commit(job.run)
