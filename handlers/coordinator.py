"""Coordinator tools in chat: approving merchants, villages with their registration links and
QR codes, promoting and demoting coordinators, the audit log, the pools. (Announcements are in
handlers/broadcast.py.)

Every handler here carries `CoordinatorOnly()`; handlers/access.py, included before this
router, answers everyone else with "not allowed".
"""

from __future__ import annotations

import re

from aiogram import F
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import EditMessageReplyMarkup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.formatting import qr_png
from bot.models import User, Village
from bot.services import audit, coordination, pools, villages
from bot.services.errors import DomainError
from handlers import keyboards as kb
from handlers.access import CoordinatorOnly
from handlers.auctions import pool_markup
from handlers.callbacks import ApprovalCb, AuditCb, VillageAdminCb
from handlers.menus import coordinator_menus, former_coordinator_menus, merchant_menus
from handlers.prompts import prompt
from handlers.routing import RouterRecipe
from handlers.states import Coordinating
from handlers.texts import (
    MENU_APPROVE,
    MENU_AUDIT,
    MENU_VILLAGES,
    audit_page,
    domain_problem,
    is_answer,
    is_menu,
    merchant_card,
    pool_page_groups,
    village_link_caption,
    village_list,
)
from handlers.turn import Turn

router = RouterRecipe("coordinator")

# One message per waiting merchant; more than this at once floods the chat.
SHOWN_MERCHANTS = 20
_TELEGRAM_ID = re.compile(r"\d{1,15}")


def _with_note(card: str, note: str) -> str:
    return f"{card}\n\n{note}"


# Approving merchants


@router.message(Command("approve"), CoordinatorOnly())
@router.message(is_menu(MENU_APPROVE), CoordinatorOnly())
async def list_pending(message: Message, turn: Turn, settings: Settings) -> None:
    await turn.state.clear()
    merchants = await coordination.pending_merchants(turn.session)
    if not merchants:
        await turn.say(_("No merchants are waiting for approval."))
        return
    if len(merchants) > SHOWN_MERCHANTS:
        await turn.say(
            _(
                "{count} merchants are waiting. Here are the first {shown}; send /approve "
                "again for the rest."
            ).format(count=len(merchants), shown=SHOWN_MERCHANTS)
        )
    else:
        await turn.say(_("Merchants waiting for approval: {count}").format(count=len(merchants)))
    for merchant in merchants[:SHOWN_MERCHANTS]:
        await turn.say(merchant_card(merchant, settings), kb.approval(merchant.id))


async def _decided_already(
    callback: CallbackQuery, turn: Turn, callback_answer: CallbackAnswer, exc: DomainError
) -> None:
    """An alert, and the card's buttons replaced by the outcome so it cannot be pressed again."""
    problem = domain_problem(exc)
    callback_answer.text = problem
    callback_answer.show_alert = True
    card = callback.message.text if isinstance(callback.message, Message) else None
    await turn.mark_answered(callback, _with_note(card, problem) if card else problem)


@router.callback_query(ApprovalCb.filter(F.action == "yes"), CoordinatorOnly())
async def approve(
    callback: CallbackQuery,
    callback_data: ApprovalCb,
    turn: Turn,
    settings: Settings,
    callback_answer: CallbackAnswer,
    i18n: I18n,
) -> None:
    try:
        merchant = await coordination.approve_merchant(
            turn.session, turn.user, callback_data.merchant_id
        )
    except DomainError as exc:
        await _decided_already(callback, turn, callback_answer, exc)
        return
    for method in merchant_menus(i18n, merchant.telegram_id):  # /lots and /mybids for them
        turn.send(method)
    data = await turn.state.get_data()
    if (
        await turn.state.get_state() == Coordinating.reject_reason.state
        and data.get("merchant_id") == merchant.id
    ):
        await turn.state.clear()
    await turn.mark_answered(
        callback,
        _with_note(
            merchant_card(merchant, settings),
            _("✅ Approved. The merchant is told they can bid."),
        ),
    )


@router.callback_query(ApprovalCb.filter(F.action == "no"), CoordinatorOnly())
async def start_rejection(
    callback: CallbackQuery,
    callback_data: ApprovalCb,
    turn: Turn,
    callback_answer: CallbackAnswer,
) -> None:
    try:
        merchant = await coordination.pending_merchant(turn.session, callback_data.merchant_id)
    except DomainError as exc:
        await _decided_already(callback, turn, callback_answer, exc)
        return
    card_id = callback.message.message_id if isinstance(callback.message, Message) else None
    await turn.state.set_state(Coordinating.reject_reason)
    await turn.state.set_data(
        {"merchant_id": merchant.id, "company": merchant.company or "", "card_id": card_id}
    )
    await ask_reject_reason(turn)


@prompt(Coordinating.reject_reason)
async def ask_reject_reason(turn: Turn) -> None:
    data = await turn.data()
    await turn.say(
        _(
            "Why is {company} not approved? Type the reason in one message: the merchant "
            "will read it. Send /cancel to decide later."
        ).format(company=data.get("company", ""))
    )


