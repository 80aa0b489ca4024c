"""Who is being answered in this update: chat, user, state and session in one argument.

Replies are queued, not sent: DbSessionMiddleware sends them in order after the update's
transaction commits (bot/replies.py), so a reply Telegram refuses never undoes what the user
did. A callback query is answered there too; a handler that wants a text or an alert on it
sets them on its `callback_answer: CallbackAnswer` argument.

A dialogue question with inline buttons (`ask`, or any inline keyboard a prompt says) is the
chat's open question: its message id is kept on the user (`question_message_id`, recorded once
sent). The next question, or the end of the dialogue (/cancel, a finished or abandoned one),
removes the old question's buttons, so a stale button cannot be pressed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.fsm.context import FSMContext
from aiogram.methods import (
    EditMessageReplyMarkup,
    EditMessageText,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    TelegramObject,
)
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.models import User
from bot.replies import Hook, OnSent, Replies, Reply

Markup = Any


@dataclass
class Turn:
    """Injected into handlers as `turn`; prompts use it to ask their question again."""

    bot: Bot
    chat_id: int
    state: FSMContext
    user: User
    session: AsyncSession
    replies: Replies
    settings: Settings
    _asking: bool = False
    _edited: set[int] = field(default_factory=set)

    async def say(self, text: str, markup: Markup = None, *, on_sent: OnSent | None = None) -> None:
        """Queue a message to this chat. `on_sent(session, message)` runs after it is sent,
        in a short transaction of its own (to record the message id, say). Inside a prompt
        (`asking`) inline buttons make it the open question, as `ask` does."""
        if self._asking and isinstance(markup, InlineKeyboardMarkup) and on_sent is None:
            await self.ask(text, markup)
            return
        self.send(SendMessage(chat_id=self.chat_id, text=text, reply_markup=markup), on_sent)

    async def ask(self, text: str, markup: InlineKeyboardMarkup) -> None:
        """Ask a question with inline buttons: the open question's buttons go, this one is
        recorded as the open question once it is sent."""
        self.supersede()
        user_id = self.user.id

        async def record(session: AsyncSession, message: Any) -> None:
            if isinstance(message, Message):
                await session.execute(
                    update(User)
                    .where(User.id == user_id)
                    .values(question_message_id=message.message_id)
                )

        self.send(SendMessage(chat_id=self.chat_id, text=text, reply_markup=markup), record)

    def supersede(self) -> None:
        """Remove the open question's buttons (unless this update edited it already)."""
        old = self.user.question_message_id
        if old is None:
            return
        self.user.question_message_id = None
        if old not in self._edited:
            self._edited.add(old)
            self.send(EditMessageReplyMarkup(chat_id=self.chat_id, message_id=old))

    @contextmanager
    def asking(self) -> Iterator[None]:
        """While a prompt asks its question: its inline buttons make the open question."""
        before, self._asking = self._asking, True
        try:
            yield
        finally:
            self._asking = before

    async def finish(self) -> None:
        """At the end of an update: no dialogue running any more means no open question."""
        if self.user.question_message_id is not None and await self.state.get_state() is None:
            self.supersede()

    async def photo(self, photo: str | InputFile, caption: str | None = None) -> None:
        self.send(SendPhoto(chat_id=self.chat_id, photo=photo, caption=caption))

    def photo_after_commit(
        self, make: Callable[[], Awaitable[bytes | None]], filename: str
    ) -> None:
        """A photo whose bytes take time to make (a chart): made once the update is committed,
        so no transaction (nor SQLite's one writer) waits for it, and sent in this place among
        the replies; nothing is sent when `make` returns None or fails."""
        placeholder = Reply(SendPhoto(chat_id=self.chat_id, photo=filename))
        self.replies.queued.append(placeholder)
        queued = self.replies.queued

        async def made() -> None:
            data = None
            try:
                data = await make()
            finally:
                if data is None:
                    queued.remove(placeholder)
                else:
                    placeholder.method = SendPhoto(
                        chat_id=self.chat_id, photo=BufferedInputFile(data, filename=filename)
                    )

        self.after_commit(made)

    async def edit(self, message_id: int, text: str, markup: Markup = None) -> None:
        """Queue an edit of one of the bot's messages in this chat (its buttons go unless
        `markup` is given); an edit Telegram refuses is logged and skipped."""
        self._edited.add(message_id)
        if message_id == self.user.question_message_id:
            self.user.question_message_id = None  # answered: no buttons left to remove
        self.send(
            EditMessageText(
                chat_id=self.chat_id, message_id=message_id, text=text, reply_markup=markup
            )
        )

    async def mark_answered(self, callback: CallbackQuery, text: str) -> None:
        """Replace a question's buttons with the answer given, so old buttons cannot be
        pressed again."""
        if isinstance(callback.message, Message):
            await self.edit(callback.message.message_id, text)

    def send(self, method: TelegramMethod[Any], on_sent: OnSent | None = None) -> None:
        """Queue any Bot API call to go out after the commit, in order with the others."""
        self.replies.add(method, on_sent)

    def after_commit(self, hook: Hook) -> None:
        """Run `hook` (plain or async) once this update's changes are committed."""
        self.replies.after_commit(hook)

    async def render(self, ask: Callable[[Turn], Awaitable[object]]) -> list[Reply]:
        """What `ask` would send, kept apart and never sent: to read a question's buttons.
        The open question stays as it was: nothing was asked."""
        aside = replace(self, replies=Replies(), _edited=set(self._edited))
        open_question = self.user.question_message_id
        try:
            await ask(aside)
        finally:
            self.user.question_message_id = open_question
        return aside.replies.queued

    async def data(self) -> dict[str, Any]:
        return await self.state.get_data()


class TurnMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        chat = data.get("event_chat")
        from_user = data.get("event_from_user")
        user = data.get("user")
        state = data.get("state")
        chat_id = chat.id if chat else from_user.id if from_user else None
        if user is None or state is None or chat_id is None:
            return await handler(event, data)
        turn = Turn(
            data["bot"], chat_id, state, user, data["session"], data["replies"], data["settings"]
        )
        data["turn"] = turn
        result = await handler(event, data)
        await turn.finish()
        return result
