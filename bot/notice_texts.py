"""What each kind of notice says, rendered at send time in the recipient's current language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.i18n import I18n

from bot.i18n import N_
from bot.limits import TELEGRAM_CAPTION, TELEGRAM_TEXT, utf16_len
from bot.models import Broadcast

DEFAULT_PROGRAMME = "farmgate"
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Rendered:
    text: str
    photo_file_id: str | None = None
    # buttons under the message (bid again, accept), or a new menu under the input field
    markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None


@dataclass(frozen=True)
class Context:
    """What every notice may say beside its own payload."""

    locale: str
    i18n: I18n
    programme: str = DEFAULT_PROGRAMME
    broadcast: Broadcast | None = None
    tz: ZoneInfo = DEFAULT_TZ  # the programme's zone, for every time shown

    def gettext(self, msgid: str) -> str:
        return self.i18n.gettext(msgid, locale=self.locale)


Renderer = Callable[[dict[str, Any], Context], Rendered]
RENDERERS: dict[str, Renderer] = {}
HEADING_SEPARATOR = "\n\n"


def announcement_heading(programme: str, locale: str, i18n: I18n) -> str:
    """Who is speaking, above every announcement, in the recipient's language."""
    return i18n.gettext("📣 Announcement from {programme}", locale=locale).format(
        programme=programme
    )


def heading_room(programme: str, i18n: I18n, locales: tuple[str, ...]) -> int:
    """How much of a message the heading takes in the longest of these languages: an
    announcement's text must leave that much room."""
    return max(
        utf16_len(announcement_heading(programme, code, i18n) + HEADING_SEPARATOR)
        for code in locales
    )


def with_heading(heading: str, text: str, photo: bool) -> str:
    """The heading above the text; a text too long to carry it (the programme was renamed
    to a longer name since it was written) goes without, never cut."""
    limit = TELEGRAM_CAPTION if photo else TELEGRAM_TEXT
    headed = heading + HEADING_SEPARATOR + text if text else heading
    return headed if utf16_len(headed) <= limit else text


def renders(kind: str) -> Callable[[Renderer], Renderer]:
    def register(fn: Renderer) -> Renderer:
        RENDERERS[kind] = fn
        return fn

    return register


class UnknownNotice(Exception):
    """A notice kind nobody can render (or a broadcast that is gone): recorded as failed."""


def render(
    kind: str,
    payload: dict[str, Any],
    locale: str,
    i18n: I18n,
    broadcast: Broadcast | None = None,
    programme: str = DEFAULT_PROGRAMME,
    tz: ZoneInfo | None = None,
) -> Rendered:
    renderer = RENDERERS.get(kind)
    if renderer is None:
        raise UnknownNotice(kind)
    return renderer(payload, Context(locale, i18n, programme, broadcast, tz or DEFAULT_TZ))


@renders("announcement")
def _announcement(payload: dict[str, Any], ctx: Context) -> Rendered:
    broadcast = ctx.broadcast
    if broadcast is None:
        raise UnknownNotice("announcement without its broadcast")
    text = broadcast.texts.get(ctx.locale) or broadcast.texts.get("", "")
    heading = announcement_heading(ctx.programme, ctx.locale, ctx.i18n)
    photo = broadcast.photo_file_id
    return Rendered(with_heading(heading, text, photo is not None), photo)


# The approved merchant's menu (handlers.keyboards.main_menu draws the same one, two a row).
MARKET_MENU = (N_("🔨 Lots"), N_("💰 My bids"), N_("📖 Rules"), N_("📈 Prices"), N_("❓ Help"))


@renders("merchant_approved")
def _approved(payload: dict[str, Any], ctx: Context) -> Rendered:
    """With the market's menu: the one the merchant had while waiting held only Help."""
    labels = [KeyboardButton(text=ctx.gettext(label)) for label in MARKET_MENU]
    menu = ReplyKeyboardMarkup(
        keyboard=[labels[:2], labels[2:4], labels[4:]], resize_keyboard=True, is_persistent=True
    )
    return Rendered(
        ctx.gettext(
            "✅ Your merchant account is approved, and you can bid now: /lots shows the lots "
            "open for bids, /rules how bidding works. We will message you when a new lot opens."
        ),
        markup=menu,
    )


@renders("merchant_rejected")
def _rejected(payload: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        ctx.gettext(
            "Your merchant registration was not approved. Reason: {reason}\n\n"
            "Send /start to register again with corrected details."
        ).format(reason=payload.get("reason", ""))
    )


@renders("demoted")
def _demoted(payload: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        ctx.gettext(
            "You are no longer a coordinator of this programme. Send /start to see your menu."
        )
    )


@renders("promoted")
def _promoted(payload: dict[str, Any], ctx: Context) -> Rendered:
    return Rendered(
        ctx.gettext("You are now a coordinator of this programme. Send /help to see your tools.")
    )


@renders("broadcast_report")
def _broadcast_report(payload: dict[str, Any], ctx: Context) -> Rendered:
    """The final report of a broadcast that had no progress message to edit (a scheduled one,
    or its message was deleted): the same words as that message's last edit."""
    counts = {
        key: payload.get(key, 0) for key in ("broadcast_id", "sent", "total", "blocked", "failed")
    }
    counts["id"] = counts.pop("broadcast_id")
    if payload.get("status") == "cancelled":
        text = ctx.gettext(
            "⏹ Announcement #{id} was cancelled: {sent} of {total} sent before it "
            "stopped, {blocked} blocked the bot, {failed} failed."
        )
    else:
        text = ctx.gettext(
            "✅ Announcement #{id} is done: {sent} of {total} sent, {blocked} blocked the "
            "bot, {failed} failed."
        )
    return Rendered(text.format(**counts))