@router.message(Coordinating.reject_reason, is_answer, CoordinatorOnly())
async def reject(message: Message, turn: Turn, settings: Settings) -> None:
    data = await turn.data()
    try:
        merchant = await coordination.reject_merchant(
            turn.session, turn.user, int(data["merchant_id"]), message.text or ""
        )
    except DomainError as exc:
        if exc.reason not in {"reason_empty", "reason_too_long"}:
            await turn.state.clear()  # decided meanwhile: no reason to ask for
        raise
    await turn.state.clear()
    reason = merchant.merchant_reject_reason or ""
    if data.get("card_id"):
        await turn.edit(
            int(data["card_id"]),
            _with_note(
                merchant_card(merchant, settings),
                _("✖ Not approved: {reason}").format(reason=reason),
            ),
        )
    await turn.say(
        _("✖ {company} is not approved. The merchant is told why: {reason}").format(
            company=merchant.company or "", reason=reason
        )
    )


# Villages


async def show_villages(turn: Turn) -> None:
    rows = await villages.list_villages(turn.session)
    counts = await villages.village_counts(turn.session)
    await turn.say(village_list(rows, counts), kb.village_admin(rows))


async def send_village_qr(turn: Turn, village: Village) -> None:
    """The village's registration deep link, as a QR code image with the link as caption."""
    me = await turn.bot.me()  # known since polling started: no request
    link = villages.registration_link(me.username or "", village)
    await turn.photo(
        BufferedInputFile(qr_png(link), filename=f"village-{village.code}.png"),
        caption=village_link_caption(village, link),
    )


@router.message(Command("villages"), CoordinatorOnly())
@router.message(is_menu(MENU_VILLAGES), CoordinatorOnly())
async def list_villages(message: Message, turn: Turn) -> None:
    await turn.state.clear()
    await show_villages(turn)


async def _village_or_alert(
    turn: Turn, callback_answer: CallbackAnswer, village_id: int
) -> Village | None:
    village = await villages.get_village(turn.session, village_id)
    if village is None:
        callback_answer.text = domain_problem(DomainError("village_unknown"))
        callback_answer.show_alert = True
    return village


@router.callback_query(VillageAdminCb.filter(F.action == "link"), CoordinatorOnly())
async def village_link(
    callback: CallbackQuery,
    callback_data: VillageAdminCb,
    turn: Turn,
    callback_answer: CallbackAnswer,
) -> None:
    village = await _village_or_alert(turn, callback_answer, callback_data.village_id)
    if village is None:
        return
    await send_village_qr(turn, village)


@router.callback_query(VillageAdminCb.filter(F.action == "add"), CoordinatorOnly())
async def start_adding_village(callback: CallbackQuery, turn: Turn) -> None:
    await turn.state.set_state(Coordinating.village_name)
    await turn.state.set_data({})
    await ask_village_name(turn)


@prompt(Coordinating.village_name)
async def ask_village_name(turn: Turn) -> None:
    await turn.say(_("Type the name of the new village, or send /cancel."))


@router.message(Coordinating.village_name, is_answer, CoordinatorOnly())
async def village_name_typed(message: Message, turn: Turn) -> None:
    village = await villages.add_village(turn.session, turn.user, message.text or "")
    await turn.state.clear()
    await turn.say(
        _("✅ {name} is added. Share its link or QR code with the village's farmers.").format(
            name=village.name
        )
    )
    await send_village_qr(turn, village)


@router.callback_query(VillageAdminCb.filter(F.action == "rename"), CoordinatorOnly())
async def start_renaming_village(
    callback: CallbackQuery,
    callback_data: VillageAdminCb,
    turn: Turn,
    callback_answer: CallbackAnswer,
) -> None:
    village = await _village_or_alert(turn, callback_answer, callback_data.village_id)
    if village is None:
        return
    await turn.state.set_state(Coordinating.village_rename)
    await turn.state.set_data({"village_id": village.id, "village_name": village.name})
    await ask_village_rename(turn)


@prompt(Coordinating.village_rename)
async def ask_village_rename(turn: Turn) -> None:
    data = await turn.data()
    await turn.say(
        _(
            "Type the new name for {name}, or send /cancel to keep it. Its registration "
            "link and QR code stay the same."
        ).format(name=data.get("village_name", ""))
    )


@router.message(Coordinating.village_rename, is_answer, CoordinatorOnly())
async def village_rename_typed(message: Message, turn: Turn) -> None:
    data = await turn.data()
    try:
        village = await villages.rename_village(
            turn.session, turn.user, int(data["village_id"]), message.text or ""
        )
    except DomainError as exc:
        if exc.reason == "village_unknown":
            await turn.state.clear()  # nothing left to rename
        raise
    await turn.state.clear()
    await turn.say(
        _("✅ {old} is now called {new}. Its registration link and QR code stay the same.").format(
            old=data.get("village_name", ""), new=village.name
        )
    )
    await show_villages(turn)


# Promoting coordinators


def parse_telegram_id(text: str) -> int:
    text = text.strip()
    if not _TELEGRAM_ID.fullmatch(text) or int(text) <= 0:
        raise DomainError("telegram_id_invalid")
    return int(text)


