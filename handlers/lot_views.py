"""What merchants see of the market: the /lots list and a lot's card, bid replies, /mybids and
/rules, with their buttons. Texts through gettext in the reader's language, numbers, money and
times through Babel (bot/formatting.py); the facts come from bot/services (lots, bids)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.numbers import format_decimal

from bot.auction import MAX_FEN_PER_KG, PriceProblem, PriceRejected, Refusal
from bot.auction import format_price as plain_price
from bot.config import Settings
from bot.formatting import (
    format_datetime,
    format_moisture_range,
    format_money,
    format_price,
    format_quantity,
    format_time_left,
)
from bot.models import LotStatus
from bot.services.bids import ConfirmFirst, MyLot, NotPlaced, Placed
from bot.services.lots import LotPage, LotView
from handlers.callbacks import LotCb, MaximumCb, QuickBidCb
from handlers.market_notices import lot_name, lot_title
from handlers.texts import MAX_MESSAGE, locale, product_label

PAGE_SIZE = 5
PRODUCTS = ("cherry", "parchment", "green")
QUICK_STEPS = (1, 3, 5)  # increments over the leading price
FIRST_STEPS = (0, 2, 4)  # increments over the reserve, before any bid
SHOWN_ENDED = 10  # ended lots listed in /mybids


def price(fen: int) -> str:
    return format_price(fen, locale(), _)


def _moisture(view: LotView) -> str:
    if view.moisture_min_tenths is None or view.moisture_max_tenths is None:
        return _("no moisture given")
    return _("moisture {range}").format(
        range=format_moisture_range(view.moisture_min_tenths, view.moisture_max_tenths, locale())
    )


def _farmers(count: int) -> str:
    return ngettext("{count} farmer", "{count} farmers", count).format(
        count=format_decimal(count, locale=locale())
    )


def _standing(view: LotView) -> str:
    if view.leading_fen is None:
        return _("no bid yet, reserve {price}").format(price=price(view.reserve_fen))
    return _("leading {price}").format(price=price(view.leading_fen))


def time_left(view: LotView, now: datetime) -> str:
    if view.closes_at <= now:
        return _("closing now")
    return _("{time} left").format(time=format_time_left(view.closes_at - now, locale()))


def _facts(view: LotView) -> str:
    return _("{title}, {kg} from {farmers}, {village}, {moisture}").format(
        title=lot_title(view.product, view.process, view.grade),
        kg=format_quantity(view.grams, locale(), _),
        farmers=_farmers(view.farmers),
        village=view.village,
        moisture=_moisture(view),
    )


def lot_line(view: LotView, now: datetime) -> str:
    """One lot of the list: what it is, then where the bidding stands and for how long."""
    return _("{lot}: {facts}\n{standing} · {left}").format(
        lot=lot_name(view.id),
        facts=_facts(view),
        standing=_standing(view),
        left=time_left(view, now),
    )


def lot_list(page: LotPage, number: int, product: str, now: datetime) -> str:
    if not page.lots:
        if product:
            return _("No lots of {product} are open for bids now.").format(
                product=product_label(product)
            )
        return _("No lots are open for bids now. We will message you when one opens.")
    pages = max(1, -(-page.total // PAGE_SIZE))
    heading = _("Lots open for bids ({count}), page {page} of {pages}:").format(
        count=format_decimal(page.total, locale=locale()), page=number + 1, pages=pages
    )
    if product:
        heading = _("{product}: {heading}").format(product=product_label(product), heading=heading)
    lines = [heading, *(lot_line(view, now) for view in page.lots)]
    lines.append(_("Tap a lot to see it and bid."))
    return "\n\n".join(lines)


def lot_list_markup(page: LotPage, number: int, product: str) -> InlineKeyboardMarkup:
    """A button per lot, ◀ ▶ between pages, and the product filter (the chosen one marked)."""
    builder = InlineKeyboardBuilder()
    sizes = []
    for view in page.lots:
        builder.button(
            text=_("{lot} · {kg}").format(
                lot=lot_name(view.id), kg=format_quantity(view.grams, locale(), _)
            ),
            callback_data=LotCb(action="open", lot_id=view.id, page=number, product=product),
        )
        sizes.append(1)
    nav = 0
    if number > 0:
        builder.button(
            text=_("◀ Previous"),
            callback_data=LotCb(action="list", page=number - 1, product=product),
        )
        nav += 1
    if (number + 1) * PAGE_SIZE < page.total:
        builder.button(
            text=_("Next ▶"), callback_data=LotCb(action="list", page=number + 1, product=product)
        )
        nav += 1
    if nav:
        sizes.append(nav)
    for value in ("", *PRODUCTS):
        label = product_label(value) if value else _("All")
        builder.button(
            text=f"• {label}" if value == product else label,
            callback_data=LotCb(action="list", page=0, product=value),
        )
    sizes.append(len(PRODUCTS) + 1)
    builder.adjust(*sizes)
    return builder.as_markup()


def lot_card(view: LotView, viewer_id: int, now: datetime, settings: Settings) -> str:
    """Everything a bid depends on; who leads only when it is the reader."""
    loc = locale()
    lines = [
        _("{lot}: {title}").format(
            lot=lot_name(view.id), title=lot_title(view.product, view.process, view.grade)
        ),
        _("{kg} from {farmers}, {village}, {moisture}").format(
            kg=format_quantity(view.grams, loc, _),
            farmers=_farmers(view.farmers),
            village=view.village,
            moisture=_moisture(view),
        ),
        "",
        _("Reserve: {reserve} · increment: {increment}").format(
            reserve=price(view.reserve_fen), increment=price(view.increment_fen)
        ),
    ]
    if view.leading_fen is None:
        lines.append(_("No bid yet."))
    else:
        lines.append(
            _("Leading price: {price} ({bids})").format(
                price=price(view.leading_fen),
                bids=ngettext("{count} bid", "{count} bids", view.bids).format(
                    count=format_decimal(view.bids, locale=loc)
                ),
            )
        )
    if view.leader_id is not None and view.leader_id == viewer_id:
        lines.append(_("✅ You lead."))
    if view.status == LotStatus.OPEN:
        lines.append(_("Minimum next bid: {price}").format(price=price(view.minimum_fen)))
        lines.append(
            _("Closes at {when} ({left}).").format(
                when=format_datetime(view.closes_at, loc, settings.tz), left=time_left(view, now)
            )
        )
    else:
        lines.append(_("Bidding on this lot is over."))
    return "\n".join(lines)


def quick_prices(view: LotView) -> list[tuple[str, int]]:
    """(label, price) of the quick bids: +1, +3, +5 increments over the leading price, or the
    reserve, +2 and +4 increments before any bid."""
    if view.leading_fen is None:
        return [
            (
                _("Reserve {price}").format(price=format_money(view.reserve_fen, locale()))
                if steps == 0
                else _("+{steps} · {price}").format(
                    steps=steps,
                    price=format_money(view.reserve_fen + steps * view.increment_fen, locale()),
                ),
                view.reserve_fen + steps * view.increment_fen,
            )
            for steps in FIRST_STEPS
        ]
    return [
        (
            _("+{steps} · {price}").format(
                steps=steps,
                price=format_money(view.leading_fen + steps * view.increment_fen, locale()),
            ),
            view.leading_fen + steps * view.increment_fen,
        )
        for steps in QUICK_STEPS
    ]


def _bid_rows(builder: InlineKeyboardBuilder, view: LotView, page: int, product: str) -> list[int]:
    for label, fen in quick_prices(view):
        builder.button(text=label, callback_data=QuickBidCb(lot_id=view.id, price=fen))
    builder.button(
        text=_("✏️ Type a price"),
        callback_data=LotCb(action="bid", lot_id=view.id, page=page, product=product),
    )
    builder.button(
        text=_("🤖 Set a maximum"),
        callback_data=LotCb(action="max", lot_id=view.id, page=page, product=product),
    )
    return [len(QUICK_STEPS), 2]


def card_markup(
    view: LotView, bidder: bool, page: int, product: str, back: bool
) -> InlineKeyboardMarkup:
    """Quick bids, typing a price or a maximum (merchants, open lots), photos, back to the list."""
    builder = InlineKeyboardBuilder()
    sizes = []
    if bidder and view.status == LotStatus.OPEN:
        sizes += _bid_rows(builder, view, page, product)
    builder.button(
        text=_("📷 Photos"),
        callback_data=LotCb(action="photos", lot_id=view.id, page=page, product=product),
    )
    last = 1
    if back:
        builder.button(
            text=_("◀ Back"), callback_data=LotCb(action="list", page=page, product=product)
        )
        last = 2
    builder.adjust(*sizes, last)
    return builder.as_markup()


def bid_again_markup(view: LotView) -> InlineKeyboardMarkup | None:
    """Fresh quick bids after a reply, and the way back to the card."""
    if view.status != LotStatus.OPEN:
        return None
    builder = InlineKeyboardBuilder()
    sizes = _bid_rows(builder, view, 0, "")
    builder.button(text=_("🔨 See the lot"), callback_data=LotCb(action="card", lot_id=view.id))
    builder.adjust(*sizes, 1)
    return builder.as_markup()


# Typing a price


def ask_price(view: LotView) -> str:
    return _(
        "Type your price per kilogram for {lot}, in yuan, like {example}. It must be at "
        "least {minimum}. Send /cancel to stop."
    ).format(
        lot=lot_name(view.id),
        example=_example(view.minimum_fen),
        minimum=price(view.minimum_fen),
    )


def ask_maximum(view: LotView) -> str:
    return _(
        "Type the most you would pay per kilogram for {lot}, like {example}. We bid for you "
        "only what is needed to lead, up to that maximum, and nobody sees it. It must be at "
        "least {minimum}. Send /cancel to stop."
    ).format(
        lot=lot_name(view.id),
        example=_example(view.minimum_fen),
        minimum=price(view.minimum_fen),
    )


def _example(fen: int) -> str:
    """The minimum as it may be typed back: "20.10" (read exactly by parse_price)."""
    return plain_price(fen)


def price_problem(exc: PriceRejected) -> str:
    """Why a typed price was not read, and how to type it."""
    if exc.problem == PriceProblem.AMBIGUOUS_SEPARATOR:
        first, second = exc.readings
        return _(
            "Did you mean {first} or {second}? Tap the one you meant, or type the price with "
            "a dot, like 9.60."
        ).format(first=price(first), second=price(second))
    if exc.problem == PriceProblem.NOT_PER_KG and exc.unit == "jin":
        return _(
            "Prices here are per kilogram, not per jin. One kilogram is two jin, so a price "
            "per kilogram is twice the price per jin. Please type the price per kilogram."
        )
    if exc.problem == PriceProblem.NOT_PER_KG:
        return _(
            "Prices here are per kilogram, not per tonne: a price per kilogram is the price "
            "per tonne divided by 1,000. Please type the price per kilogram."
        )
    texts = {
        PriceProblem.EMPTY: _("Please type a price per kilogram, like 9.60."),
        PriceProblem.UNREADABLE: _(
            "I could not read a price there. Please type the price per kilogram in yuan, "
            "like 9.60 or 9.6元."
        ),
        PriceProblem.UNKNOWN_UNIT: _(
            "Please type the price per kilogram in yuan, like 9.60, 9.6元 or 9.6元/公斤."
        ),
        PriceProblem.ZERO: _("A price cannot be zero."),
        PriceProblem.NEGATIVE: _("A price cannot be negative."),
        PriceProblem.TOO_LARGE: _(
            "That is more than {limit}: please check the number. Prices are per kilogram."
        ).format(limit=price(MAX_FEN_PER_KG)),
        PriceProblem.TOO_PRECISE: _("Prices are in whole fen: at most two decimals, like 9.65."),
    }
    return texts[exc.problem]


def readings_markup(lot_id: int, readings: tuple[int, ...], maximum: bool) -> InlineKeyboardMarkup:
    """Both readings of "9,6" as buttons: a bid at, or a maximum of, the one tapped."""
    builder = InlineKeyboardBuilder()
    for fen in readings:
        builder.button(
            text=price(fen),
            callback_data=MaximumCb(lot_id=lot_id, maximum=fen)
            if maximum
            else QuickBidCb(lot_id=lot_id, price=fen),
        )
    return builder.as_markup()


# What a bid did


def extended_note(placed: Placed, settings: Settings) -> str:
    return _(
        "A bid in the last {minutes} minutes moves the close, so nobody wins by bidding at "
        "the last second: bidding on this lot now closes at {when}."
    ).format(
        minutes=settings.soft_close_minutes,
        when=format_datetime(placed.closes_at, locale(), settings.tz),
    )


def placed_text(
    view: LotView, placed: Placed, price_fen: int | None, maximum_fen: int | None
) -> str:
    lot = lot_name(view.id)
    if placed.leads and maximum_fen is not None:
        return _(
            "✅ You lead {lot} at {price}; we will bid for you up to your maximum {maximum} if "
            "another merchant bids."
        ).format(lot=lot, price=price(placed.leading_fen), maximum=price(maximum_fen))
    if placed.leads:
        return _("✅ Your bid of {price} on {lot} stands: you lead.").format(
            price=price(price_fen or placed.leading_fen), lot=lot
        )
    if maximum_fen is not None:
        return _(
            "Your maximum of {maximum} on {lot} was placed, but another merchant's maximum is "
            "as high or higher (of equal maxima the earlier one leads): the leading price is "
            "now {leading}. A bid must be at least {minimum}."
        ).format(
            maximum=price(maximum_fen),
            lot=lot,
            leading=price(placed.leading_fen),
            minimum=price(placed.minimum_fen),
        )
    return _(
        "Your bid of {price} on {lot} was accepted, but another merchant's maximum is "
        "higher: the leading price is now {leading}. A bid must be at least {minimum}."
    ).format(
        price=price(price_fen or 0),
        lot=lot,
        leading=price(placed.leading_fen),
        minimum=price(placed.minimum_fen),
    )


def confirm_text(confirm: ConfirmFirst, maximum: bool) -> str:
    base = confirm.leading_fen if confirm.leading_fen is not None else confirm.reserve_fen
    percent = format_decimal(
        int((Decimal(confirm.price_fen - base) * 100 / base).to_integral_value()),
        locale=locale(),
    )
    if confirm.leading_fen is None:
        intro = _("That is {percent}% above the reserve price of {base}.")
    else:
        intro = _("That is {percent}% above the leading price of {base}.")
    ask = (_("Set a maximum of {price}?") if maximum else _("Bid {price}?")).format(
        price=price(confirm.price_fen)
    )
    return _("{intro} {question}").format(
        intro=intro.format(percent=percent, base=price(base)), question=ask
    )


def confirm_markup(lot_id: int, fen: int, maximum: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("✅ Yes, {price}").format(price=price(fen)),
        callback_data=MaximumCb(lot_id=lot_id, maximum=fen, confirmed=True)
        if maximum
        else QuickBidCb(lot_id=lot_id, price=fen, confirmed=True),
    )
    builder.button(
        text=_("✏️ Change"), callback_data=LotCb(action="max" if maximum else "bid", lot_id=lot_id)
    )
    return builder.as_markup()


def not_placed_text(view: LotView, refused: NotPlaced) -> str:
    minimum = price(refused.minimum_fen or view.minimum_fen)
    if refused.reason == Refusal.BELOW_RESERVE:
        return _(
            "That is below the reserve price of {reserve}: the first bid must be at least "
            "{minimum}."
        ).format(reserve=price(view.reserve_fen), minimum=minimum)
    if refused.reason == Refusal.BELOW_INCREMENT:
        return _(
            "A bid must beat the leading price of {leading} by at least the increment of "
            "{increment}: at least {minimum}."
        ).format(
            leading=price(refused.leading_fen or view.leading_fen or view.reserve_fen),
            increment=price(view.increment_fen),
            minimum=minimum,
        )
    if refused.reason == Refusal.ALREADY_LEADING:
        return _(
            "You lead {lot} already, at {leading}: you cannot outbid yourself. You may raise "
            "your maximum instead (🤖 Set a maximum): we then bid for you only when another "
            "merchant bids."
        ).format(lot=lot_name(view.id), leading=price(view.leading_fen or view.reserve_fen))
    return _("Bidding on this lot has closed: it takes no more bids.")


# /mybids


def _my_open(mine: MyLot, now: datetime) -> str:
    view = mine.lot
    if mine.leading:
        where = _("✅ you lead at {price}").format(price=price(view.leading_fen or 0))
    else:
        where = _("⚠️ outbid: leading {price}").format(price=price(view.leading_fen or 0))
    line = _("{lot}: {title}, {kg}\n{where} · {left}").format(
        lot=lot_name(view.id),
        title=lot_title(view.product, view.process, view.grade),
        kg=format_quantity(view.grams, locale(), _),
        where=where,
        left=time_left(view, now),
    )
    if mine.my_maximum_fen is not None:
        line += "\n" + _("Your maximum: {price}").format(price=price(mine.my_maximum_fen))
    return line


def _my_ended(mine: MyLot) -> str:
    view = mine.lot
    lot = _("{lot}: {title}, {kg}").format(
        lot=lot_name(view.id),
        title=lot_title(view.product, view.process, view.grade),
        kg=format_quantity(view.grams, locale(), _),
    )
    leading = price(view.leading_fen or 0)
    if view.status == LotStatus.SOLD and mine.leading:
        outcome = _("🏆 won at {price}; total to pay {total}").format(
            price=leading, total=format_money(mine.owed_fen or 0, locale())
        )
    elif view.status == LotStatus.SOLD:
        outcome = _("lost: sold to another merchant at {price}").format(price=leading)
    elif view.status == LotStatus.AWAITING and mine.leading:
        outcome = _("best bid at {price}: waiting for the cooperative to accept the sale").format(
            price=leading
        )
    elif view.status == LotStatus.AWAITING:
        outcome = _("lost: another merchant's bid of {price} was higher").format(price=leading)
    elif view.status == LotStatus.CANCELLED:
        outcome = _("cancelled by the cooperative: bids void")
    elif view.status == LotStatus.REJECTED:
        outcome = _("not sold: the cooperative did not accept the sale")
    else:
        outcome = _("not sold")
    return f"{lot}\n{outcome}"


def my_bids_text(mine: list[MyLot], now: datetime) -> str:
    if not mine:
        return _(
            "You have not bid on any lot yet. Send /lots to see the lots open now; /rules "
            "explains how bidding works."
        )
    open_ = [m for m in mine if m.lot.status == LotStatus.OPEN]
    ended = [m for m in mine if m.lot.status != LotStatus.OPEN][:SHOWN_ENDED]
    parts = []
    if open_:
        parts.append(_("Open lots you bid on:"))
        parts += [_my_open(m, now) for m in open_]
    if ended:
        parts.append(_("Ended:"))
        parts += [_my_ended(m) for m in ended]
    text = ""
    for part in parts:
        if len(text) + len(part) + 2 > MAX_MESSAGE:
            break
        text = f"{text}\n\n{part}" if text else part
    return text


def my_bids_markup(mine: list[MyLot]) -> InlineKeyboardMarkup | None:
    open_ = [m for m in mine if m.lot.status == LotStatus.OPEN]
    if not open_:
        return None
    builder = InlineKeyboardBuilder()
    for m in open_[:20]:
        builder.button(
            text=_("🔨 {lot}").format(lot=lot_name(m.lot.id)),
            callback_data=LotCb(action="card", lot_id=m.lot.id),
        )
    builder.adjust(2)
    return builder.as_markup()


# /rules


def rules_text(settings: Settings) -> str:
    return _(
        "📖 How the auctions work\n\n"
        "• Coffee from many farmers of one village is sold in lots. Prices are per kilogram, "
        "in yuan and whole fen.\n"
        "• The first bid must reach the lot's reserve price; every later bid must beat the "
        "leading price by at least the lot's increment.\n"
        "• You see the leading price, never who leads. If you lead, you cannot outbid "
        "yourself.\n"
        "• Proxy bids: set a maximum and we bid for you only what is needed to lead, up to "
        "it. Two equal maxima: the earlier one leads.\n"
        "• A bid more than {percent}% above the leading price (or the reserve) is asked back "
        "for confirmation, in case of a typo.\n"
        "• Soft close: a bid in the last {minutes} minutes moves the close to {minutes} "
        "minutes after it, so nobody wins by bidding at the last second.\n"
        "• The highest bid at the close wins. Some lots are sold only once the cooperative "
        "accepts the price (within {hours} hours); otherwise the coffee goes back to its "
        "pool.\n"
        "• A lot's value is its price per kilogram times its kilograms, rounded half up to "
        "the fen; the kilograms weighed at collection are what is finally paid for."
    ).format(
        percent=settings.bid_confirm_above_percent,
        minutes=settings.soft_close_minutes,
        hours=settings.acceptance_hours,
    )
