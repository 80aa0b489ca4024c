"""What the collection's notices say (registered with bot.notice_texts): the place and time
set or changed, each farmer's weighed kilograms, the merchant's invoice, and each payout
scheduled, itemised. Rendered when sent, in the recipient's language of that moment, with
times and dates in the programme's zone; the payload holds every fact (bot/services/
collections.py writes it with the cause), so a payout notice names its payout, amounts and
pay date by itself.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiogram.utils.i18n import gettext as _

from bot.formatting import format_day, format_money, format_price, format_quantity, format_schedule
from bot.notice_texts import Context, Rendered
from handlers.market_notices import lot_name, lot_title, market_notice


def _facts(p: dict[str, Any], ctx: Context) -> dict[str, str]:
    loc = ctx.locale
    values = {
        "lot": lot_name(int(p["lot_id"])),
        "title": lot_title(str(p["product"]), p.get("process"), p.get("grade")),
        "kg": format_quantity(int(p["grams"]), loc, _),
    }
    for key in ("farmer_grams", "weighed_grams", "reported_grams"):
        if p.get(key) is not None:
            values[key.removesuffix("_grams") + "_kg"] = format_quantity(int(p[key]), loc, _)
    for key in ("price_fen",):
        if p.get(key) is not None:
            values["price"] = format_price(int(p[key]), loc, _)
    for key in ("invoice_fen", "gross_fen", "net_fen"):
        if p.get(key) is not None:
            values[key.removesuffix("_fen")] = format_money(int(p[key]), loc)
    if p.get("collect_at"):
        values["collect_at"] = format_schedule(
            datetime.fromisoformat(str(p["collect_at"])), loc, ctx.tz
        )
    if p.get("due_on"):
        values["due_on"] = format_day(date.fromisoformat(str(p["due_on"])), loc)
    for key in ("place", "farmer_seq"):
        if p.get(key) is not None:
            values[key] = str(p[key])
    return values


@market_notice("collection_set")
def _collection_set(p: dict[str, Any], ctx: Context) -> Rendered:
    facts = _facts(p, ctx)
    changed = bool(p.get("changed"))
    if p.get("merchant"):
        if changed:
            text = _(
                "📍 The collection of {lot} ({title}, {kg}) has changed: it is now at {place}, "
                "{collect_at}."
            )
        else:
            text = _(
                "📍 Collect {lot} ({title}, {kg}) at {place}, {collect_at}. The coffee is "
                "weighed there, and you pay {price} for the weight measured."
            )
    elif changed:
        text = _(
            "📍 The collection of {lot} has changed: bring your {farmer_kg} to {place}, "
            "{collect_at}."
        )
    else:
        text = _(
            "📍 Bring your coffee of {lot} ({title}, {farmer_kg}) to {place}, {collect_at}. "
            "It is weighed there, and you are paid for the weighed kilograms."
        )
    return Rendered(text.format_map(facts))


@market_notice("weighed")
def _weighed(p: dict[str, Any], ctx: Context) -> Rendered:
    facts = _facts(p, ctx)
    if p.get("delivered"):
        text = _(
            "⚖️ Your report #{farmer_seq} in {lot} was weighed: {weighed_kg} (you reported "
            "{reported_kg}). You are paid for {weighed_kg}."
        )
    else:
        text = _(
            "Your report #{farmer_seq} in {lot} ({reported_kg}) was recorded as not delivered, "
            "so there is no payout for it. If that is wrong, please tell the cooperative."
        )
    return Rendered(text.format_map(facts))


@market_notice("invoice")
def _invoice(p: dict[str, Any], ctx: Context) -> Rendered:
    facts = _facts(p, ctx)
    lines = [
        _("🧾 Invoice for {lot} ({title})").format_map(facts),
        _("Weighed: {weighed_kg}").format_map(facts),
        _("Price: {price}").format_map(facts),
        _("Total to pay: {invoice}").format_map(facts),
    ]
    villages = p.get("villages") or []
    if len(villages) > 1:
        lines.append(_("By village:"))
        for line in villages:
            lines.append(
                _("  {village}: {kg} · {total}").format(
                    village=line["village"],
                    kg=format_quantity(int(line["grams"]), ctx.locale, _),
                    total=format_money(int(line["fen"]), ctx.locale),
                )
            )
    return Rendered("\n".join(lines))
