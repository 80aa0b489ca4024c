"""/broadcast: a coordinator picks an audience, writes the announcement (text or photo, one
version per language if wanted), sees it exactly as recipients will, then sends or schedules
it. Progress is shown live by editing one message (rendered here, edited by the dispatcher)."""

from __future__ import annotations

from functools import partial
from typing import Any

from aiogram import F
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import SHIPPED_LOCALES, Settings
from bot.formatting import format_schedule, schedule_example, zone_name
from bot.models import Broadcast, BroadcastStatus, utcnow
from bot.notice_texts import announcement_heading, heading_room, with_heading
from bot.scheduler import Scheduler
from bot.services import broadcasts, villages
from bot.services.broadcasts import Audience, Progress
from bot.services.errors import DomainError
from handlers.access import CoordinatorOnly
from handlers.callbacks import BroadcastCb, BroadcastCtl
from handlers.prompts import prompt
from handlers.routing import RouterRecipe
from handlers.states import Broadcasting
from handlers.texts import (
    LANGUAGE_NAMES,
    MENU_BROADCAST,
    MENU_BROADCASTS,
    domain_problem,
    is_answer,
    is_menu,
    locale,
)
from handlers.turn import Turn

router = RouterRecipe("broadcast")
coordinator = CoordinatorOnly()


async def audience_label(turn: Turn, audience: Audience) -> str:
    if audience.kind == "farmers":
        return _("all farmers")
    if audience.kind == "merchants":
        return _("all merchants")
    if audience.kind == "village":
        village = await villages.get_village(turn.session, int(audience.value or 0))
        return _("farmers of {village}").format(village=village.name if village else "?")
    if audience.kind == "language":
        return _("everyone who reads {language}").format(
            language=LANGUAGE_NAMES.get(str(audience.value), "?")
        )
    return _("everyone")


async def _draft(turn: Turn) -> tuple[Audience, dict[str, str], str | None]:
    data = await turn.state.get_data()
    return (Audience.from_json(data["audience"]), dict(data.get("texts") or {}), data.get("photo"))


@router.message(Command("broadcast"), coordinator)
@router.message(is_menu(MENU_BROADCAST), coordinator)
async def start(message: Message, turn: Turn) -> None:
    await turn.state.set_state(Broadcasting.audience)
    await turn.state.set_data({})
    await ask_audience(turn)


@prompt(Broadcasting.audience)
async def ask_audience(turn: Turn) -> None:
    builder = InlineKeyboardBuilder()
    for kind, label in (
        ("all", _("Everyone")),
        ("farmers", _("Farmers")),
        ("merchants", _("Merchants")),
    ):
        count = await broadcasts.count_audience(turn.session, Audience(kind))
        builder.button(
            text=f"{label} ({count})", callback_data=BroadcastCb(action="aud", value=kind)
        )
    builder.button(
        text=_("One village…"), callback_data=BroadcastCb(action="pick", value="village")
    )
    builder.button(
        text=_("One language…"), callback_data=BroadcastCb(action="pick", value="language")
    )
    builder.button(text=_("✖ Cancel"), callback_data=BroadcastCb(action="cancel"))
    builder.adjust(1)
    await turn.say(_("Who should receive this announcement?"), builder.as_markup())


@router.callback_query(Broadcasting.audience, BroadcastCb.filter(F.action == "pick"), coordinator)
async def pick_segment(callback: CallbackQuery, callback_data: BroadcastCb, turn: Turn) -> None:
    builder = InlineKeyboardBuilder()
    if callback_data.value == "village":
        for village in await villages.list_villages(turn.session):
            count = await broadcasts.count_audience(turn.session, Audience("village", village.id))
            builder.button(
                text=f"{village.name} ({count})",
                callback_data=BroadcastCb(action="aud", value=f"village-{village.id}"),
            )
    else:
        for code, name in LANGUAGE_NAMES.items():
            count = await broadcasts.count_audience(turn.session, Audience("language", code))
            builder.button(
                text=f"{name} ({count})",
                callback_data=BroadcastCb(action="aud", value=f"language-{code}"),
            )
    builder.button(text=_("◀ Back"), callback_data=BroadcastCb(action="back"))
    builder.adjust(2)
    await turn.say(_("Which one?"), builder.as_markup())


