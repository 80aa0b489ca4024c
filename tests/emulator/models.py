"""Plain data objects shared by the emulator server and the test-side API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ApiError",
    "BotMessage",
    "Button",
    "CallRecord",
    "KeyboardButton",
    "Upload",
]


class ApiError(Exception):
    """A Bot API error response ({"ok": false, ...})."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        """JSON body Telegram would return for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass(slots=True)
class Upload:
    """A file uploaded by the bot as a multipart part."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"

    def __repr__(self) -> str:
        return f"Upload({self.filename!r}, {len(self.data)} bytes)"


@dataclass(slots=True)
class CallRecord:
    """One Bot API call made by the bot."""

    method: str
    params: dict[str, Any]
    time: float
    chat_id: int | None
    status: int = 200
    description: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(slots=True)
class Button:
    """An inline keyboard button."""

    text: str
    callback_data: str | None = None
    url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class KeyboardButton:
    """A reply keyboard button."""

    text: str
    request_contact: bool = False
    request_location: bool = False
    raw: dict[str, Any] = field(default_factory=dict)


def parse_inline_keyboard(markup: dict[str, Any] | None) -> list[list[Button]]:
    """Inline keyboard rows of a reply_markup dict (empty list if none)."""
    if not markup or "inline_keyboard" not in markup:
        return []
    return [
        [
            Button(
                text=b.get("text", ""),
                callback_data=b.get("callback_data"),
                url=b.get("url"),
                raw=b,
            )
            for b in row
        ]
        for row in markup["inline_keyboard"]
    ]


def parse_reply_keyboard(markup: dict[str, Any]) -> list[list[KeyboardButton]]:
    """Reply keyboard rows of a ReplyKeyboardMarkup dict."""
    rows: list[list[KeyboardButton]] = []
    for row in markup.get("keyboard", []):
        parsed: list[KeyboardButton] = []
        for b in row:
            if isinstance(b, str):
                b = {"text": b}
            parsed.append(
                KeyboardButton(
                    text=b.get("text", ""),
                    request_contact=bool(b.get("request_contact")),
                    request_location=bool(b.get("request_location")),
                    raw=b,
                )
            )
        rows.append(parsed)
    return rows


@dataclass(slots=True, eq=False)
class BotMessage:
    """A message the bot sent, as the user sees it (edits applied in place)."""

    message_id: int
    chat_id: int
    date: int
    method: str
    raw: dict[str, Any]
    text: str = ""
    """Visible text, or the caption for media messages (HTML already parsed); "" if none."""
    caption: str | None = None
    source: str | None = None
    """Text/caption exactly as the bot sent it (before parse_mode processing)."""
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    media: str | None = None
    """"photo", "document", "sticker", "location", ... or None for text."""
    file_id: str | None = None
    file_bytes: bytes | None = None
    """Bytes the bot uploaded (or of a known file_id it re-sent)."""
    file_name: str | None = None
    inline_keyboard: list[list[Button]] = field(default_factory=list)
    reply_keyboard: list[list[KeyboardButton]] | None = None
    remove_keyboard: bool = False
    force_reply: bool = False
    reply_markup: dict[str, Any] | None = None
    """reply_markup exactly as sent (any keyboard type)."""
    reply_to_message_id: int | None = None
    edits: int = 0
    deleted: bool = False
    history: list[str | None] = field(default_factory=list)
    sent_at: float = 0.0
    edited_at: float | None = None

    @property
    def photo(self) -> str | None:
        """file_id of the largest photo size, if this is a photo message."""
        return self.file_id if self.media == "photo" else None

    @property
    def photo_bytes(self) -> bytes | None:
        return self.file_bytes if self.media == "photo" else None

    @property
    def document(self) -> str | None:
        return self.file_id if self.media == "document" else None

    @property
    def document_bytes(self) -> bytes | None:
        return self.file_bytes if self.media == "document" else None

    @property
    def buttons(self) -> list[str]:
        """Flat list of inline button texts."""
        return [b.text for row in self.inline_keyboard for b in row]

    @property
    def callback_datas(self) -> list[str | None]:
        """Flat list of inline button callback_data values."""
        return [b.callback_data for row in self.inline_keyboard for b in row]

    @property
    def reply_buttons(self) -> list[str]:
        """Flat list of reply keyboard button texts."""
        return [b.text for row in self.reply_keyboard or [] for b in row]

    def button(self, text: str | None = None, *, callback_data: str | None = None) -> Button:
        """The inline button with this exact text / callback_data (AssertionError if absent)."""
        for row in self.inline_keyboard:
            for b in row:
                if (text is None or b.text == text) and (
                    callback_data is None or b.callback_data == callback_data
                ):
                    return b
        raise AssertionError(
            f"no button text={text!r} callback_data={callback_data!r} in message "
            f"#{self.message_id}; buttons: {self.describe_buttons()}"
        )

    def describe_buttons(self) -> str:
        """Buttons as "[text -> data]" for diagnostics."""
        parts = []
        for row in self.inline_keyboard:
            for b in row:
                target = b.callback_data if b.callback_data is not None else b.url
                parts.append(f"[{b.text} -> {target}]")
        return " ".join(parts) or "(none)"

    def summary(self) -> str:
        """One-line human readable rendering."""
        bits = [f"#{self.message_id}"]
        if self.media:
            bits.append(f"<{self.media}>")
        if self.text:
            bits.append(repr(self.text))
        if self.inline_keyboard:
            bits.append("inline: " + self.describe_buttons())
        if self.reply_keyboard is not None:
            bits.append("keyboard: " + " ".join(f"[{t}]" for t in self.reply_buttons))
        if self.remove_keyboard:
            bits.append("(remove keyboard)")
        if self.edits:
            bits.append(f"(edited x{self.edits})")
        if self.deleted:
            bits.append("(deleted)")
        return " ".join(bits)

    def __str__(self) -> str:
        return self.summary()
