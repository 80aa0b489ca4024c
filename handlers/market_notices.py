"""What the market's notices say (registered with bot.notice_texts), with their buttons.

They are rendered when sent, in the recipient's language of that moment; the payload holds the
facts (lot, prices in fen per kg, grams) that the lot services wrote with the cause. They live
with the handlers because their buttons are the handlers' callback data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.formatting import format_datetime, format_money, format_price, format_quantity
from bot.notice_texts import Context, Rendered, renders
from handlers.callbacks import LotCb, SaleCb
from handlers.texts import grade_label, process_label, product_label


def lot_title(product: str, process: str | None, grade: str | None) -> str:
    """ "Parchment · Washed · AA": what the coffee is, in the reader's words."""
    parts = [product_label(product)]
    if process is not None:
        parts.append(process_label(process))
    if product != "cherry":
        parts.append(grade_label(grade) if grade else _("ungraded"))
    return " · ".join(parts)


def lot_name(lot_id: int) -> str:
    return _("Lot #{id}").format(id=lot_id)


def _facts(p: dict[str, Any], ctx: Context) -> dict[str, str]:
    """The usual fields of a lot's notice, formatted for the reader."""
    loc = ctx.locale
    values = {
        "lot": lot_name(int(p["lot_id"])),
        "title": lot_title(str(p["product"]), p.get("process"), p.get("grade")),
        "kg": format_quantity(int(p["grams"]), loc, _),
    }
    for key in ("price_fen", "minimum_fen"):
        if p.get(key) is not None:
            values[key.removesuffix("_fen")] = format_price(int(p[key]), loc, _)
    if p.get("total_fen") is not None:
        values["total"] = format_money(int(p["total_fen"]), loc)
    if p.get("farmer_grams") is not None:
        values["farmer_kg"] = format_quantity(int(p["farmer_grams"]), loc, _)
    if p.get("farmer_fen") is not None:
        values["farmer_value"] = format_money(int(p["farmer_fen"]), loc)
    for key in ("closes_at", "due_at"):
        if p.get(key):
            values[key] = format_datetime(datetime.fromisoformat(str(p[key])), loc, ctx.tz)
    return values


def _lot_button(lot_id: int, text: str) -> Any:
    builder = InlineKeyboardBuilder()
    builder.button(text=text, callback_data=LotCb(action="card", lot_id=lot_id))
    return builder.as_markup()


def market_notice(kind: str) -> Any:
    """Register a renderer that runs with the reader's language as the current one, so the
    handlers' labels (product names, units) come out in it."""

    def register(fn: Any) -> Any:
        def render(payload: dict[str, Any], ctx: Context) -> Rendered:
            with ctx.i18n.context(), ctx.i18n.use_locale(ctx.locale):
                result: Rendered = fn(payload, ctx)
                return result

        renders(kind)(render)
        return fn

    return register


@market_notice("lot_opened")
def _lot_opened(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _(
            "🔨 Your coffee is up for sale: {farmer_kg} of it is in {lot} ({title}, {kg} in "
            "all). Merchants can bid until {closes_at}. We will tell you the result."
        ).format_map(_facts(p, ctx))
    )


@market_notice("new_lot")
def _new_lot(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _("🆕 {lot} is open for bids: {title}, {kg}. Bidding closes at {closes_at}.").format_map(
            _facts(p, ctx)
        ),
        markup=_lot_button(int(p["lot_id"]), _("🔨 See the lot")),
    )


@market_notice("outbid")
def _outbid(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _(
            "⚠️ You were outbid on {lot} ({title}, {kg}). The leading price is now {price}; "
            "a new bid must be at least {minimum}. Bidding closes at {closes_at}."
        ).format_map(_facts(p, ctx)),
        markup=_lot_button(int(p["lot_id"]), _("🔨 Bid again")),
    )


@market_notice("closing_soon")
def _closing_soon(p: dict[str, Any], ctx: Context) -> Rendered:
    facts = _facts(p, ctx)
    return Rendered(
        _(
            "⏰ {lot} ({title}, {kg}) closes soon, at {closes_at}. The leading price is {price}."
        ).format_map(facts | {"price": facts.get("price", "—")}),
        markup=_lot_button(int(p["lot_id"]), _("🔨 See the lot")),
    )


@market_notice("lot_won")
def _lot_won(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _(
            "🏆 You won {lot} ({title}, {kg}) at {price}. Total to pay: {total}. The "
            "cooperative will tell you where and when to collect it; the weighed kilograms "
            "are what you finally pay for."
        ).format_map(_facts(p, ctx))
    )


@market_notice("lot_lost")
def _lot_lost(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _("{lot} ({title}, {kg}) was sold to another merchant at {price}.").format_map(
            _facts(p, ctx)
        )
    )


@market_notice("lot_sold")
def _lot_sold(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _(
            "✅ Sold! {lot} ({title}) was sold at {price}. Your share: {farmer_kg}, about "
            "{farmer_value} before fees. We will tell you when and where to bring it; you are "
            "paid for the weight measured there."
        ).format_map(_facts(p, ctx))
    )


@market_notice("lot_unsold")
def _lot_unsold(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _(
            "{lot} ({title}) was not sold this time. Your {farmer_kg} is back with your "
            "village's coffee and will be offered again."
        ).format_map(_facts(p, ctx))
    )


@market_notice("lot_cancelled")
def _lot_cancelled(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _(
            "The auction of {lot} ({title}) was cancelled by the cooperative. Your {farmer_kg} "
            "is back with your village's coffee and will be offered again."
        ).format_map(_facts(p, ctx))
    )


@market_notice("bids_void")
def _bids_void(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _(
            "The auction of {lot} ({title}, {kg}) was cancelled by the cooperative; your bids "
            "on it no longer count."
        ).format_map(_facts(p, ctx))
    )


@market_notice("acceptance_needed")
def _acceptance_needed(p: dict[str, Any], ctx: Context) -> Rendered:
    lot_id = int(p["lot_id"])
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Accept the sale"), callback_data=SaleCb(lot_id=lot_id, accept=True))
    builder.button(text=_("✖ Reject"), callback_data=SaleCb(lot_id=lot_id, accept=False))
    return Rendered(
        _(
            "🔔 {lot} ({title}, {kg}) closed at {price} (total {total}). It waits for your "
            "acceptance before it is sold. Without an answer by {due_at} the sale is rejected "
            "and the coffee goes back to the pool."
        ).format_map(_facts(p, ctx)),
        markup=builder.as_markup(),
    )


@market_notice("sale_awaiting")
def _sale_awaiting(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _(
            "Bidding on {lot} ({title}, {kg}) is over and your bid of {price} is the best. "
            "The cooperative confirms the sale by {due_at}; we will tell you."
        ).format_map(_facts(p, ctx))
    )


@market_notice("sale_rejected")
def _sale_rejected(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _(
            "The cooperative did not accept the sale of {lot} ({title}, {kg}) at {price}, "
            "so it is not sold to you; the coffee may be offered again."
        ).format_map(_facts(p, ctx))
    )


@market_notice("acceptance_expired")
def _acceptance_expired(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _(
            "⌛ Nobody accepted the sale of {lot} ({title}, {kg}) at {price} in time, so it was "
            "rejected. The coffee is back in its pool and the merchants and farmers were told."
        ).format_map(_facts(p, ctx))
    )
