"""/prices: today's coffee prices for what the user grows or buys, a 30-day chart, and the
button that turns the daily price digest on or off.

Plain words ("价格", "多少钱", "prices", the menu's 📈 button) reach it too, at any menu and at
any dialogue step that does not expect typed text: this router is included after every
dialogue's, just before the fallback, so a step that takes free text (a name, a price, a
reason) gets it first. The prices come from bot/services/prices.board, the chart from
bot/price_chart (drawn in a worker thread).
"""

from __future__ import annotations

import unicodedata

from aiogram import F
from aiogram.filters import Command
from aiogram.methods import EditMessageReplyMarkup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import format_time

from bot import price_chart
from bot.labels import normalize_label
from bot.models import User, utcnow
from bot.services import price_views, prices
from bot.services.errors import DomainError
from bot.services.prices import Key, Line
from handlers.callbacks import DigestCb
from handlers.price_notices import key_label as code_label
from handlers.price_notices import price_line
from handlers.prompts import ask_current
from handlers.routing import RouterRecipe
from handlers.texts import locale
from handlers.turn import Turn

router = RouterRecipe("prices")

# What people type to ask for prices, as bot.labels.normalize_label reads them (no spaces,
# case or emoji; full-width forms folded), punctuation dropped too ("多少钱？").
PRICE_WORDS = frozenset(
    {
        "价格",
        "价钱",
        "多少钱",
        "咖啡价格",
        "咖啡价钱",
        "咖啡多少钱",
        "今天价格",
        "今日价格",
        "今天的价格",
        "现在价格",
        "价格多少",
        "行情",
        "今天行情",
        "咖啡行情",
        "price",
        "prices",
        "coffeeprice",
        "coffeeprices",
        "pricetoday",
        "todaysprice",
        "todaysprices",
    }
)


def asks_prices(text: str | None) -> bool:
    """True for a message that only asks for the prices (the 📈 menu button is one)."""
    if not text or text.startswith("/"):
        return False
    words = normalize_label(text)
    return "".join(c for c in words if not unicodedata.category(c).startswith("P")) in PRICE_WORDS


def key_label(key: Key) -> str:
    """ "Green bean · AA", "Fresh cherry": named as the daily digest names it."""
    return code_label(key.code)


def _line(line: Line, turn: Turn) -> str:
    return price_line(
        line.key.code,
        line.fen,
        line.yesterday_fen,
        line.auction_fen,
        line.auction_at,
        locale(),
        turn.settings.tz,
    )


def prices_text(lines: list[Line], turn: Turn) -> str:
    if not lines:
        return _(
            "📈 No prices yet. The cooperative publishes coffee prices here as soon as it has "
            "them: with daily prices on, they come to you each day."
        )
    return _("📈 Coffee prices today") + "\n\n" + "\n".join(_line(line, turn) for line in lines)


def digest_markup(user: User) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    if user.price_digest:
        builder.button(text=_("🔔 Daily prices: on — turn off"), callback_data=DigestCb(on=False))
    else:
        builder.button(text=_("🔕 Daily prices: off — turn on"), callback_data=DigestCb(on=True))
    return builder.as_markup()


async def _chart(turn: Turn, keys: list[Key]) -> None:
    """The chart of these keys (the first few), after the text: its history is read now, in
    the update's transaction; it is drawn after the commit. No chart when nothing is in the
    window."""
    now = utcnow()
    shown = keys[: price_chart.MAX_SERIES]
    found = await price_views.histories(turn.session, shown, now=now, days=price_chart.DAYS)
    if not any(h.reference or h.auctions for h in found):
        return
    series = [price_chart.Series(key_label(h.key), h.reference, h.auctions) for h in found]
    chart = price_chart.Chart(series, price_chart.words(_), now, turn.settings.tz, locale())

    async def draw() -> bytes:
        return await price_chart.render(chart)

    turn.photo_after_commit(draw, "prices.png")


async def show_prices(turn: Turn) -> None:
    """The user's prices, the toggle, then the chart (omitted when there are no prices)."""
    user = turn.user
    if not user.registered:
        raise DomainError("prices_not_registered")
    lines = await prices.board(turn.session, user, now=utcnow(), tz=turn.settings.tz)
    await turn.say(prices_text(lines, turn), digest_markup(user))
    if lines:
        await _chart(turn, [line.key for line in lines])


@router.message(Command("prices"))
@router.message(F.text.func(asks_prices))
async def prices_asked(message: Message, turn: Turn) -> None:
    """Anywhere: a dialogue's question follows again, as after /help."""
    await show_prices(turn)
    await ask_current(turn)


@router.callback_query(DigestCb.filter())
async def digest_pressed(
    callback: CallbackQuery, callback_data: DigestCb, turn: Turn, callback_answer: CallbackAnswer
) -> None:
    on = price_views.set_digest(turn.user, callback_data.on)
    if on:
        at = format_time(turn.settings.digest_time, "short", locale=locale())
        callback_answer.text = _("🔔 Daily prices are on: they come each day at {time}.").format(
            time=at
        )
    else:
        callback_answer.text = _("🔕 Daily prices are off. /prices still shows them any time.")
    if isinstance(callback.message, Message):
        turn.send(
            EditMessageReplyMarkup(
                chat_id=turn.chat_id,
                message_id=callback.message.message_id,
                reply_markup=digest_markup(turn.user),
            )
        )
