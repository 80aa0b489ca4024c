"""A coordinator's /setprice: the local reference price of a product and grade, typed in chat.

Product and grade are buttons (fresh cherry has no grade); the price is typed ("9.6",
"9.6元", "¥9.6", full-width digits) and read by bot/auction.parse_price, whose refusals are
worded as for bidding; a confirmation shows the old price, the new one and the change before
anything is stored. Rules (who may, what is stored and audited) live in
bot/services/prices.py; this router reads and words.
"""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command, StateFilter
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.auction import PriceProblem, PriceRejected, parse_price
from bot.formatting import format_change, format_price
from bot.models import Grade, Product
from bot.scheduler import Scheduler
from bot.services import prices
from bot.services.errors import DomainError
from bot.services.prices import Key
from handlers.access import CoordinatorOnly
from handlers.callbacks import SetPriceCb
from handlers.common import show_menu
from handlers.lot_views import price_problem
from handlers.payout_notices import signed_money
from handlers.price_notices import key_label
from handlers.prompts import prompt
from handlers.routing import RouterRecipe
from handlers.states import SettingPrice
from handlers.texts import is_answer, locale, product_label
from handlers.turn import Turn

router = RouterRecipe("setprice")
coordinator = CoordinatorOnly()

UNGRADED = "-"
PRODUCTS = frozenset(p.value for p in Product)
GRADES = frozenset(g.value for g in Grade) | {UNGRADED}


def _price(fen: int) -> str:
    return format_price(fen, locale(), _)


def change_text(old_fen: int | None, new_fen: int) -> str | None:
    """ "+¥0.40 (+4.3%)", "no change"; None without an old price."""
    percent = prices.change_percent(old_fen, new_fen)
    if old_fen is None or percent is None:
        return None
    if new_fen == old_fen:
        return _("no change")
    return _("{money} ({percent})").format(
        money=signed_money(new_fen - old_fen, locale()),
        percent=format_change(percent, locale()),
    )


