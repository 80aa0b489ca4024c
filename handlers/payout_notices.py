"""What payout and dispute notices say (registered with bot.notice_texts), with their buttons.

Rendered when sent, in the recipient's language of that moment, from the facts the payout
services wrote (bot.services.payouts.payout_facts: fen, grams, the pay date as ISO). A
farmer's payout notices carry "⚠️ This is wrong"; a coordinator's dispute notice carries the
two ways to resolve it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.formatting import format_day, format_money, format_price, format_quantity
from bot.notice_texts import Context, Rendered
from handlers.callbacks import DisputeCb, ResolveCb
from handlers.collection_texts import fee_label
from handlers.market_notices import lot_name, market_notice


def signed_money(fen: int, locale: str) -> str:
    """ "+¥12.50" or "-¥3.00": a correction, with its direction."""
    return ("+" if fen > 0 else "-") + format_money(abs(fen), locale)


def payout_items(p: dict[str, Any], locale: str) -> str:
    """The itemised amount: weight and price, gross, each fee, corrections, what is paid."""
    lines = [
        _("Weighed: {kg} at {price}").format(
            kg=format_quantity(int(p["grams"]), locale, _),
            price=format_price(int(p["price_fen"]), locale, _),
        ),
        _("Gross: {amount}").format(amount=format_money(int(p["gross_fen"]), locale)),
    ]
    for name, fen in dict(p.get("fees") or {}).items():  # in the configured order
        lines.append(
            _("{fee}: −{amount}").format(
                fee=fee_label(str(name)), amount=format_money(int(fen), locale)
            )
        )
    if int(p.get("correction_fen") or 0):
        lines.append(
            _("Correction: {amount}").format(amount=signed_money(int(p["correction_fen"]), locale))
        )
    amount = int(p.get("amount_fen", int(p["net_fen"]) + int(p.get("correction_fen") or 0)))
    lines.append(_("To be paid: {amount}").format(amount=format_money(amount, locale)))
    return "\n".join(lines)


def wrong_button(payout_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("⚠️ This is wrong"), callback_data=DisputeCb(action="open", payout_id=payout_id)
    )
    return builder.as_markup()


def resolve_buttons(dispute_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("✏️ Correct the amount"), callback_data=ResolveCb(action="fix", dispute_id=dispute_id)
    )
    builder.button(
        text=_("💬 Explain, no change"),
        callback_data=ResolveCb(action="explain", dispute_id=dispute_id),
    )
    builder.adjust(1)
    return builder.as_markup()


def _day(p: dict[str, Any], locale: str) -> str:
    return format_day(date.fromisoformat(str(p["due_on"])), locale)


@market_notice("payout_scheduled")
def _payout_scheduled(p: dict[str, Any], ctx: Context) -> Rendered:
    """Written when a lot's collection is completed, one per delivered report."""
    heading = (
        _("💴 Your payout for report #{number} in {lot} is scheduled for {day}.")
        if p.get("farmer_seq")
        else _("💴 Your payout for {lot} is scheduled for {day}.")
    )
    return Rendered(
        heading.format(
            number=p.get("farmer_seq"), lot=lot_name(int(p["lot_id"])), day=_day(p, ctx.locale)
        )
        + "\n\n"
        + payout_items(p, ctx.locale),
        markup=wrong_button(int(p["payout_id"])),
    )


@market_notice("payout_paid")
def _payout_paid(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _(
            "✅ Paid: {amount} for {lot} was sent to you. Transfer reference: {reference}. "
            "If it has not arrived in a few days, tell the cooperative."
        ).format(
            amount=format_money(int(p["amount_fen"]), ctx.locale),
            lot=lot_name(int(p["lot_id"])),
            reference=p.get("reference") or "—",
        )
        + "\n\n"
        + payout_items(p, ctx.locale),
        markup=wrong_button(int(p["payout_id"])),
    )


@market_notice("payout_reminder")
def _payout_reminder(p: dict[str, Any], ctx: Context) -> Rendered:
    lines = [
        _("🔔 Payouts due on {day}: {count}, {total} in all.").format(
            day=_day(p, ctx.locale),
            count=int(p["count"]),
            total=format_money(int(p["total_fen"]), ctx.locale),
        )
    ]
    listed = list(p.get("payouts") or [])
    for item in listed:
        lines.append(
            _("• #{id} {farmer} ({lot}): {amount}").format(
                id=int(item["payout_id"]),
                farmer=item.get("farmer") or "—",
                lot=lot_name(int(item["lot_id"])),
                amount=format_money(int(item["amount_fen"]), ctx.locale),
            )
        )
    if int(p["count"]) > len(listed):
        lines.append(_("…and {n} more.").format(n=int(p["count"]) - len(listed)))
    lines.append(_("Send /due to mark them paid."))
    return Rendered("\n".join(lines))


@market_notice("dispute_opened")
def _dispute_opened(p: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        _(
            "⚠️ {farmer} says payout #{id} for {lot} ({amount}) is wrong:\n“{reason}”\n\n"
            "Correct the amount, or explain why it is right. /disputes lists the open ones."
        ).format(
            farmer=p.get("farmer") or "—",
            id=int(p["payout_id"]),
            lot=lot_name(int(p["lot_id"])),
            amount=format_money(int(p["amount_fen"]), ctx.locale),
            reason=p.get("reason", ""),
        ),
        markup=resolve_buttons(int(p["dispute_id"])),
    )


@market_notice("dispute_resolved")
def _dispute_resolved(p: dict[str, Any], ctx: Context) -> Rendered:
    lot = lot_name(int(p["lot_id"]))
    amount = format_money(int(p["amount_fen"]), ctx.locale)
    if p.get("outcome") == "corrected":
        text = _(
            "✅ The cooperative corrected your payout for {lot} by {correction}: the amount is "
            "now {amount}."
        ).format(lot=lot, correction=signed_money(int(p["correction"]), ctx.locale), amount=amount)
        if p.get("paid"):
            text += " " + _("It was paid already: the difference is settled separately.")
        return Rendered(text)
    return Rendered(
        _(
            "About your payout for {lot} ({amount}): the cooperative checked it and left it "
            "as it is. Their explanation:\n“{explanation}”"
        ).format(lot=lot, amount=amount, explanation=p.get("explanation") or "")
    )
