"""What coordinators read while opening and running auctions: pool buttons, the opening
dialogue's answers and summary, /auctions cards and bid lists. Strings through gettext,
numbers, money and times through Babel (bot/formatting.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from babel.dates import format_timedelta
from babel.numbers import format_decimal

from bot.auction import GRAMS_PER_KG, PriceProblem, PriceRejected
from bot.config import Settings
from bot.formatting import format_price, format_quantity, format_schedule, zone_name
from bot.models import Lot, LotStatus
from bot.services.lots import BidRow, CoordinatorLot, PlannedLot
from bot.services.pools import Pool
from handlers.market_notices import lot_name, lot_title
from handlers.texts import MAX_MESSAGE, locale, lot_status_label, pool_block

# A summary longer than this many messages lists fewer farmers per lot instead.
SUMMARY_PAGES = 4
_FARMERS_SHOWN = (None, 40, 15, 5, 0)  # per lot, tried in turn until the summary fits


def kg(grams: int) -> str:
    return format_quantity(grams, locale(), _)


def price(fen: int) -> str:
    return format_price(fen, locale(), _)


def when(moment: datetime, tz: ZoneInfo) -> str:
    return format_schedule(moment, locale(), tz)


def pool_button(pool: Pool) -> str:
    """ "🔨 Auction: Conggang · Parchment · Washed · A" on /pools."""
    k = pool.key
    title = lot_title(k.product.value, k.process.value if k.process else None, _grade(pool))
    return _("🔨 Auction: {village} · {title}").format(village=pool.village_name, title=title)


def _grade(pool: Pool) -> str | None:
    return pool.key.grade.value if pool.key.grade else None


def price_problem(exc: PriceRejected) -> str:
    """Why a typed price was refused, in the coordinator's words."""
    if exc.problem == PriceProblem.AMBIGUOUS_SEPARATOR and exc.readings:
        return _("Did you mean {first} or {second}? Tap one, or type it with a dot.").format(
            first=price(exc.readings[0]), second=price(exc.readings[1])
        )
    if exc.problem == PriceProblem.NOT_PER_KG:
        unit = {"jin": _("per jin"), "t": _("per tonne")}.get(exc.unit or "", "")
        return _(
            "Prices here are per kilogram, not {unit}. Please type the price per kg, like 22.5."
        ).format(unit=unit)
    texts = {
        PriceProblem.EMPTY: _("Please type a price per kg, like 22.5."),
        PriceProblem.UNREADABLE: _("I could not read a price there. Please type it like 22.5."),
        PriceProblem.UNKNOWN_UNIT: _(
            "I did not understand the unit. Please type yuan per kg, like 22.5 or ¥22.5/kg."
        ),
        PriceProblem.AMBIGUOUS_SEPARATOR: _("Please write decimals with a dot, like 22.5."),
        PriceProblem.ZERO: _("The price cannot be zero."),
        PriceProblem.NEGATIVE: _("The price cannot be negative."),
        PriceProblem.TOO_LARGE: _(
            "That is more than ¥1,000 per kg: please check the number (per kg, in yuan)."
        ),
        PriceProblem.TOO_PRECISE: _("Please give the price to the fen, like 22.55."),
    }
    return texts[exc.problem]


def size_question(pool: Pool, settings: Settings) -> str:
    return "\n".join(
        [
            _("🔨 Open an auction on this pool:"),
            pool_block(pool, settings),
            "",
            _(
                "How should it be sold: the whole pool as one lot, or in lots of about one "
                "size? Reports go into a lot whole, oldest first. You can also type a size, "
                "like 5 t or 5000 kg."
            ),
        ]
    )


def whole_pool_label(grams: int) -> str:
    return _("Whole pool ({kg})").format(kg=kg(grams))


def slice_label(size_kg: int) -> str:
    return _("Lots of {kg}").format(kg=kg(size_kg * GRAMS_PER_KG))


def lot_size_text(target_g: int | None) -> str:
    if target_g is None:
        return _("the whole pool")
    return _("lots of about {kg}").format(kg=kg(target_g))


def acceptance_text(confirm: bool, below_fen: int | None) -> str:
    if confirm:
        return _("a coordinator confirms every sale before it is made")
    if below_fen is not None:
        return _("a coordinator confirms the sale if the best bid is below {price}").format(
            price=price(below_fen)
        )
    return _("sold at once to the best bid")


def terms_lines(
    reserve_fen: int,
    increment_fen: int,
    closes_at: datetime,
    extension_min: int,
    confirm: bool,
    below_fen: int | None,
    tz: ZoneInfo,
) -> list[str]:
    lines = [
        _("Reserve price: {price}").format(price=price(reserve_fen)),
        _("Minimum increment: {price}").format(price=price(increment_fen)),
        _("Bidding closes: {when}, {zone}").format(
            when=when(closes_at, tz), zone=zone_name(tz, locale())
        ),
    ]
    if extension_min:
        lines.append(
            _(
                "Soft close: a bid in the last {minutes} min moves the close {minutes} min on."
            ).format(minutes=extension_min)
        )
    lines.append(_("After the close: {what}").format(what=acceptance_text(confirm, below_fen)))
    return lines