@router.callback_query(Broadcasting.audience, BroadcastCb.filter(F.action == "back"), coordinator)
async def back_to_audience(callback: CallbackQuery, turn: Turn) -> None:
    await ask_audience(turn)


@router.callback_query(Broadcasting.audience, BroadcastCb.filter(F.action == "aud"), coordinator)
async def audience_chosen(callback: CallbackQuery, callback_data: BroadcastCb, turn: Turn) -> None:
    kind, _sep, value = callback_data.value.partition("-")
    if kind not in broadcasts.AUDIENCE_KINDS:
        await ask_audience(turn)
        return
    audience = Audience(kind, int(value) if kind == "village" else value or None)
    count = await broadcasts.count_audience(turn.session, audience)
    label = await audience_label(turn, audience)
    if count == 0:
        await turn.say(
            _("Nobody is in that audience yet ({label}). Choose another one.").format(label=label)
        )
        await ask_audience(turn)
        return
    await turn.mark_answered(
        callback, _("Audience: {label} ({count})").format(label=label, count=count)
    )
    await turn.state.update_data(audience=audience.to_json(), texts={}, photo=None)
    await turn.state.set_state(Broadcasting.content)
    await ask_content(turn)


@prompt(Broadcasting.content)
async def ask_content(turn: Turn) -> None:
    await turn.say(
        _("Now send the announcement: a text, or one photo with a caption."), _cancel_markup()
    )


def _cancel_markup() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✖ Cancel"), callback_data=BroadcastCb(action="cancel"))
    return builder.as_markup()


@router.message(Broadcasting.content, F.photo, coordinator)
@router.message(Broadcasting.content, is_answer, coordinator)
async def content_received(message: Message, turn: Turn) -> None:
    photo = message.photo[-1].file_id if message.photo else None
    text = (message.caption if photo else message.text) or ""
    texts = {"": text} if text else {}
    broadcasts.check_content(texts, photo, _heading_room(turn))
    await turn.state.update_data(texts=texts, photo=photo)
    await turn.state.set_state(Broadcasting.review)
    await ask_review(turn)


def _heading_room(turn: Turn) -> int:
    """Room every announcement leaves for its heading, in the longest language."""
    return heading_room(turn.settings.programme_name, get_i18n(), SHIPPED_LOCALES)


async def _show_as_sent(turn: Turn, text: str, photo: str | None, code: str) -> None:
    """The announcement exactly as a recipient's chat will show it, heading included
    (bot/notice_texts.py renders the same at send time)."""
    heading = announcement_heading(turn.settings.programme_name, code, get_i18n())
    if photo:
        await turn.photo(photo, caption=with_heading(heading, text, photo=True))
    else:
        await turn.say(with_heading(heading, text, photo=False))


@prompt(Broadcasting.review)
async def ask_review(turn: Turn) -> None:
    audience, texts, photo = await _draft(turn)
    count = await broadcasts.count_audience(turn.session, audience)
    await turn.say(_("Preview: this is what recipients will see."))
    await _show_as_sent(turn, texts.get("", ""), photo, locale())
    for code, text in texts.items():
        if code:
            await turn.say(
                _("Version for readers of {language}:").format(language=LANGUAGE_NAMES[code])
            )
            await _show_as_sent(turn, text, photo, code)
    builder = InlineKeyboardBuilder()
    builder.button(text=_("📤 Send now"), callback_data=BroadcastCb(action="send"))
    builder.button(text=_("🕒 Schedule"), callback_data=BroadcastCb(action="schedule"))
    for code, name in LANGUAGE_NAMES.items():
        builder.button(
            text=_("➕ Version in {language}").format(language=name),
            callback_data=BroadcastCb(action="version", value=code),
        )
    builder.button(text=_("✖ Cancel"), callback_data=BroadcastCb(action="cancel"))
    builder.adjust(2, 2, 1)
    await turn.say(
        _(
            "Audience: {label}, {count} people. Send it now, schedule it, add a "
            "version in one language, or cancel."
        ).format(label=await audience_label(turn, audience), count=count),
        builder.as_markup(),
    )


