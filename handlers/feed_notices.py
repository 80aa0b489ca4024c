"""What the price feed's notices to coordinators say (registered with bot.notice_texts): a price
held for moving too far (with Confirm / Reject), the feed failing, and the feed back.

Rendered when sent, in the recipient's language, from the facts bot.services.price_feed wrote
(fen, the move in percent as a string, times as ISO, the failure's reason and facts)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.numbers import format_decimal

from bot.formatting import format_count, format_datetime, format_price
from bot.notice_texts import Context, Rendered
from handlers.callbacks import HeldPriceCb
from handlers.market_notices import lot_title, market_notice


def price_title(product: str, grade: str | None) -> str:
    """ "Green bean · AA", "Fresh cherry": what a price is of."""
    return lot_title(product, None, grade)


def signed_percent(change: str, locale: str) -> str:
    """ "+42.9%", "-20%": a move, with its direction."""
    value = Decimal(change)
    sign = "+" if value > 0 else "-" if value < 0 else ""
    return f"{sign}{format_decimal(abs(value), locale=locale)}%"


def held_buttons(price_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Confirm"), callback_data=HeldPriceCb(price_id=price_id, confirm=True))
    builder.button(text=_("✖ Reject"), callback_data=HeldPriceCb(price_id=price_id, confirm=False))
    return builder.as_markup()


def held_text(p: dict[str, Any], locale: str) -> str:
    """A held price, the reference it would replace and how far it moved."""
    title = price_title(str(p["product"]), p.get("grade"))
    price = format_price(int(p["fen_per_kg"]), locale, _)
    if p.get("previous_fen") is None or p.get("change") is None:
        line = _("⏸ A new price from the price feed waits for you: {title} {price}.").format(
            title=title, price=price
        )
    else:
        line = _(
            "⏸ The price feed moved {title} a long way: {price}, was {previous} ({change})."
        ).format(
            title=title,
            price=price,
            previous=format_price(int(p["previous_fen"]), locale, _),
            change=signed_percent(str(p["change"]), locale),
        )
    return (
        line
        + "\n"
        + _(
            "Nobody is told until a coordinator confirms it. Confirmed, it becomes the reference "
            "price; rejected, the reference stays as it is."
        )
    )


@market_notice("price_held")
def _price_held(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(held_text(p, ctx.locale), markup=held_buttons(int(p["price_id"])))


def failure_reason(p: dict[str, Any]) -> str:
    reason = p.get("reason")
    if reason == "timeout":
        return _("it did not answer in time")
    if reason == "http":
        return _("it answered with an error (HTTP {status})").format(status=p.get("status", "?"))
    if reason == "malformed":
        return _("its data could not be read")
    if reason == "absurd":
        return _(
            "it gave an implausible value: {field} = {value} (expected {low} to {high})"
        ).format(
            field=p.get("field", "?"),
            value=p.get("value", "?"),
            low=p.get("low", "?"),
            high=p.get("high", "?"),
        )
    return _("it could not be reached")


@market_notice("price_feed_down")
def _feed_down(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _(
            "⚠️ The price feed is failing since {time}: {reason}. The last good prices stay in "
            "use. It is tried again automatically, and you will be told when it works again."
        ).format(
            time=format_datetime(datetime.fromisoformat(str(p["since"])), ctx.locale, ctx.tz),
            reason=failure_reason(p),
        )
    )


@market_notice("price_feed_up")
def _feed_up(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _("✅ The price feed works again. It had failed since {time} ({count} attempts).").format(
            time=format_datetime(datetime.fromisoformat(str(p["since"])), ctx.locale, ctx.tz),
            count=format_count(int(p.get("failures") or 0), ctx.locale),
        )
    )
