"""First contact: language, role, then the farmer's or the merchant's registration."""

from __future__ import annotations

from aiogram import F
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.contact import parse_contact, shared_contact
from bot.models import Role
from bot.services import users, villages
from bot.services.errors import DomainError
from handlers import keyboards as kb
from handlers.callbacks import DigestAnswerCb, LangCb, RoleCb, VillageCb
from handlers.prompts import ask_current, prompt
from handlers.routing import RouterRecipe
from handlers.states import Registration
from handlers.texts import LANGUAGE_NAMES, coordinator_greeting, is_answer
from handlers.turn import Turn

router = RouterRecipe("registration")


async def begin_registration(turn: Turn, village_id: int | None = None) -> None:
    """Start (or restart) registration at the first unanswered question."""
    if village_id is not None:
        await turn.state.update_data(village_id=village_id)
    if turn.user.language is None:
        await turn.state.set_state(Registration.language)
    elif users.may_reapply(turn.user):
        # Turned down: the merchant questions again, with the reason they were given.
        await turn.say(
            _(
                "Your last application was not approved. Reason: {reason}\n\n"
                "Apply again with corrected details."
            ).format(reason=turn.user.merchant_reject_reason or "—")
        )
        await turn.state.set_state(Registration.merchant_company)
    elif turn.user.role == Role.COORDINATOR:
        await turn.state.clear()
        await turn.say(coordinator_greeting(), kb.main_menu(turn.user))
        return
    else:
        await turn.state.set_state(Registration.role)
    await ask_current(turn)


@prompt(Registration.language)
async def ask_language(turn: Turn) -> None:
    await turn.say(_("Welcome to farmgate! Choose your language:"), kb.languages())


@prompt(Registration.role)
async def ask_role(turn: Turn) -> None:
    await turn.say(_("Do you grow coffee or buy coffee?"), kb.roles())


@prompt(Registration.farmer_name, Registration.merchant_company)
async def ask_name(turn: Turn) -> None:
    if await turn.state.get_state() == Registration.merchant_company.state:
        await turn.say(_("What is the name of your company?"), ReplyKeyboardRemove())
    else:
        await turn.say(_("What is your name?"), ReplyKeyboardRemove())


@prompt(Registration.farmer_phone)
async def ask_phone(turn: Turn) -> None:
    await turn.say(
        _(
            "Please share your phone number with the button below, so the "
            "cooperative can reach you."
        ),
        kb.share_contact(),
    )


@prompt(Registration.farmer_village)
async def ask_village(turn: Turn) -> None:
    rows = await villages.list_villages(turn.session)
    if not rows:
        await turn.say(
            _(
                "No village has been set up yet. Please ask your coordinator, then "
                "send /start again."
            )
        )
        return
    await turn.say(_("Which village do you deliver your coffee to?"), kb.villages(rows))


@prompt(Registration.farmer_digest, Registration.merchant_digest)
async def ask_digest(turn: Turn) -> None:
    await turn.say(_("Do you want today's coffee prices every morning?"), kb.digest_choice())


@prompt(Registration.merchant_contact)
async def ask_contact(turn: Turn) -> None:
    await turn.say(
        _(
            "How can the cooperative reach you? Type a phone number or an e-mail address, "
            "or share your Telegram contact with the button below."
        ),
        kb.share_contact(),
    )


@router.callback_query(LangCb.filter())
async def language_chosen(
    callback: CallbackQuery, callback_data: LangCb, turn: Turn, i18n: I18n
) -> None:
    """Used by registration and by /language; the reply is already in the new language."""
    code = callback_data.code
    if code not in LANGUAGE_NAMES:
        return
    await users.set_language(turn.session, turn.user, code)
    with i18n.use_locale(code):
        await turn.mark_answered(callback, _("Language: {name}").format(name=LANGUAGE_NAMES[code]))
        if await turn.state.get_state() == Registration.language.state:
            await begin_registration(turn)
        elif turn.user.registered:
            await turn.say(_("Language changed."), kb.main_menu(turn.user))
            await ask_current(turn)  # the question the user was at, in the new language
        else:
            await begin_registration(turn)


@router.callback_query(Registration.role, RoleCb.filter())
async def role_chosen(callback: CallbackQuery, callback_data: RoleCb, turn: Turn) -> None:
    if callback_data.role == Role.FARMER.value:
        await turn.mark_answered(callback, _("🌱 I grow coffee"))
        await turn.state.set_state(Registration.farmer_name)
    else:
        await turn.mark_answered(callback, _("🏢 I buy coffee"))
        await turn.state.set_state(Registration.merchant_company)
    await ask_name(turn)


