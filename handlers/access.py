"""Coordinator-only commands and buttons: everyone else is told "not allowed", nothing more."""

from __future__ import annotations

from typing import Any

from aiogram import F
from aiogram.filters import Command, Filter
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from bot.models import Role, User
from handlers.callbacks import LotCb
from handlers.keyboards import main_menu
from handlers.routing import ButtonPrefix, RouterRecipe
from handlers.texts import COORDINATOR_MENU, is_menu
from handlers.turn import Turn

COORDINATOR_COMMANDS = (
    "broadcast",
    "broadcasts",
    "approve",
    "villages",
    "promote",
    "demote",
    "audit",
    "pools",
    "auctions",
    "collect",
    "stats",
    "export",
    "due",
    "disputes",
    "setprice",
)
# Callback prefixes of coordinator buttons (the CallbackData prefixes in handlers/callbacks.py).
COORDINATOR_PREFIXES = (
    "bc",
    "bcx",
    "appr",
    "vadm",
    "aud",
    "pool",
    "auc",
    "sale",
    "col",
    "fig",
    "pay",
    "dres",
    "pset",
    "held",
)
# A lot's buttons are merchants' too (LotCb); these of its actions are coordinators' only.
COORDINATOR_LOT_ACTIONS = frozenset({"bids", "close", "cancel", "close_yes", "cancel_yes", "keep"})

router = RouterRecipe("access")


class CoordinatorOnly(Filter):
    async def __call__(self, event: Any, user: User | None = None) -> bool:
        return user is not None and user.role == Role.COORDINATOR


@router.message(Command(*COORDINATOR_COMMANDS), ~CoordinatorOnly())
async def command_not_allowed(message: Message, turn: Turn) -> None:
    await turn.say(_("Sorry, only coordinators can do that."))


@router.message(is_menu(*COORDINATOR_MENU), ~CoordinatorOnly())
async def menu_not_allowed(message: Message, turn: Turn) -> None:
    """A former coordinator's keyboard: replaced by the menu of what they are now."""
    await turn.say(_("Sorry, only coordinators can do that."), main_menu(turn.user))


@router.callback_query(ButtonPrefix(*COORDINATOR_PREFIXES), ~CoordinatorOnly())
@router.callback_query(LotCb.filter(F.action.in_(COORDINATOR_LOT_ACTIONS)), ~CoordinatorOnly())
async def button_not_allowed(callback: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    callback_answer.text = _("Sorry, only coordinators can do that.")
    callback_answer.show_alert = True
