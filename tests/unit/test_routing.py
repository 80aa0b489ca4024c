"""Filters are awaited on the event loop: aiogram sends a plain one to a worker thread. A
press passes by the routers whose buttons it is not for on their callback data's prefix."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher, F
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.dispatcher.event.handler import FilterObject
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Chat, Message, Update, User

from handlers.routing import ButtonPrefix, RouterRecipe, on_the_loop


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


class ACb(CallbackData, prefix="a"):
    n: int


class BCb(CallbackData, prefix="b"):
    n: int


def _press(data: str) -> Update:
    user = User(id=5, is_bot=False, first_name="M")
    return Update(
        update_id=1,
        callback_query=CallbackQuery(id="q", from_user=user, chat_instance="c", data=data),
    )


async def _route(recipe: RouterRecipe, data: str) -> tuple[Any, list[str]]:
    """What the built router answers to a press of `data`, and for which presses its handlers'
    filters were checked (once per handler)."""
    checked: list[str] = []

    async def seen(query: CallbackQuery) -> bool:
        checked.append(query.data or "")
        return True

    watched = RouterRecipe(recipe.name)
    watched.entries = [
        (e, handler, (seen, *filters), kw) for e, handler, filters, kw in recipe.entries
    ]
    dp = Dispatcher()
    dp.include_router(watched.build())
    result = await dp.feed_update(Bot("42:TEST"), _press(data))
    return result, checked


async def test_a_routers_buttons_are_passed_by_on_their_prefix() -> None:
    """Every button handler names its callback data: a press for another router checks none
    of them; one of its own reaches its handler as before."""
    recipe = RouterRecipe("r")

    @recipe.callback_query(ACb.filter(F.n == 1))
    async def one(query: CallbackQuery, callback_data: ACb) -> str:
        return f"a{callback_data.n}"

    @recipe.callback_query(ButtonPrefix("c", "d"))
    async def c_or_d(query: CallbackQuery) -> str:
        return "c or d"

    assert await _route(recipe, "b:1") == (UNHANDLED, [])
    assert await _route(recipe, "x") == (UNHANDLED, [])
    assert await _route(recipe, "a:1") == ("a1", ["a:1"])
    # The handlers' own filters still decide.
    assert await _route(recipe, "a:2") == (UNHANDLED, ["a:2", "a:2"])
    assert await _route(recipe, "d:anything") == ("c or d", ["d:anything", "d:anything"])


async def test_a_router_with_a_button_handler_for_any_data_checks_every_press() -> None:
    recipe = RouterRecipe("r")

    @recipe.callback_query(ACb.filter())
    async def a(query: CallbackQuery) -> str:
        return "a"

    @recipe.callback_query()
    async def any_other(query: CallbackQuery) -> str:
        return "any other"

    assert await _route(recipe, "b:1") == ("any other", ["b:1", "b:1"])
    assert await _route(recipe, "a:3") == ("a", ["a:3"])
