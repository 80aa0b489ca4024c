"""The replies of one update: queued while it is handled, sent after its transaction commits.

What the user did is committed before anything goes to Telegram, so a reply Telegram refuses
(a callback query too old to answer, 429, a message that cannot be edited) never undoes it,
and no database lock (SQLite's write lock above all) is held across a network call. A reply
that fails is retried within a bound (RetryAfter honoured up to a cap, network and server
errors a couple of times) and otherwise logged; it never turns into a rollback or an apology.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.utils.callback_answer import CallbackAnswer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

# Called with a short transaction of its own and what Telegram returned (a Message, say).
OnSent = Callable[[AsyncSession, Any], Awaitable[None]]
Hook = Callable[[], object]


@dataclass
class Reply:
    method: TelegramMethod[Any]
    on_sent: OnSent | None = None


@dataclass
class Replies:
    """Collected by handlers (through `Turn` and the injected `callback_answer`), sent by
    DbSessionMiddleware after the commit, in order; dropped when the update fails."""

    callback_query_id: str | None = None
    queued: list[Reply] = field(default_factory=list)
    hooks: list[Hook] = field(default_factory=list)
    callback_answer: CallbackAnswer = field(default_factory=lambda: CallbackAnswer(answered=False))

    def add(self, method: TelegramMethod[Any], on_sent: OnSent | None = None) -> None:
        self.queued.append(Reply(method, on_sent))

    def after_commit(self, hook: Hook) -> None:
        """Run `hook` once the update's changes are committed (scheduling a job, say)."""
        self.hooks.append(hook)

    def drop(self) -> None:
        """The update failed: none of its replies, hooks or callback answer text."""
        self.queued.clear()
        self.hooks.clear()
        self.callback_answer = CallbackAnswer(answered=False)

    def answer(self) -> AnswerCallbackQuery | None:
        """The callback query's answer (with no text it only stops the button's spinner)."""
        answer = self.callback_answer
        if self.callback_query_id is None or answer.disabled:
            return None
        return AnswerCallbackQuery(
            callback_query_id=self.callback_query_id,
            text=answer.text,
            show_alert=answer.show_alert,
            url=answer.url,
            cache_time=answer.cache_time,
        )


@dataclass
class RetryPolicy:
    max_retry_after: float = 10.0  # longer waits asked by Telegram give the reply up
    max_waits: int = 3  # RetryAfter honoured at most this often per reply
    network_retries: int = 2  # network errors and 5xx, after 0.5 s, then 1 s


class ReplySender:
    """The one place replies reach Telegram."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        policy: RetryPolicy | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.policy = policy or RetryPolicy()

    async def deliver(self, bot: Bot, replies: Replies) -> None:
        """The callback answer beside the messages (it depends on none of them), the messages
        in order. A failed one is logged and the next one tried; after 403 (the user blocked
        the bot) nothing more is tried."""
        method = replies.answer()
        answering = asyncio.create_task(self._deliver(bot, [Reply(method)])) if method else None
        try:
            await self._deliver(bot, replies.queued)
        finally:
            if answering is not None:
                await answering

    async def _deliver(self, bot: Bot, queued: list[Reply]) -> None:
        for reply in queued:
            try:
                result = await self._send(bot, reply.method)
            except TelegramForbiddenError as exc:
                log.info("reply %s not sent, the user blocked the bot: %s", _name(reply), exc)
                return
            except TelegramAPIError as exc:
                log.warning("reply %s not sent: %s", _name(reply), exc)
                continue
            except Exception:  # the update is committed: nothing here may fail it
                log.exception("reply %s not sent", _name(reply))
                continue
            if reply.on_sent is not None:
                try:
                    async with self.sessionmaker() as session, session.begin():
                        await reply.on_sent(session, result)
                except Exception:
                    log.exception("recording reply %s failed", _name(reply))

    async def _send(self, bot: Bot, method: TelegramMethod[Any]) -> Any:
        waits = network_errors = 0
        while True:
            try:
                return await bot(method)
            except TelegramRetryAfter as exc:
                waits += 1
                if waits > self.policy.max_waits or exc.retry_after > self.policy.max_retry_after:
                    raise
                log.info(
                    "reply %s: Telegram asks to wait %s s", method.__api_method__, exc.retry_after
                )
                await asyncio.sleep(exc.retry_after)
            except (TelegramNetworkError, TelegramServerError):
                network_errors += 1
                if network_errors > self.policy.network_retries:
                    raise
                await asyncio.sleep(0.25 * 2**network_errors)


def _name(reply: Reply) -> str:
    method = reply.method
    chat = getattr(method, "chat_id", None)
    return f"{method.__api_method__}" + (f" to chat {chat}" if chat is not None else "")


async def run_hooks(hooks: list[Hook]) -> None:
    """After-commit hooks are best effort too: one failing does not stop the others."""
    for hook in hooks:
        try:
            result = hook()
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            log.exception("after-commit hook %r failed", hook)