_CHUNK = 3000  # a lot's farmer list longer than this continues in the next piece


def _farmers(planned: PlannedLot, shown: int | None) -> list[str]:
    """ "Li 600 kg, Wang 700 kg, and 3 more farmers", in pieces short enough for a message."""
    listed = planned.farmers if shown is None else planned.farmers[:shown]
    parts = [_("{name} {kg}").format(name=f.name or "—", kg=kg(f.grams)) for f in listed]
    rest = len(planned.farmers) - len(listed)
    if rest:
        parts.append(
            ngettext("and {count} more farmer", "and {count} more farmers", rest).format(
                count=format_decimal(rest, locale=locale())
            )
        )
    comma = _(", ")
    pieces = [""]
    for part in parts:
        if pieces[-1] and len(pieces[-1]) + len(comma) + len(part) > _CHUNK:
            pieces[-1] += comma.rstrip()
            pieces.append(part)
        else:
            pieces[-1] = f"{pieces[-1]}{comma}{part}" if pieces[-1] else part
    return [piece for piece in pieces if piece]


def _lot_pieces(number: int, planned: PlannedLot, shown: int | None) -> list[tuple[str, str]]:
    """A lot's heading and farmers as (separator before, text) pieces of the summary."""
    reports = len(planned.report_ids)
    # "New lot 1 of the plan", never "Lot 1": lots get their numbers (#12) when they open.
    head = _("New lot {number}: {kg}, {reports}, {farmers}").format(
        number=number,
        kg=kg(planned.grams),
        reports=ngettext("{count} report", "{count} reports", reports).format(
            count=format_decimal(reports, locale=locale())
        ),
        farmers=ngettext("{count} farmer", "{count} farmers", len(planned.farmers)).format(
            count=format_decimal(len(planned.farmers), locale=locale())
        ),
    )
    if shown == 0:
        return [("\n\n", head)]
    return [("\n\n", head), *(("\n", piece) for piece in _farmers(planned, shown))]


def paged(blocks: Sequence[str | tuple[str, str]], separator: str = "\n\n") -> list[str]:
    """Blocks joined into as few messages as Telegram's length limit allows; a block may say
    its own separator (separator, text); one longer than a message is cut."""
    pages = [""]
    for block in blocks:
        sep, text = block if isinstance(block, tuple) else (separator, block)
        text = text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
        if pages[-1] and len(pages[-1]) + len(sep) + len(text) > MAX_MESSAGE:
            pages.append(text)
        else:
            pages[-1] = f"{pages[-1]}{sep}{text}" if pages[-1] else text
    return pages


def summary_pages(
    pool: Pool, plan: list[PlannedLot], terms: list[str], size: str, settings: Settings
) -> list[str]:
    """The plan the coordinator confirms: the pool, each lot with its farmers (fewer names
    per lot when the whole would take more than SUMMARY_PAGES messages), then the terms."""
    total = len(plan)
    head = "\n".join(
        [
            _("Please check the auction before it opens:"),
            pool_block(pool, settings),
            _("Sold as {size}: {count}").format(
                size=size,
                count=ngettext("{count} lot", "{count} lots", total).format(
                    count=format_decimal(total, locale=locale())
                ),
            ),
        ]
    )
    tail = "\n".join(
        [*terms, "", _("Each farmer is told which lot their coffee is in. Open the auction?")]
    )
    pages: list[str] = []
    for shown in _FARMERS_SHOWN:
        pieces = [piece for i, p in enumerate(plan, 1) for piece in _lot_pieces(i, p, shown)]
        pages = paged([head, *pieces, tail])
        if len(pages) <= SUMMARY_PAGES:
            return pages
    return pages


def opened_text(opened: list[Lot], tz: ZoneInfo) -> str:
    lines = [
        ngettext(
            "✅ {count} auction is open. Farmers and approved merchants are told.",
            "✅ {count} auctions are open. Farmers and approved merchants are told.",
            len(opened),
        ).format(count=format_decimal(len(opened), locale=locale()))
    ]
    for lot in opened:
        lines.append(
            _("{lot}: {kg} from {farmers}, closes {when}").format(
                lot=lot_name(lot.id),
                kg=kg(lot.grams),
                farmers=ngettext("{count} farmer", "{count} farmers", lot.farmers).format(
                    count=format_decimal(lot.farmers, locale=locale())
                ),
                when=when(lot.closes_at, tz),
            )
        )
    lines.append(_("/auctions shows them with their bids."))
    return "\n".join(lines)


def time_left(closes_at: datetime, now: datetime) -> str:
    if closes_at <= now:
        return _("closing now")
    return _("in {time}").format(
        time=format_timedelta(closes_at - now, threshold=1.5, format="long", locale=locale())
    )


def _person(name: str | None, company: str | None) -> str:
    if name and company:
        return _("{name} ({company})").format(name=name, company=company)
    return name or company or "—"


