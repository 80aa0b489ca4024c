"""Filters are awaited on the event loop: aiogram sends a plain one to a worker thread."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiogram import F
from aiogram.dispatcher.event.handler import FilterObject
from aiogram.filters import Command
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Chat, Message

from handlers.routing import on_the_loop


class Steps(StatesGroup):
    one = State()


def _message(text: str | None) -> Message:
    return Message(message_id=1, date=datetime.now(UTC), chat=Chat(id=1, type="private"), text=text)


async def _check(check: Any, message: Message, **data: Any) -> Any:
    wrapped = FilterObject(on_the_loop(check))
    assert wrapped.awaitable  # awaited, not run through asyncio.to_thread
    return await wrapped.call(message, **data)


def is_hello(message: Message) -> bool:
    return message.text == "hello"


async def test_plain_magic_and_state_filters_are_awaited_with_the_same_result() -> None:
    assert await _check(is_hello, _message("hello")) is True
    assert await _check(is_hello, _message("bye")) is False
    assert await _check(F.text == "hello", _message("hello")) is True
    assert not await _check(F.photo, _message("hello"))
    # A state receives the data it names (raw_state), as aiogram passes it.
    assert await _check(Steps.one, _message("x"), raw_state="Steps:one", other=1) is True
    assert await _check(Steps.one, _message("x"), raw_state=None) is False


def test_filters_aiogram_awaits_already_are_kept() -> None:
    command = Command("help")
    assert on_the_loop(command) is command

    async def checked(message: Message) -> bool:
        return True

    assert on_the_loop(checked) is checked
