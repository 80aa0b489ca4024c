"""Commands that work anywhere: /start, /help, /cancel, /language, and the main menu."""

from __future__ import annotations

from aiogram.enums import ChatMemberStatus
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import ChatMemberUpdated, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.models import Role
from bot.outbox import mark_blocked
from bot.services.users import may_reapply
from bot.services.villages import list_villages, village_by_code
from handlers import drafts
from handlers import keyboards as kb
from handlers.prompts import ask_current
from handlers.registration import begin_registration
from handlers.routing import RouterRecipe
from handlers.texts import MENU_HELP, coordinator_greeting, help_text, is_menu
from handlers.turn import Turn

router = RouterRecipe("common")


async def show_menu(turn: Turn, text: str | None = None) -> None:
    """The main menu of a registered user; registration for anyone else."""
    user = turn.user
    if not user.registered:
        if text:
            await turn.say(text)
        await begin_registration(turn)
        return
    if text is None:
        if user.role == Role.FARMER:
            text = _("What would you like to do? Choose from the menu below.")
        elif may_reapply(user):
            text = _(
                "Your merchant registration was not approved. Send /start to apply again "
                "with corrected details."
            )
        elif user.role == Role.MERCHANT:
            text = _("You are registered as a merchant ({company}).").format(
                company=user.company or ""
            )
        else:
            text = coordinator_greeting()
    await turn.say(text, kb.main_menu(user))


async def ask_again_or_menu(turn: Turn) -> None:
    if not await ask_current(turn):
        await show_menu(turn)


@router.message(CommandStart())
async def start(message: Message, command: CommandObject, turn: Turn) -> None:
    await drafts.park(turn)  # an unfinished harvest report is kept, and offered below
    await turn.state.clear()
    village_id = None
    if command.args and command.args.startswith("v_"):
        village = await village_by_code(turn.session, command.args[2:])
        if village is None:
            await unknown_village_link(turn)
        else:
            village_id = village.id
    if turn.user.registered and turn.user.language is not None and not may_reapply(turn.user):
        await show_menu(turn, _("Welcome back!"))
        await drafts.offer(turn)
        return
    await begin_registration(turn, village_id)


async def unknown_village_link(turn: Turn) -> None:
    """A village deep link that names no village (mistyped, or the village is gone): say so
    and name the villages there are; registration asks for the village with their buttons."""
    rows = await list_villages(turn.session)
    if not rows:
        await turn.say(_("That village link is not known, and no village has been set up yet."))
        return
    await turn.say(
        _("That village link is not known. The villages of the programme are: {names}.").format(
            names=_(", ").join(v.name for v in rows)
        )
        + "\n"
        + (
            _("Choose yours from the list when registration asks for your village.")
            if not turn.user.registered
            else _("To change your village, open 👤 Profile.")
        )
    )


@router.message(Command("help"))
@router.message(is_menu(MENU_HELP))
async def show_help(message: Message, turn: Turn, settings: Settings) -> None:
    await turn.say(
        help_text(turn.user, settings.programme_name),
        kb.main_menu(turn.user) if turn.user.registered else None,
    )
    await ask_current(turn)


@router.message(Command("cancel"))
async def cancel(message: Message, turn: Turn) -> None:
    if await turn.state.get_state() is None:
        await show_menu(turn, _("There is nothing to cancel."))
        return
    if drafts.in_report(await turn.state.get_state()):
        await drafts.drop(turn)
    await turn.state.clear()
    await show_menu(turn, _("Cancelled. Nothing was saved."))


@router.message(Command("language"))
async def choose_language(message: Message, turn: Turn) -> None:
    await turn.say(_("Choose your language:"), kb.languages())


@router.my_chat_member()
async def membership_changed(update: ChatMemberUpdated, turn: Turn) -> None:
    """A user who blocks the bot gets no more notices; unblocking brings them back."""
    if update.new_chat_member.status == ChatMemberStatus.KICKED:
        await mark_blocked(turn.session, turn.user.id)
    elif update.new_chat_member.status == ChatMemberStatus.MEMBER:
        turn.user.blocked = False
