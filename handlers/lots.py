"""Browsing the market: /lots (a paged list with a product filter), a lot's card and its
photos, /mybids and /rules.

Approved merchants browse and bid (handlers/bidding.py); coordinators may browse too, without
bid buttons; anyone else is told why not (bids.require_bidder's refusals). A card never says
who leads, unless it is the reader.
"""

from __future__ import annotations

from typing import Any

from aiogram import F
from aiogram.filters import Command
from aiogram.methods import SendMediaGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, InputMediaPhoto, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.models import Role, User, utcnow
from bot.services import bids, lots
from handlers.callbacks import LotCb
from handlers.lot_views import (
    PAGE_SIZE,
    PRODUCTS,
    card_markup,
    lot_card,
    lot_list,
    lot_list_markup,
    my_bids_markup,
    my_bids_text,
    rules_text,
)
from handlers.market_notices import lot_name
from handlers.prompts import ask_current
from handlers.routing import RouterRecipe
from handlers.texts import MENU_LOTS, MENU_MYBIDS, MENU_RULES, is_menu
from handlers.turn import Turn

router = RouterRecipe("lots")

MAX_PHOTOS = 10  # one media group


def may_bid(user: User) -> bool:
    """True for an approved merchant, False for a coordinator (who browses without bidding);
    DomainError saying why for anyone else."""
    if user.role == Role.COORDINATOR:
        return False
    bids.require_bidder(user)
    return True


async def _page(turn: Turn, number: int, product: str) -> tuple[str, InlineKeyboardMarkup]:
    product = product if product in PRODUCTS else ""
    number = max(number, 0)
    page = await lots.open_lots_page(turn.session, product or None, number * PAGE_SIZE, PAGE_SIZE)
    if not page.lots and page.total and number > 0:  # lots closed since: the last page left
        number = (page.total - 1) // PAGE_SIZE
        page = await lots.open_lots_page(
            turn.session, product or None, number * PAGE_SIZE, PAGE_SIZE
        )
    return lot_list(page, number, product, utcnow()), lot_list_markup(page, number, product)


async def _show(
    turn: Turn, callback: CallbackQuery | None, text: str, markup: InlineKeyboardMarkup
) -> None:
    """In place of the message whose button was pressed, or as a new message."""
    if callback is not None and isinstance(callback.message, Message):
        await turn.edit(callback.message.message_id, text, markup)
    else:
        await turn.say(text, markup)


@router.message(Command("lots"))
@router.message(is_menu(MENU_LOTS))
async def show_lots(message: Message, turn: Turn) -> None:
    may_bid(turn.user)
    await turn.state.clear()
    await turn.say(*await _page(turn, 0, ""))


@router.callback_query(LotCb.filter(F.action == "list"))
async def list_page(callback: CallbackQuery, callback_data: LotCb, turn: Turn) -> None:
    may_bid(turn.user)
    await _show(turn, callback, *await _page(turn, callback_data.page, callback_data.product))


@router.callback_query(LotCb.filter(F.action.in_({"open", "card"})))
async def show_card(
    callback: CallbackQuery, callback_data: LotCb, turn: Turn, settings: Settings
) -> None:
    """ "open" (from the list) replaces the list with the card; "card" (from a notice or a
    reply) sends it as a new message, leaving the notice as it was."""
    bidder = may_bid(turn.user)
    view = await lots.lot_view(turn.session, callback_data.lot_id)
    text = lot_card(view, turn.user.id, utcnow(), settings)
    markup = card_markup(view, bidder, callback_data.page, callback_data.product, back=True)
    await _show(turn, callback if callback_data.action == "open" else None, text, markup)


@router.callback_query(LotCb.filter(F.action == "photos"))
async def show_photos(callback: CallbackQuery, callback_data: LotCb, turn: Turn) -> None:
    """The farmers' photos of the lot's reports: one photo, or a media group of up to ten."""
    may_bid(turn.user)
    view = await lots.lot_view(turn.session, callback_data.lot_id)
    photos = await lots.lot_photos(turn.session, view.id)
    name = lot_name(view.id)
    if not photos:
        await turn.say(_("The farmers sent no photos of {lot}.").format(lot=name))
        return
    if len(photos) > MAX_PHOTOS:
        caption = _("The first {shown} of the {count} photos of {lot}.").format(
            shown=MAX_PHOTOS, count=len(photos), lot=name
        )
    else:
        caption = _("Photos of {lot} from its farmers.").format(lot=name)
    photos = photos[:MAX_PHOTOS]
    if len(photos) == 1:
        await turn.photo(photos[0], caption=caption)
        return
    media: list[Any] = [
        InputMediaPhoto(media=file_id, caption=caption if i == 0 else None)
        for i, file_id in enumerate(photos)
    ]
    turn.send(SendMediaGroup(chat_id=turn.chat_id, media=media))


@router.message(Command("mybids"))
@router.message(is_menu(MENU_MYBIDS))
async def show_my_bids(message: Message, turn: Turn) -> None:
    mine = await bids.my_bids(turn.session, turn.user)
    await turn.state.clear()
    await turn.say(my_bids_text(mine, utcnow()), my_bids_markup(mine))


@router.message(Command("rules"))
@router.message(is_menu(MENU_RULES))
async def show_rules(message: Message, turn: Turn, settings: Settings) -> None:
    """For everyone, at any step: the question being asked (if any) follows again."""
    await turn.say(rules_text(settings))
    await ask_current(turn)
