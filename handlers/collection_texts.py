"""What coordinators read while collecting a sold lot: /collect cards, the weighing screen
with its running total, the confirmation before completing, and what completing did. Strings
through gettext, numbers, money and dates through Babel (bot/formatting.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from babel.numbers import format_decimal

from bot.formatting import format_day, format_money, format_price, format_quantity, format_schedule
from bot.payouts import Settlement
from bot.services.collections import CollectionView, Completed, Contribution, village_lines
from handlers.market_notices import lot_name, lot_title
from handlers.texts import locale

# Reports per page of the weighing screen: three buttons each, well under Telegram's limit.
PAGE = 8


def kg(grams: int) -> str:
    return format_quantity(grams, locale(), _)


def price(fen: int) -> str:
    return format_price(fen, locale(), _)


def money(fen: int) -> str:
    return format_money(fen, locale())


def when(moment: datetime, tz: ZoneInfo) -> str:
    return format_schedule(moment, locale(), tz)


def fee_label(name: str) -> str:
    """A configured fee's name in the reader's words; a name without a label as given."""
    return {"cooperative": _("Cooperative fee"), "platform": _("Platform fee")}.get(name, name)


def _merchant(view: CollectionView) -> str:
    if view.merchant and view.merchant_company:
        return _("{name} ({company})").format(name=view.merchant, company=view.merchant_company)
    return view.merchant or view.merchant_company or "—"


def heading(view: CollectionView) -> str:
    return _("📦 {lot} · {title}").format(
        lot=lot_name(view.lot_id), title=lot_title(view.product, view.process, view.grade)
    )


def where_when(view: CollectionView, tz: ZoneInfo) -> str:
    if view.place is None or view.collect_at is None:
        return _("Collection: not set yet.")
    return _("Collection: {place}, {when}").format(place=view.place, when=when(view.collect_at, tz))


def progress(view: CollectionView) -> str:
    """The running total: reports recorded, weighed kg against the reported kg."""
    return _("Recorded {recorded} of {count} reports · weighed {weighed} of {reported}").format(
        recorded=view.recorded,
        count=len(view.contributions),
        weighed=kg(view.weighed_grams),
        reported=kg(view.reported_grams),
    )


def card(view: CollectionView, tz: ZoneInfo) -> str:
    """One sold lot on /collect."""
    return "\n".join(
        [
            heading(view),
            _("{village} · {kg} reported · sold to {merchant} at {price}").format(
                village=view.village,
                kg=kg(view.reported_grams),
                merchant=_merchant(view),
                price=price(view.price_fen),
            ),
            where_when(view, tz),
            progress(view),
        ]
    )


def weighed_text(c: Contribution) -> str:
    if c.weighed_grams is None:
        return "—"
    if not c.delivered:
        return _("not delivered")
    return kg(c.weighed_grams)


def contribution_line(number: int, c: Contribution) -> str:
    return _("{number}. {farmer} · report #{seq}: reported {reported} → {weighed}").format(
        number=number,
        farmer=c.farmer or "—",
        seq=c.farmer_seq,
        reported=kg(c.grams),
        weighed=weighed_text(c),
    )


def pages(view: CollectionView) -> int:
    return max((len(view.contributions) + PAGE - 1) // PAGE, 1)


def screen(view: CollectionView, page: int, tz: ZoneInfo) -> str:
    """The weighing screen: where and when, one page of reports, the running total."""
    start = page * PAGE
    lines = [
        heading(view),
        _("Sold to {merchant} at {price}").format(
            merchant=_merchant(view), price=price(view.price_fen)
        ),
        where_when(view, tz),
        "",
    ]
    for number, c in enumerate(view.contributions[start : start + PAGE], start=start + 1):
        lines.append(contribution_line(number, c))
    if pages(view) > 1:
        lines.append(_("Page {page} of {pages}").format(page=page + 1, pages=pages(view)))
    lines += [
        "",
        progress(view),
        _("✓ as reported · ✏️ type the weight · ✗ not delivered"),
    ]
    if view.complete_ready:
        lines.append(_("Every report is recorded: you can complete the collection."))
    return "\n".join(lines)


def place_question(view: CollectionView) -> str:
    if view.place is None:
        return _(
            "Where is {lot} collected? Type the place, for example the village's weighing station."
        ).format(lot=lot_name(view.lot_id))
    return _("Where is {lot} collected? Now: {place}. Type the new place.").format(
        lot=lot_name(view.lot_id), place=view.place
    )


def set_text(view: CollectionView, tz: ZoneInfo) -> str:
    return _(
        "📍 {lot} is collected at {place}, {when}. The merchant and the farmers are told."
    ).format(
        lot=lot_name(view.lot_id),
        place=view.place or "—",
        when=when(view.collect_at, tz) if view.collect_at else "—",
    )


def weight_question(c: Contribution) -> str:
    return _(
        "How much did the scale show for {farmer}'s report #{seq} (reported {reported})? Type "
        "it with its unit, for example 52.5 kg or 105 斤."
    ).format(farmer=c.farmer or "—", seq=c.farmer_seq, reported=kg(c.grams))


def recorded_text(c: Contribution) -> str:
    return _("Recorded: {farmer}, report #{seq}: {weighed}.").format(
        farmer=c.farmer or "—", seq=c.farmer_seq, weighed=weighed_text(c)
    )


def _fee_lines(
    names: Sequence[str], totals: Sequence[int], fees: Mapping[str, object]
) -> list[str]:
    return [
        _("{fee} ({percent}%): {amount}").format(
            fee=fee_label(name),
            percent=format_decimal(Decimal(str(fees[name])), locale=locale()),
            amount=money(total),
        )
        for name, total in zip(names, totals, strict=True)
    ]


def confirmation(
    view: CollectionView,
    settlement: Settlement,
    fees: Mapping[str, object],
    due_on: date,
) -> str:
    """What completing will do, before the coordinator confirms it."""
    delivered = [c for c in view.contributions if c.delivered]
    lines = [
        _("Complete the collection of {lot}?").format(lot=lot_name(view.lot_id)),
        _("Weighed: {weighed} (reported {reported})").format(
            weighed=kg(view.weighed_grams), reported=kg(view.reported_grams)
        ),
        _("Price: {price}").format(price=price(view.price_fen)),
        _("Invoice to {merchant}: {total}").format(
            merchant=_merchant(view), total=money(settlement.invoice)
        ),
    ]
    by_village = village_lines(delivered, settlement)
    if len(by_village) > 1:
        for line in by_village:
            lines.append(
                _("  {village}: {kg} · {total}").format(
                    village=line["village"],
                    kg=kg(int(line["grams"])),
                    total=money(int(line["fen"])),
                )
            )
    lines.append(
        ngettext(
            "{count} payout to a farmer, to be paid on {date}:",
            "{count} payouts to farmers, to be paid on {date}:",
            len(delivered),
        ).format(count=len(delivered), date=format_day(due_on, locale()))
    )
    lines += _fee_lines(list(fees), settlement.fee_totals, fees)
    lines.append(
        _("Net to the farmers: {amount}").format(
            amount=money(sum(s.net for s in settlement.shares))
        )
    )
    missing = len(view.contributions) - len(delivered)
    if missing:
        lines.append(
            ngettext(
                "{count} report not delivered: no payout for it.",
                "{count} reports not delivered: no payout for them.",
                missing,
            ).format(count=missing)
        )
    lines.append(_("After this the weights cannot be changed."))
    return "\n".join(lines)


def completed_text(done: Completed) -> str:
    return ngettext(
        "✅ The collection of {lot} is completed: {weighed} weighed, invoice {total} sent to "
        "the merchant, {count} payout scheduled for {date}. The farmer is told.",
        "✅ The collection of {lot} is completed: {weighed} weighed, invoice {total} sent to "
        "the merchant, {count} payouts scheduled for {date}. The farmers are told.",
        len(done.payouts),
    ).format(
        lot=lot_name(done.lot_id),
        weighed=kg(done.weighed_grams),
        total=money(done.invoice_fen),
        count=len(done.payouts),
        date=format_day(done.due_on, locale()),
    )
