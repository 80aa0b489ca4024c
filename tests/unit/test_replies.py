"""Sending an update's replies after its commit: order, bounded retries, failures logged."""

from __future__ import annotations

from typing import Any, cast

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.methods import SendMessage, TelegramMethod
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.replies as replies_module
from bot.replies import Replies, ReplySender, RetryPolicy, run_hooks


class FakeBot:
    """Answers each call with the next scripted outcome (an exception class or a result)."""

    def __init__(self, script: dict[str, list[Any]]) -> None:
        self.script = script
        self.calls: list[str] = []

    async def __call__(self, method: TelegramMethod[Any]) -> Any:
        key = method.text if isinstance(method, SendMessage) else method.__api_method__
        self.calls.append(key)
        outcome = self.script.get(key, ["ok"]).pop(0) if self.script.get(key) else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(replies_module.asyncio, "sleep", sleep)
    return waits


def _message(text: str) -> SendMessage:
    return SendMessage(chat_id=1, text=text)


def _sender() -> ReplySender:
    return ReplySender(cast(async_sessionmaker[AsyncSession], None), RetryPolicy())


async def test_in_order_a_failure_skips_only_that_reply(slept: list[float]) -> None:
    fake = FakeBot({"b": [TelegramBadRequest(_message("b"), "message is not modified")]})
    replies = Replies()
    for text in "abc":
        replies.add(_message(text))
    await _sender().deliver(cast(Bot, fake), replies)
    assert fake.calls == ["a", "b", "c"] and slept == []


async def test_retry_after_is_honoured_up_to_the_cap(slept: list[float]) -> None:
    waits = [TelegramRetryAfter(_message("a"), "flood", retry_after=2)]
    too_long = [TelegramRetryAfter(_message("b"), "flood", retry_after=600)]
    fake = FakeBot({"a": waits, "b": too_long})
    replies = Replies()
    replies.add(_message("a"))
    replies.add(_message("b"))
    await _sender().deliver(cast(Bot, fake), replies)
    assert fake.calls == ["a", "a", "b"] and slept == [2]


async def test_network_errors_are_retried_twice(slept: list[float]) -> None:
    down = [TelegramNetworkError(_message("a"), "timeout") for _ in range(5)]
    fake = FakeBot({"a": down})
    replies = Replies()
    replies.add(_message("a"))
    await _sender().deliver(cast(Bot, fake), replies)
    assert fake.calls == ["a", "a", "a"] and slept == [0.5, 1.0]


async def test_a_blocked_user_gets_nothing_more(slept: list[float]) -> None:
    fake = FakeBot({"a": [TelegramForbiddenError(_message("a"), "bot was blocked")]})
    replies = Replies()
    replies.add(_message("a"))
    replies.add(_message("b"))
    await _sender().deliver(cast(Bot, fake), replies)
    assert fake.calls == ["a"]


async def test_the_callback_answer_goes_with_the_set_text_and_a_refusal_is_no_failure(
    slept: list[float],
) -> None:
    fake = FakeBot({"answerCallbackQuery": [TelegramBadRequest(_message("x"), "query is too old")]})
    replies = Replies(callback_query_id="q1")
    replies.callback_answer.text = "Saved"
    replies.add(_message("a"))
    answer = replies.answer()
    assert answer is not None and answer.text == "Saved"
    await _sender().deliver(cast(Bot, fake), replies)
    assert sorted(fake.calls) == ["a", "answerCallbackQuery"]


async def test_a_failed_update_drops_its_replies_hooks_and_answer_text() -> None:
    ran: list[str] = []
    replies = Replies(callback_query_id="q1")
    replies.callback_answer.text = "Saved"
    replies.add(_message("a"))
    replies.after_commit(lambda: ran.append("hook"))
    replies.drop()
    answer = replies.answer()
    assert replies.queued == [] and answer is not None and answer.text is None
    await run_hooks(replies.hooks)
    assert ran == []


async def test_hooks_run_in_order_and_one_failing_does_not_stop_the_rest() -> None:
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("scheduler gone")

    async def later() -> None:
        ran.append("async")

    await run_hooks([lambda: ran.append("first"), broken, later])
    assert ran == ["first", "async"]
