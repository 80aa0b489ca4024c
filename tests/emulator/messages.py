"""Messages the bot sends, edits and deletes, validated as Telegram does: text length, empty
text, keyboards, "message is not modified". Text is plain: farmgate sends no parse_mode, so
the emulator refuses one instead of pretending to render it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .entities import utf16_len
from .models import ApiError, BotMessage, parse_inline_keyboard

if TYPE_CHECKING:
    from .client import UserChat
    from .server import BotApiEmulator

__all__ = ["NOT_MODIFIED", "Messages"]

JSON = dict[str, Any]

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
MAX_TEXT = 4096
MAX_CAPTION = 1024


def plain_text(src: Any, parse_mode: Any, limit: int, what: str) -> str:
    """The text Telegram stores: trimmed; a parse mode is refused (farmgate sends none)."""
    if parse_mode:
        raise ApiError(400, f"Bad Request: parse_mode {parse_mode!r} is not emulated")
    text = "" if src is None else str(src).strip()
    if utf16_len(text) > limit:
        raise ApiError(400, f"Bad Request: {what} is too long")
    return text


def validate_markup(markup: Any) -> JSON | None:
    """reply_markup as Telegram checks it: rows of buttons with text and short callback data."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return markup
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise ApiError(
            400,
            'Bad Request: can\'t parse inline keyboard button: field "inline_keyboard" of '
            "the InlineKeyboardMarkup must be an Array of Arrays",
        )
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise ApiError(
                    400, "Bad Request: can't parse inline keyboard button: Text must be non-empty"
                )
            if not button.keys() - {"text", "icon_custom_emoji_id", "style"}:
                raise ApiError(
                    400,
                    "Bad Request: can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard",
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _inline(markup: JSON | None) -> JSON | None:
    return markup if markup and "inline_keyboard" in markup else None


class Messages:
    """sendMessage, sendPhoto, sendMediaGroup, sendDocument, editMessageText,
    editMessageReplyMarkup and deleteMessage against the emulator's chats."""

    def __init__(self, emu: BotApiEmulator) -> None:
        self.emu = emu

    def send_message(self, p: JSON) -> JSON:
        chat = self.emu.chat_of(p)
        text = plain_text(p.get("text"), p.get("parse_mode"), MAX_TEXT, "message")
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        return self._deliver(chat, "sendMessage", p, {"text": text}).raw

    def send_photo(self, p: JSON) -> JSON:
        chat = self.emu.chat_of(p)
        caption = plain_text(p.get("caption"), p.get("parse_mode"), MAX_CAPTION, "message caption")
        sizes = self.emu.files.photo(p.get("photo"))
        content: JSON = {"photo": sizes}
        if caption:
            content["caption"] = caption
        file_id = sizes[-1]["file_id"]
        return self._deliver(chat, "sendPhoto", p, content, media="photo", file_id=file_id).raw

    def send_media_group(self, p: JSON) -> list[JSON]:
        """An album: 2 to 10 photos, each a message of its own sharing a media_group_id."""
        chat = self.emu.chat_of(p)
        media = p.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media in the group: 2 to 10")
        group = f"{chat.id}{time.monotonic_ns()}"
        sent = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") != "photo":
                raise ApiError(400, "Bad Request: only photo albums are emulated")
            caption = plain_text(
                item.get("caption"), item.get("parse_mode"), MAX_CAPTION, "message caption"
            )
            sizes = self.emu.files.photo(item.get("media"))
            content: JSON = {"photo": sizes, "media_group_id": group}
            if caption:
                content["caption"] = caption
            file_id = sizes[-1]["file_id"]
            sent.append(
                self._deliver(
                    chat, "sendMediaGroup", {}, content, media="photo", file_id=file_id
                ).raw
            )
        return sent

    def send_document(self, p: JSON) -> JSON:
        chat = self.emu.chat_of(p)
        caption = plain_text(p.get("caption"), p.get("parse_mode"), MAX_CAPTION, "message caption")
        stored = self.emu.files.document(p.get("document"))
        document: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.data:
            document["file_size"] = len(stored.data)
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        content: JSON = {"document": document}
        if caption:
            content["caption"] = caption
        msg = self._deliver(
            chat,
            "sendDocument",
            p,
            content,
            media="document",
            file_id=stored.file_id,
            file_name=stored.file_name,
        )
        return msg.raw

    def edit_message_text(self, p: JSON) -> JSON:
        chat, msg = self._bot_message(p)
        if msg.media is not None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = plain_text(p.get("text"), p.get("parse_mode"), MAX_TEXT, "message")
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        markup = validate_markup(p.get("reply_markup"))
        if text == msg.raw.get("text") and _inline(markup) == msg.raw.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        msg.history.append(msg.text)
        msg.text = msg.source = msg.raw["text"] = text
        self._set_markup(msg, markup)
        return self._edited(chat, msg)

    def edit_message_reply_markup(self, p: JSON) -> JSON:
        chat, msg = self._bot_message(p)
        markup = validate_markup(p.get("reply_markup"))
        if _inline(markup) == msg.raw.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        msg.history.append(msg.text)
        self._set_markup(msg, markup)
        return self._edited(chat, msg)

    def delete_message(self, p: JSON) -> bool:
        chat = self.emu.chat_of(p)
        mid = p.get("message_id")
        if not isinstance(mid, int) or not chat.delete_message(mid):
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    # ------------------------------------------------------------------ helpers

    def _deliver(
        self,
        chat: UserChat,
        method: str,
        p: JSON,
        content: JSON,
        *,
        media: str | None = None,
        file_id: str | None = None,
        file_name: str | None = None,
    ) -> BotMessage:
        """Record a new bot message in ``chat`` (after validation) and return it."""
        markup = validate_markup(p.get("reply_markup"))
        reply_id, reply_raw = self._reply_target(chat, p)
        mid = chat.next_message_id()
        mono = time.monotonic()
        raw: JSON = {
            "message_id": mid,
            "from": self.emu.bot_user(),
            "chat": chat.chat_dict,
            "date": int(time.time()),
        }
        if reply_raw is not None:
            raw["reply_to_message"] = reply_raw
        raw.update(content)
        caption = content.get("caption")
        stored = self.emu.files.files.get(file_id) if file_id else None
        msg = BotMessage(
            message_id=mid,
            chat_id=chat.id,
            date=raw["date"],
            method=method,
            raw=raw,
            text=content.get("text", caption) or "",
            caption=caption,
            source=content.get("text", caption),
            media=media,
            file_id=file_id,
            file_bytes=stored.data if stored else None,
            file_name=file_name,
            reply_markup=markup,
            reply_to_message_id=reply_id,
            sent_at=mono,
        )
        if markup is not None:
            if "inline_keyboard" in markup:
                raw["reply_markup"] = markup
                msg.inline_keyboard = parse_inline_keyboard(markup)
            elif "keyboard" in markup:
                chat.set_keyboard(markup)
                msg.reply_keyboard = chat.keyboard
            elif markup.get("remove_keyboard"):
                msg.remove_keyboard = True
                chat.set_keyboard(None)
            elif markup.get("force_reply"):
                msg.force_reply = True
        chat.add_bot_message(msg)
        self.emu.record_sent(chat.id, mono)
        return msg

    @staticmethod
    def _reply_target(chat: UserChat, p: JSON) -> tuple[int | None, JSON | None]:
        params = p.get("reply_parameters")
        mid: Any = None
        allow = False
        if isinstance(params, dict):
            mid = params.get("message_id")
            allow = bool(params.get("allow_sending_without_reply"))
        elif p.get("reply_to_message_id") is not None:
            mid = p.get("reply_to_message_id")
            allow = bool(p.get("allow_sending_without_reply"))
        if mid is None:
            return None, None
        source = chat.raw_message(int(mid))
        if source is None:
            if allow:
                return None, None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return int(mid), {k: v for k, v in source.items() if k != "reply_to_message"}

    def _bot_message(self, p: JSON) -> tuple[UserChat, BotMessage]:
        if p.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self.emu.chat_of(p)
        mid = p.get("message_id")
        msg = chat.bot_message(mid) if isinstance(mid, int) else None
        if msg is None or msg.deleted:
            if isinstance(mid, int) and chat.raw_message(mid) is not None:
                raise ApiError(400, "Bad Request: message can't be edited")
            raise ApiError(400, "Bad Request: message to edit not found")
        return chat, msg

    @staticmethod
    def _set_markup(msg: BotMessage, markup: JSON | None) -> None:
        if _inline(markup) is not None:
            assert markup is not None
            msg.raw["reply_markup"] = markup
            msg.inline_keyboard = parse_inline_keyboard(markup)
        else:
            msg.raw.pop("reply_markup", None)
            msg.inline_keyboard = []
        msg.reply_markup = markup

    @staticmethod
    def _edited(chat: UserChat, msg: BotMessage) -> JSON:
        msg.edits += 1
        msg.edited_at = time.monotonic()
        msg.raw["edit_date"] = int(time.time())
        chat.touch("edit", msg)
        return msg.raw
