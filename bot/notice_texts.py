"""What each kind of notice says, rendered at send time in the recipient's current language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiogram.utils.i18n import I18n

from bot.models import Broadcast


@dataclass(frozen=True)
class Rendered:
    text: str
    photo_file_id: str | None = None


Renderer = Callable[[dict[str, Any], str, I18n, Broadcast | None], Rendered]
RENDERERS: dict[str, Renderer] = {}


def renders(kind: str) -> Callable[[Renderer], Renderer]:
    def register(fn: Renderer) -> Renderer:
        RENDERERS[kind] = fn
        return fn

    return register


class UnknownNotice(Exception):
    """A notice kind nobody can render (or a broadcast that is gone): recorded as failed."""


def render(
    kind: str, payload: dict[str, Any], locale: str, i18n: I18n, broadcast: Broadcast | None = None
) -> Rendered:
    renderer = RENDERERS.get(kind)
    if renderer is None:
        raise UnknownNotice(kind)
    return renderer(payload, locale, i18n, broadcast)


@renders("announcement")
def _announcement(
    payload: dict[str, Any], locale: str, i18n: I18n, broadcast: Broadcast | None
) -> Rendered:
    if broadcast is None:
        raise UnknownNotice("announcement without its broadcast")
    text = broadcast.texts.get(locale) or broadcast.texts.get("", "")
    return Rendered(text, broadcast.photo_file_id)


@renders("merchant_approved")
def _approved(
    payload: dict[str, Any], locale: str, i18n: I18n, broadcast: Broadcast | None
) -> Rendered:
    return Rendered(
        i18n.gettext(
            "✅ Your merchant account is approved. You can bid on lots as soon as auctions open.",
            locale=locale,
        )
    )


@renders("merchant_rejected")
def _rejected(
    payload: dict[str, Any], locale: str, i18n: I18n, broadcast: Broadcast | None
) -> Rendered:
    return Rendered(
        i18n.gettext(
            "Your merchant registration was not approved. Reason: {reason}\n\n"
            "Send /start to register again with corrected details.",
            locale=locale,
        ).format(reason=payload.get("reason", ""))
    )


@renders("demoted")
def _demoted(
    payload: dict[str, Any], locale: str, i18n: I18n, broadcast: Broadcast | None
) -> Rendered:
    return Rendered(
        i18n.gettext(
            "You are no longer a coordinator of this programme. Send /start to see your menu.",
            locale=locale,
        )
    )


@renders("promoted")
def _promoted(
    payload: dict[str, Any], locale: str, i18n: I18n, broadcast: Broadcast | None
) -> Rendered:
    return Rendered(
        i18n.gettext(
            "You are now a coordinator of this programme. Send /help to see your tools.",
            locale=locale,
        )
    )


@renders("broadcast_report")
def _broadcast_report(
    payload: dict[str, Any], locale: str, i18n: I18n, broadcast: Broadcast | None
) -> Rendered:
    """The final report of a broadcast that had no progress message to edit (a scheduled one,
    or its message was deleted): the same words as that message's last edit."""
    counts = {
        key: payload.get(key, 0) for key in ("broadcast_id", "sent", "total", "blocked", "failed")
    }
    counts["id"] = counts.pop("broadcast_id")
    if payload.get("status") == "cancelled":
        text = i18n.gettext(
            "⏹ Announcement #{id} was cancelled: {sent} of {total} sent before it "
            "stopped, {blocked} blocked the bot, {failed} failed.",
            locale=locale,
        )
    else:
        text = i18n.gettext(
            "✅ Announcement #{id} is done: {sent} of {total} sent, {blocked} blocked the "
            "bot, {failed} failed.",
            locale=locale,
        )
    return Rendered(text.format(**counts))
