"""Coordinator-only commands and buttons: everyone else is told "not allowed", nothing more."""

from __future__ import annotations

from typing import Any

from aiogram import F
from aiogram.filters import Command, Filter
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.models import Role, User
from handlers.routing import RouterRecipe

COORDINATOR_COMMANDS = (
    "broadcast",
    "broadcasts",
    "approve",
    "villages",
    "promote",
    "demote",
    "audit",
)
# Callback prefixes of coordinator buttons (the CallbackData prefixes in handlers/callbacks.py).
COORDINATOR_PREFIXES = ("bc", "bcx", "appr", "vadm", "aud")

router = RouterRecipe("access")


class CoordinatorOnly(Filter):
    async def __call__(self, event: Any, user: User | None = None) -> bool:
        return user is not None and user.role == Role.COORDINATOR


@router.message(Command(*COORDINATOR_COMMANDS), ~CoordinatorOnly())
async def command_not_allowed(message: Message) -> None:
    await message.answer(_("Sorry, only coordinators can do that."))


@router.callback_query(F.data.regexp(rf"^({'|'.join(COORDINATOR_PREFIXES)}):"), ~CoordinatorOnly())
async def button_not_allowed(callback: CallbackQuery) -> None:
    await callback.answer(_("Sorry, only coordinators can do that."), show_alert=True)