def _buttons(rows: list[tuple[str, SetPriceCb]], columns: int) -> InlineKeyboardMarkup:
    """The step's answers, then ✖ Cancel on a row of its own."""
    builder = InlineKeyboardBuilder()
    for text, data in rows:
        builder.button(text=text, callback_data=data)
    builder.button(text=_("✖ Cancel"), callback_data=SetPriceCb(action="cancel"))
    builder.adjust(*([columns] * ((len(rows) + columns - 1) // columns)), 1)
    return builder.as_markup()


async def _key(turn: Turn) -> Key:
    data = await turn.data()
    grade = data.get("grade", UNGRADED)
    return Key(Product(data["product"]), None if grade == UNGRADED else Grade(grade))


# --- Product and grade -----------------------------------------------------------------------


@router.message(Command("setprice"), coordinator)
async def start(message: Message, turn: Turn) -> None:
    await turn.state.set_state(SettingPrice.product)
    await turn.state.set_data({})
    await ask_product(turn)


@prompt(SettingPrice.product)
async def ask_product(turn: Turn) -> None:
    rows = [(product_label(p.value), SetPriceCb(action="product", value=p.value)) for p in Product]
    await turn.say(_("Which product is the reference price for?"), _buttons(rows, 1))


@router.callback_query(
    SettingPrice.product,
    SetPriceCb.filter((F.action == "product") & F.value.in_(PRODUCTS)),
    coordinator,
)
@router.callback_query(
    SettingPrice.grade,
    SetPriceCb.filter((F.action == "grade") & F.value.in_(GRADES)),
    coordinator,
)
async def chosen(callback: CallbackQuery, callback_data: SetPriceCb, turn: Turn) -> None:
    """A product or a grade pressed: the question shows the answer, the next one is asked."""
    value = callback_data.value
    await turn.state.update_data({callback_data.action: value})
    if callback_data.action == "product":
        await turn.mark_answered(callback, _("Product: {value}").format(value=product_label(value)))
        if value != Product.CHERRY.value:
            await turn.state.set_state(SettingPrice.grade)
            await ask_grade(turn)
            return
        # Fresh cherry has no grade (as in a harvest report): its price is the ungraded one.
        await turn.state.update_data(grade=UNGRADED)
        await turn.state.set_state(SettingPrice.price)
        await ask_price(turn)
        return
    grade = value if value != UNGRADED else _("ungraded")
    await turn.mark_answered(callback, _("Grade: {value}").format(value=grade))
    await turn.state.set_state(SettingPrice.price)
    await ask_price(turn)


@prompt(SettingPrice.grade)
async def ask_grade(turn: Turn) -> None:
    rows = [(g.value, SetPriceCb(action="grade", value=g.value)) for g in Grade]
    rows.append((_("ungraded"), SetPriceCb(action="grade", value=UNGRADED)))
    await turn.say(_("Which grade?"), _buttons(rows, len(Grade)))


# --- The price ---------------------------------------------------------------------------------


@prompt(SettingPrice.price)
async def ask_price(turn: Turn) -> None:
    key = await _key(turn)
    current = await prices.current_reference(turn.session, turn.user, key)
    if current is None:
        now = _("{title} has no reference price yet.").format(title=key_label(key.code))
    else:
        now = _("The reference price of {title} is {price}.").format(
            title=key_label(key.code), price=_price(current.fen_per_kg)
        )
    await turn.say(
        now + "\n" + _("Type the new price per kg in yuan, like 9.6, 9.6元 or ¥9.6. /cancel stops.")
    )


@router.message(SettingPrice.price, is_answer, coordinator)
async def price_typed(message: Message, turn: Turn) -> None:
    """Read tolerantly, never guessed: each refusal says how to type it and asks again ("9,6"
    offers both readings as buttons)."""
    try:
        fen = parse_price(message.text or "")
    except PriceRejected as exc:
        if exc.problem == PriceProblem.AMBIGUOUS_SEPARATOR and exc.readings:
            rows = [(_price(r), SetPriceCb(action="price", value=str(r))) for r in exc.readings]
            await turn.ask(price_problem(exc), _buttons(rows, len(rows)))
            return
        await turn.say(price_problem(exc))
        await ask_price(turn)
        return
    await _price_known(turn, fen)


@router.callback_query(SettingPrice.price, SetPriceCb.filter(F.action == "price"), coordinator)
async def reading_chosen(callback: CallbackQuery, callback_data: SetPriceCb, turn: Turn) -> None:
    try:
        fen = int(callback_data.value)
    except ValueError:
        raise DomainError("bad_price") from None
    await turn.mark_answered(callback, _price(fen))
    await _price_known(turn, fen)


async def _price_known(turn: Turn, fen: int) -> None:
    await turn.state.update_data(fen=fen)
    await turn.state.set_state(SettingPrice.confirm)
    await ask_confirm(turn)


# --- Confirmation ------------------------------------------------------------------------------


@prompt(SettingPrice.confirm)
async def ask_confirm(turn: Turn) -> None:
    key = await _key(turn)
    fen = int((await turn.data())["fen"])
    current = await prices.current_reference(turn.session, turn.user, key)
    old = current.fen_per_kg if current is not None else None
    lines = [
        _("Set the reference price of {title}?").format(title=key_label(key.code)),
        "",
        _("Now: {price}").format(price=_price(old) if old is not None else _("none yet")),
        _("New: {price}").format(price=_price(fen)),
    ]
    change = change_text(old, fen)
    if change is not None:
        lines.append(_("Change: {change}").format(change=change))
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Confirm"), callback_data=SetPriceCb(action="confirm"))
    builder.button(text=_("✖ Cancel"), callback_data=SetPriceCb(action="cancel"))
    await turn.say("\n".join(lines), builder.as_markup())


@router.callback_query(SettingPrice.confirm, SetPriceCb.filter(F.action == "confirm"), coordinator)
async def confirmed(callback: CallbackQuery, turn: Turn, scheduler: Scheduler) -> None:
    key = await _key(turn)
    fen = int((await turn.data())["fen"])
    price = await prices.set_reference(turn.session, turn.user, key, fen)
    turn.after_commit(scheduler.wake_alerts)  # subscribers hear of a big move at once
    await turn.state.clear()
    text = _("✅ The reference price of {title} is now {price}.").format(
        title=key_label(key.code), price=_price(price.fen_per_kg)
    )
    change = change_text(price.previous_fen, price.fen_per_kg)
    if price.previous_fen is not None and change is not None:
        text += "\n" + _("It was {price}: {change}.").format(
            price=_price(price.previous_fen), change=change
        )
    await turn.say(text)  # the confirmation's buttons go: the dialogue ended (Turn.finish)


@router.callback_query(
    StateFilter(SettingPrice), SetPriceCb.filter(F.action == "cancel"), coordinator
)
async def cancelled(callback: CallbackQuery, turn: Turn) -> None:
    await turn.state.clear()
    await show_menu(turn, _("Cancelled. Nothing was saved."))
