"""A registered farmer views and changes their name, phone and village."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.models import Role
from bot.services import users, villages
from bot.services.errors import DomainError
from handlers import drafts
from handlers import keyboards as kb
from handlers.callbacks import ProfileCb, VillageCb
from handlers.prompts import prompt
from handlers.routing import RouterRecipe
from handlers.states import Profile
from handlers.texts import MENU_PROFILE, is_answer, is_menu, profile_text
from handlers.turn import Turn

router = RouterRecipe("profile")


async def show_profile(turn: Turn) -> None:
    user = turn.user
    if user.role == Role.FARMER and user.registered:
        await turn.say(profile_text(user), kb.profile_actions())
    elif user.role == Role.MERCHANT and user.registered:
        await turn.say(
            _("Company: {company}\nContact: {contact}").format(
                company=user.company, contact=user.contact
            )
        )
    else:
        raise DomainError("not_farmer")


@router.message(Command("profile"))
@router.message(is_menu(MENU_PROFILE))
async def profile(message: Message, turn: Turn) -> None:
    left_report = drafts.in_report(await turn.state.get_state())
    kept = await drafts.park(turn)
    await show_profile(turn)
    if left_report and kept:  # left in the middle of a report: say it is kept
        await drafts.offer(turn)


@prompt(Profile.name)
async def ask_new_name(turn: Turn) -> None:
    await turn.say(_("Type your new name, or /cancel to keep it."))


@prompt(Profile.phone)
async def ask_new_phone(turn: Turn) -> None:
    await turn.say(
        _("Share your new phone number with the button below, or /cancel to keep it."),
        kb.share_contact(),
    )


@prompt(Profile.village)
async def ask_new_village(turn: Turn) -> None:
    await turn.say(
        _("Choose your village, or /cancel to keep it."),
        kb.villages(await villages.list_villages(turn.session)),
    )


ASK = {
    "name": (Profile.name, ask_new_name),
    "phone": (Profile.phone, ask_new_phone),
    "village": (Profile.village, ask_new_village),
}


@router.callback_query(ProfileCb.filter(F.field.in_(set(ASK))))
async def change(callback: CallbackQuery, callback_data: ProfileCb, turn: Turn) -> None:
    if turn.user.role != Role.FARMER:
        raise DomainError("not_farmer")
    state, ask = ASK[callback_data.field]
    await turn.state.set_state(state)
    await ask(turn)


async def _saved(turn: Turn) -> None:
    await turn.state.clear()
    await turn.say(_("Saved."), kb.main_menu(turn.user))
    await show_profile(turn)


@router.message(Profile.name, is_answer)
async def new_name(message: Message, turn: Turn) -> None:
    await users.update_farmer_profile(turn.session, turn.user, name=message.text or "")
    await _saved(turn)


@router.message(Profile.phone, F.contact)
async def new_phone(message: Message, turn: Turn) -> None:
    assert message.contact is not None and message.from_user is not None
    users.check_own_contact(message.from_user.id, message.contact.user_id)
    await users.update_farmer_profile(turn.session, turn.user, phone=message.contact.phone_number)
    await _saved(turn)


@router.callback_query(Profile.village, VillageCb.filter())
async def new_village(callback: CallbackQuery, callback_data: VillageCb, turn: Turn) -> None:
    await users.update_farmer_profile(turn.session, turn.user, village_id=callback_data.village_id)
    await _saved(turn)