@router.message(Registration.farmer_name, is_answer)
async def farmer_name(message: Message, turn: Turn) -> None:
    name = users.clean_name(message.text or "")
    await turn.state.update_data(name=name)
    await turn.state.set_state(Registration.farmer_phone)
    await ask_phone(turn)


@router.message(Registration.farmer_phone, F.contact)
async def farmer_phone(message: Message, turn: Turn) -> None:
    contact = message.contact
    assert contact is not None and message.from_user is not None
    users.check_own_contact(message.from_user.id, contact.user_id)
    phone = users.clean_phone(contact.phone_number)
    await turn.state.update_data(phone=phone)
    await turn.say(
        _("Thank you, your number is {phone}.").format(phone=phone), ReplyKeyboardRemove()
    )
    data = await turn.state.get_data()
    if data.get("village_id") is not None:  # a village's link: its village is known
        await turn.state.set_state(Registration.farmer_digest)
        await ask_digest(turn)
        return
    await turn.state.set_state(Registration.farmer_village)
    await ask_village(turn)


@router.callback_query(Registration.farmer_village, VillageCb.filter())
async def farmer_village(callback: CallbackQuery, callback_data: VillageCb, turn: Turn) -> None:
    village = await villages.get_village(turn.session, callback_data.village_id)
    if village is None:
        raise DomainError("village_unknown")
    await turn.mark_answered(callback, _("Village: {name}").format(name=village.name))
    await turn.state.update_data(village_id=village.id)
    if "price_digest" in await turn.state.get_data():  # asked again: the village was gone
        await finish_farmer(turn)
        return
    await turn.state.set_state(Registration.farmer_digest)
    await ask_digest(turn)


@router.callback_query(Registration.farmer_digest, DigestAnswerCb.filter())
@router.callback_query(Registration.merchant_digest, DigestAnswerCb.filter())
async def digest_chosen(callback: CallbackQuery, callback_data: DigestAnswerCb, turn: Turn) -> None:
    """The last question: the answer is stored with the registration itself."""
    await turn.mark_answered(
        callback,
        _("Prices every morning: {answer}").format(
            answer=_("✅ Yes") if callback_data.want else _("No")
        ),
    )
    await turn.state.update_data(price_digest=callback_data.want)
    if await turn.state.get_state() == Registration.merchant_digest.state:
        await finish_merchant(turn)
    else:
        await finish_farmer(turn)


async def finish_farmer(turn: Turn) -> None:
    data = await turn.state.get_data()
    # A refusal (a village gone meanwhile) asks for the village again, also after a deep link.
    await turn.state.set_state(Registration.farmer_village)
    user = await users.register_farmer(
        turn.session,
        turn.user,
        name=data.get("name", ""),
        phone=data.get("phone", ""),
        village_id=int(data["village_id"]),
        price_digest=bool(data.get("price_digest", True)),
    )
    await turn.state.clear()
    assert user.village is not None
    await turn.say(
        _(
            "Welcome, {name}! You are registered as a farmer of {village}.\n\n"
            "Tap “📦 Report harvest” when you have coffee to sell."
        ).format(name=user.name, village=user.village.name),
        kb.main_menu(user),
    )


@router.message(Registration.merchant_company, is_answer)
async def merchant_company(message: Message, turn: Turn) -> None:
    company = users.clean_name(message.text or "", users.MAX_CONTACT)
    await turn.state.update_data(company=company)
    await turn.state.set_state(Registration.merchant_contact)
    await ask_contact(turn)


@router.message(Registration.merchant_contact, F.contact)
@router.message(Registration.merchant_contact, is_answer)
async def merchant_contact(message: Message, turn: Turn) -> None:
    """A typed phone number or e-mail address, or the merchant's own shared contact; anything
    else is refused with the reason (bot/contact.py) and asked again."""
    if message.contact:
        assert message.from_user is not None
        shared = shared_contact(
            message.from_user.id, message.contact.user_id, message.contact.phone_number
        )
    else:
        shared = parse_contact(message.text or "")
    await turn.state.update_data(contact=shared.value)
    await turn.state.set_state(Registration.merchant_digest)
    await ask_digest(turn)


async def finish_merchant(turn: Turn) -> None:
    data = await turn.state.get_data()
    user = await users.register_merchant(
        turn.session,
        turn.user,
        company=data.get("company", ""),
        contact=data.get("contact", ""),
        price_digest=bool(data.get("price_digest", True)),
    )
    await turn.state.clear()
    await turn.say(
        _(
            "Thank you! {company} is registered and waiting for a coordinator's "
            "approval. We will message you here as soon as you can bid."
        ).format(company=user.company),
        kb.main_menu(user),
    )