@router.callback_query(Broadcasting.review, BroadcastCb.filter(F.action == "version"), coordinator)
async def ask_version_language(
    callback: CallbackQuery, callback_data: BroadcastCb, turn: Turn
) -> None:
    if callback_data.value not in LANGUAGE_NAMES:
        await ask_review(turn)
        return
    await turn.state.update_data(version=callback_data.value)
    await turn.state.set_state(Broadcasting.version)
    await ask_version(turn)


@prompt(Broadcasting.version)
async def ask_version(turn: Turn) -> None:
    code = (await turn.state.get_data()).get("version", "")
    await turn.say(
        _("Send the text for readers of {language}. Everyone else gets the main text.").format(
            language=LANGUAGE_NAMES.get(code, "?")
        ),
        _cancel_markup(),
    )


@router.message(Broadcasting.version, is_answer, coordinator)
async def version_received(message: Message, turn: Turn) -> None:
    _audience, texts, photo = await _draft(turn)
    code = (await turn.state.get_data()).get("version", "")
    texts[code] = message.text or ""
    broadcasts.check_content(texts, photo, _heading_room(turn))
    await turn.state.update_data(texts=texts)
    await turn.state.set_state(Broadcasting.review)
    await ask_review(turn)


@router.callback_query(Broadcasting.review, BroadcastCb.filter(F.action == "send"), coordinator)
async def send_now(callback: CallbackQuery, turn: Turn) -> None:
    audience, texts, photo = await _draft(turn)
    broadcast = await broadcasts.create_broadcast(
        turn.session, turn.user, audience, texts, photo, progress_chat_id=turn.chat_id
    )
    await turn.state.clear()
    await turn.mark_answered(callback, _("Sending…"))
    text, markup = progress_view(broadcast, await broadcasts.progress(turn.session, broadcast))
    await turn.say(text, markup, on_sent=partial(_progress_message_sent, broadcast.id))


async def _progress_message_sent(broadcast_id: int, session: AsyncSession, sent: Message) -> None:
    """The dispatcher edits this message with live progress from now on."""
    await broadcasts.set_progress_message(session, broadcast_id, sent.message_id)


@router.callback_query(Broadcasting.review, BroadcastCb.filter(F.action == "schedule"), coordinator)
async def ask_when_pressed(callback: CallbackQuery, turn: Turn) -> None:
    await turn.state.set_state(Broadcasting.when)
    await ask_when(turn)


@prompt(Broadcasting.when)
async def ask_when(turn: Turn) -> None:
    tz = turn.settings.tz
    await turn.say(
        _("When should it go out? Type the date and time in {zone}, for example {example}.").format(
            zone=zone_name(tz, locale()), example=schedule_example(utcnow(), tz)
        ),
        _cancel_markup(),
    )


@router.message(Broadcasting.when, is_answer, coordinator)
async def when_received(
    message: Message, turn: Turn, settings: Settings, scheduler: Scheduler
) -> None:
    audience, texts, photo = await _draft(turn)
    when = broadcasts.parse_schedule_time(message.text or "", settings.tz)
    broadcast = await broadcasts.create_broadcast(
        turn.session,
        turn.user,
        audience,
        texts,
        photo,
        scheduled_at=when,
    )
    await turn.state.clear()
    # The job must find the row when it fires; missed here, the 30 s resync adds it.
    turn.after_commit(partial(scheduler.schedule_broadcast, broadcast.id, when))
    await turn.say(
        _("🕒 Announcement #{id} is scheduled for {when}, {zone}, to {label}.").format(
            id=broadcast.id,
            when=format_schedule(when, locale(), settings.tz),
            zone=zone_name(settings.tz, locale()),
            label=await audience_label(turn, audience),
        ),
        _control_markup(broadcast),
    )