def _person(user: User) -> str:
    name = user.name or user.company
    return f"{name} ({user.telegram_id})" if name else str(user.telegram_id)


async def _promote(turn: Turn, text: str, i18n: I18n) -> None:
    user = await coordination.promote(turn.session, turn.user, parse_telegram_id(text))
    await turn.state.clear()
    # If Telegram refuses, they can still type the commands; the menu comes on restart.
    for method in coordinator_menus(i18n, user.telegram_id):
        turn.send(method)
    await turn.say(
        _(
            "✅ {person} is a coordinator now. They are told so, and their command menu "
            "shows the coordinator tools."
        ).format(person=_person(user))
    )


@router.message(Command("promote"), CoordinatorOnly())
async def promote(message: Message, command: CommandObject, turn: Turn, i18n: I18n) -> None:
    await turn.state.clear()
    if command.args:
        await _promote(turn, command.args, i18n)
        return
    await turn.state.set_state(Coordinating.promote_id)
    await ask_promote_id(turn)


@prompt(Coordinating.promote_id)
async def ask_promote_id(turn: Turn) -> None:
    await turn.say(
        _(
            "Whom do you want to make a coordinator? Type their Telegram user id, a number "
            "like 123456789. They must have sent /start to this bot first. Send /cancel to stop."
        )
    )


@router.message(Coordinating.promote_id, is_answer, CoordinatorOnly())
async def promote_id_typed(message: Message, turn: Turn, i18n: I18n) -> None:
    await _promote(turn, message.text or "", i18n)


# Demoting coordinators


async def _demote(turn: Turn, text: str, settings: Settings) -> None:
    try:
        user = await coordination.demote(
            turn.session, turn.user, parse_telegram_id(text), settings.coordinator_ids
        )
    except DomainError as exc:
        if exc.reason not in {"telegram_id_invalid", "not_coordinator"}:
            await turn.state.clear()  # nothing to ask again: the refusal is final
        raise
    await turn.state.clear()
    if user.id != turn.user.id:  # an unfinished coordinator dialogue of theirs ends too
        key = StorageKey(bot_id=turn.bot.id, chat_id=user.telegram_id, user_id=user.telegram_id)
        await FSMContext(turn.state.storage, key).clear()
    # If Telegram refuses, the menu is reset at the next start.
    for method in former_coordinator_menus(user.telegram_id):
        turn.send(method)
    if user.id == turn.user.id:
        await turn.say(_("You are no longer a coordinator."), kb.main_menu(user))
        return
    await turn.say(
        _(
            "✅ {person} is no longer a coordinator. They are told so, and their command "
            "menu no longer shows the coordinator tools."
        ).format(person=_person(user))
    )


@router.message(Command("demote"), CoordinatorOnly())
async def demote(message: Message, command: CommandObject, turn: Turn, settings: Settings) -> None:
    await turn.state.clear()
    if command.args:
        await _demote(turn, command.args, settings)
        return
    await turn.state.set_state(Coordinating.demote_id)
    await ask_demote_id(turn)


@prompt(Coordinating.demote_id)
async def ask_demote_id(turn: Turn) -> None:
    await turn.say(
        _(
            "Who should no longer be a coordinator? Type their Telegram user id, a number "
            "like 123456789. Send /cancel to stop."
        )
    )


@router.message(Coordinating.demote_id, is_answer, CoordinatorOnly())
async def demote_id_typed(message: Message, turn: Turn, settings: Settings) -> None:
    await _demote(turn, message.text or "", settings)


# The audit log


async def _show_audit(turn: Turn, settings: Settings, before: int | None) -> None:
    page = await audit.page(turn.session, turn.user, before)
    text, shown = audit_page(page.entries, settings)
    more = page.more or shown < len(page.entries)
    await turn.say(text, kb.audit_more(page.entries[shown - 1].id) if more and shown else None)


@router.message(Command("audit"), CoordinatorOnly())
@router.message(is_menu(MENU_AUDIT), CoordinatorOnly())
async def show_audit(message: Message, turn: Turn, settings: Settings) -> None:
    await turn.state.clear()
    await _show_audit(turn, settings, None)


@router.callback_query(AuditCb.filter(), CoordinatorOnly())
async def older_audit(
    callback: CallbackQuery, callback_data: AuditCb, turn: Turn, settings: Settings
) -> None:
    if isinstance(callback.message, Message):  # the next page carries the next button
        turn.send(
            EditMessageReplyMarkup(
                chat_id=turn.chat_id, message_id=callback.message.message_id, reply_markup=None
            )
        )
    await _show_audit(turn, settings, callback_data.before)


# Pools


@router.message(Command("pools"), CoordinatorOnly())
async def show_pools(message: Message, turn: Turn, settings: Settings) -> None:
    """What could be auctioned now: one line per pool, split over messages when long, each
    pool with its button to open an auction (handlers/auctions.py)."""
    await turn.state.clear()
    for page, shown in pool_page_groups(await pools.pools(turn.session), settings):
        await turn.say(page, pool_markup(shown))