def lot_card(lot: CoordinatorLot, now: datetime, tz: ZoneInfo) -> str:
    """One lot on /auctions, with who leads (coordinators may see it)."""
    lines = [
        _("🔨 {lot} · {title}").format(
            lot=lot_name(lot.id), title=lot_title(lot.product, lot.process, lot.grade)
        ),
        _("{village} · {kg} from {farmers}").format(
            village=lot.village,
            kg=kg(lot.grams),
            farmers=ngettext("{count} farmer", "{count} farmers", lot.farmers).format(
                count=format_decimal(lot.farmers, locale=locale())
            ),
        ),
        _("Reserve {reserve}, increment {increment}").format(
            reserve=price(lot.reserve_fen), increment=price(lot.increment_fen)
        ),
    ]
    if lot.leading_fen is None:
        lines.append(_("No bid yet."))
    else:
        lines.append(
            _("Leading: {price} by {who} · {bids}").format(
                price=price(lot.leading_fen),
                who=_person(lot.leader, lot.leader_company),
                bids=ngettext("{count} bid", "{count} bids", lot.bids).format(
                    count=format_decimal(lot.bids, locale=locale())
                ),
            )
        )
    if lot.status == LotStatus.OPEN:
        lines.append(
            _("Closes {when}, {left}").format(
                when=when(lot.closes_at, tz), left=time_left(lot.closes_at, now)
            )
        )
    elif lot.status == LotStatus.AWAITING and lot.acceptance_due_at is not None:
        lines.append(
            _(
                "⏳ Waiting for acceptance: without an answer by {when} the sale is rejected."
            ).format(when=when(lot.acceptance_due_at, tz))
        )
    else:
        lines.append(_("Status: {status}").format(status=lot_status_label(lot.status.value)))
    lines.append(
        _("After the close: {what}").format(
            what=acceptance_text(lot.confirm_before_sale, lot.accept_below_fen)
        )
    )
    return "\n".join(lines)


def bid_pages(lot_id: int, rows: list[BidRow], tz: ZoneInfo) -> list[str]:
    """Every bid in the order it counted: who, when, what they offered, the standing after."""
    if not rows:
        return [_("No bids on {lot} yet.").format(lot=lot_name(lot_id))]
    names = {row.merchant_id: _person(row.merchant, row.company) for row in rows}
    blocks = [
        _("Bids on {lot} ({count}), oldest first:").format(
            lot=lot_name(lot_id), count=format_decimal(len(rows), locale=locale())
        )
    ]
    for number, row in enumerate(rows, start=1):
        offers = []
        if row.price_fen is not None:
            offers.append(_("bid {price}").format(price=price(row.price_fen)))
        if row.maximum_fen is not None:
            offers.append(_("proxy maximum {price}").format(price=price(row.maximum_fen)))
        blocks.append(
            _("{number}. {when} · {who}: {offer} → leading {price}, {leader}").format(
                number=number,
                when=when(row.placed_at, tz),
                who=names[row.merchant_id],
                offer=_(", ").join(offers),
                price=price(row.leading_fen),
                leader=names.get(row.leader_id, "—"),
            )
        )
    return paged(blocks, "\n")


def closed_text(lot: CoordinatorLot, tz: ZoneInfo) -> str:
    """What became of a lot a coordinator closed, cancelled, accepted or rejected."""
    name = lot_name(lot.id)
    if lot.status == LotStatus.SOLD and lot.leading_fen is not None:
        return _(
            "✅ {lot} is sold to {who} at {price}. The buyer, the other bidders and the "
            "farmers are told."
        ).format(
            lot=name, who=_person(lot.leader, lot.leader_company), price=price(lot.leading_fen)
        )
    if lot.status == LotStatus.AWAITING and lot.acceptance_due_at is not None:
        return _(
            "⏳ {lot} is closed at {price}; the sale waits for a coordinator's acceptance until "
            "{when}."
        ).format(lot=name, price=price(lot.leading_fen or 0), when=when(lot.acceptance_due_at, tz))
    if lot.status == LotStatus.UNSOLD:
        return _(
            "{lot} closed without a valid bid. Its coffee is back in its pool and the farmers "
            "are told."
        ).format(lot=name)
    if lot.status == LotStatus.REJECTED:
        return _(
            "✖ The sale of {lot} is rejected. Its coffee is back in its pool; the merchants "
            "and farmers are told."
        ).format(lot=name)
    return _(
        "✖ The auction of {lot} is cancelled. Its coffee is back in its pool; the farmers and "
        "bidders are told."
    ).format(lot=name)


def close_question(lot: CoordinatorLot) -> str:
    if lot.leading_fen is None:
        return _(
            "Close {lot} now? It has no bid, so it ends unsold and its coffee goes back "
            "to the pool."
        ).format(lot=lot_name(lot.id))
    return _("Close {lot} now? The leading bid, {price}, wins as at a normal close.").format(
        lot=lot_name(lot.id), price=price(lot.leading_fen)
    )


def cancel_question(lot: CoordinatorLot) -> str:
    return _(
        "Cancel the auction of {lot}? Its bids no longer count, its coffee goes back to the "
        "pool, and the farmers and bidders are told."
    ).format(lot=lot_name(lot.id))