@router.callback_query(BroadcastCb.filter(F.action == "cancel"), coordinator)
async def cancel_draft(
    callback: CallbackQuery, turn: Turn, callback_answer: CallbackAnswer
) -> None:
    current = await turn.state.get_state()
    if current is None or not current.startswith(f"{Broadcasting.__name__}:"):
        callback_answer.text = _("This menu has expired.")
        return
    await turn.mark_answered(callback, _("Cancelled."))
    await turn.state.clear()
    await turn.say(_("The announcement was not sent."))


def _control_markup(broadcast: Broadcast) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("⏹ Cancel announcement #{id}").format(id=broadcast.id),
        callback_data=BroadcastCtl(action="cancel", broadcast_id=broadcast.id),
    )
    return builder.as_markup()


def progress_view(broadcast: Broadcast, done: Progress) -> tuple[str, InlineKeyboardMarkup | None]:
    """The live progress message, and at the end the report; shown in the coordinator's
    language (the dispatcher calls this with that locale active)."""
    counts: dict[str, Any] = {
        "id": broadcast.id,
        "sent": done.sent,
        "total": done.total,
        "blocked": done.blocked,
        "failed": done.failed,
    }
    if broadcast.status == BroadcastStatus.CANCELLED:
        return _(
            "⏹ Announcement #{id} was cancelled: {sent} of {total} sent before it "
            "stopped, {blocked} blocked the bot, {failed} failed."
        ).format(**counts), None
    if broadcast.status == BroadcastStatus.DONE:
        return _(
            "✅ Announcement #{id} is done: {sent} of {total} sent, {blocked} blocked the "
            "bot, {failed} failed."
        ).format(**counts), None
    return _(
        "📣 Sending announcement #{id}: {sent} of {total} sent, {blocked} blocked the "
        "bot, {failed} failed."
    ).format(**counts), _control_markup(broadcast)


@router.message(Command("broadcasts"), coordinator)
@router.message(is_menu(MENU_BROADCASTS), coordinator)
async def list_active(message: Message, turn: Turn, settings: Settings) -> None:
    rows = await broadcasts.active(turn.session)
    if not rows:
        await turn.say(_("No announcement is scheduled or being sent."))
        return
    for broadcast in rows:
        label = await audience_label(turn, Audience.from_json(broadcast.audience))
        if broadcast.status == BroadcastStatus.SCHEDULED and broadcast.scheduled_at:
            text = _("🕒 #{id} to {label}, scheduled for {when}.").format(
                id=broadcast.id,
                label=label,
                when=format_schedule(broadcast.scheduled_at, locale(), settings.tz),
            )
        else:
            done = await broadcasts.progress(turn.session, broadcast)
            text = _("📣 #{id} to {label}: {sent} of {total} sent.").format(
                id=broadcast.id, label=label, sent=done.sent, total=done.total
            )
        await turn.say(text, _control_markup(broadcast))


@router.callback_query(BroadcastCtl.filter(F.action == "cancel"), coordinator)
async def cancel_broadcast(
    callback: CallbackQuery,
    callback_data: BroadcastCtl,
    turn: Turn,
    scheduler: Scheduler,
    callback_answer: CallbackAnswer,
) -> None:
    try:
        broadcast = await broadcasts.cancel_broadcast(
            turn.session, turn.user, callback_data.broadcast_id
        )
    except DomainError as exc:
        callback_answer.text = domain_problem(exc)
        callback_answer.show_alert = True
        return
    turn.after_commit(partial(scheduler.unschedule_broadcast, broadcast.id))
    callback_answer.text = _("Announcement #{id} is cancelled.").format(id=broadcast.id)
    if broadcast.progress_message_id is None:
        await turn.say(
            _("⏹ Announcement #{id} is cancelled; nothing more will be sent.").format(
                id=broadcast.id
            )
        )
