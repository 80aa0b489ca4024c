"""What the price pushes say (registered with bot.notice_texts): the daily digest and an alert.

Rendered when sent, in the recipient's language of that moment, from the facts
bot/services/price_pushes.py wrote (keys like "green/AA", prices in fen per kg, moments as
ISO in UTC).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from bot.formatting import format_change, format_date, format_day, format_price
from bot.notice_texts import Context, Rendered
from bot.services.prices import Key, change_percent
from handlers.market_notices import lot_title, market_notice


def key_label(code: str) -> str:
    """ "Green bean · AA", "Fresh cherry": a product and grade in the reader's words."""
    key = Key.from_code(code)
    return lot_title(key.product.value, None, key.grade.value if key.grade else None)


def _footer() -> str:
    return _("/prices for the chart · turn off in /prices")


def price_line(
    code: str,
    fen: int | None,
    yesterday_fen: int | None,
    auction_fen: int | None,
    auction_at: datetime | None,
    loc: str,
    tz: ZoneInfo,
) -> str:
    """One product and grade as /prices and the daily digest both word it: the reference
    price and its change since yesterday, then the latest auction price and its day."""
    name = key_label(code)
    if fen is None:
        text = _("• {name}: no reference price yet").format(name=name)
    else:
        text = _("• {name}: {price}").format(name=name, price=format_price(fen, loc, _))
        text = _beside(text, _since_yesterday(fen, yesterday_fen, loc))
    if auction_fen is not None and auction_at is not None:
        text += "\n" + _("   Latest auction: {price} on {day}").format(
            price=format_price(auction_fen, loc, _), day=format_date(auction_at, loc, tz)
        )
    return text


def _since_yesterday(fen: int, yesterday_fen: int | None, loc: str) -> str:
    """Since the start of today: "(+5.0% since yesterday)", unchanged, or new today."""
    if yesterday_fen is None:
        return _("(new today)")
    change = change_percent(yesterday_fen, fen)
    if not change:
        return _("(unchanged since yesterday)")
    return _("({change} since yesterday)").format(change=format_change(change, loc))


def _beside(text: str, note: str) -> str:
    """A note in brackets after the text: a full-width bracket (Chinese) takes no space."""
    return text + ("" if note.startswith("（") else " ") + note


def _digest_line(item: dict[str, Any], ctx: Context) -> str:
    fen, auction_fen, at = item.get("fen"), item.get("auction_fen"), item.get("auction_at")
    return price_line(
        str(item["key"]),
        None if fen is None else int(fen),
        item.get("yesterday_fen"),
        None if auction_fen is None else int(auction_fen),
        datetime.fromisoformat(str(at)) if at else None,
        ctx.locale,
        ctx.tz,
    )


@market_notice("price_digest")
def _digest(p: dict[str, Any], ctx: Context) -> Rendered:
    day = format_day(date.fromisoformat(str(p["day"])), ctx.locale)
    lines = [_("📈 Coffee prices, {day}").format(day=day)]
    lines += [_digest_line(item, ctx) for item in p.get("lines") or []]
    return Rendered("\n".join(lines) + "\n\n" + _footer())


@market_notice("price_alert")
def _alert(p: dict[str, Any], ctx: Context) -> Rendered:
    fen, before = int(p["fen"]), int(p["told_fen"])
    change = change_percent(before, fen)
    text = _(
        "⚠️ Price alert: {name} is now {price}, {change} since the last price we sent you "
        "({before})."
    ).format(
        name=key_label(str(p["key"])),
        price=format_price(fen, ctx.locale, _),
        change=format_change(change, ctx.locale) if change is not None else "",
        before=format_price(before, ctx.locale, _),
    )
    return Rendered(text + "\n\n" + _footer())
