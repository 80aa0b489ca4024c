"""Routers that can be built more than once.

An aiogram Router attaches to one dispatcher for life, but a process may build several (a bot
restarted in place, tests). `RouterRecipe` records handlers with the usual decorator syntax,
`@router.message(...)`, and `build()` makes a fresh Router from the record each time.

`build()` also makes every plain filter a coroutine function (`on_the_loop`): aiogram runs a
filter that is not one (a function, a magic filter such as `F.photo`, a dialogue state) in a
worker thread, `asyncio.to_thread`, each time it is checked. A filter is a dictionary lookup
or a comparison; the thread hop cost far more than that, several per update, and the
workers fought the event loop for the interpreter lock.

And when every button handler of a router names the callback data it takes (a
`CallbackData.filter()` or `ButtonPrefix`), `build()` gives the router's callback queries one
filter of its own on those prefixes (`router.callback_query.filter`): a press for another
router passes it by with one set lookup instead of checking each handler's filters, every
one of which unpacks the data or reads the dialogue state. A press checked some twenty
handlers on its way to the bidding router.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from aiogram import Router
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.types import CallbackQuery
from magic_filter import MagicFilter

Handler = Callable[..., Any]
SEPARATOR = ":"  # aiogram's CallbackData default


class _Observer:
    def __init__(self, recipe: RouterRecipe, event: str) -> None:
        self._recipe = recipe
        self._event = event

    def __call__(self, *filters: Any, **kwargs: Any) -> Callable[[Handler], Handler]:
        def record(handler: Handler) -> Handler:
            self._recipe.entries.append((self._event, handler, filters, kwargs))
            return handler

        return record


class RouterRecipe:
    def __init__(self, name: str) -> None:
        self.name = name
        self.entries: list[tuple[str, Handler, tuple[Any, ...], dict[str, Any]]] = []
        self.message = _Observer(self, "message")
        self.callback_query = _Observer(self, "callback_query")
        self.my_chat_member = _Observer(self, "my_chat_member")

    def build(self) -> Router:
        router = Router(name=self.name)
        for event, handler, filters, kwargs in self.entries:
            checks = [on_the_loop(check) for check in filters]
            router.observers[event].register(handler, *checks, **kwargs)
        buttons = [filters for event, _, filters, _ in self.entries if event == "callback_query"]
        taken = [prefixes_of(filters) for filters in buttons]
        if buttons and all(taken):
            router.callback_query.filter(ButtonPrefix(*frozenset().union(*taken)))
        return router


def prefix_of(data: str | None) -> str | None:
    """The prefix of a button's callback data (aiogram's CallbackData packs "prefix:...")."""
    return data.partition(SEPARATOR)[0] if data else None


class ButtonPrefix(Filter):
    """A button whose callback data has one of these prefixes."""

    def __init__(self, *prefixes: str) -> None:
        self.prefixes = frozenset(prefixes)

    async def __call__(self, query: CallbackQuery) -> bool:
        return prefix_of(query.data) in self.prefixes


def prefixes_of(filters: tuple[Any, ...]) -> frozenset[str]:
    """The callback data prefixes a handler's filters require (empty: any data may pass)."""
    for check in filters:
        if isinstance(check, CallbackQueryFilter):
            data = check.callback_data
            return frozenset({data.__prefix__} if data.__separator__ == SEPARATOR else ())
        if isinstance(check, ButtonPrefix):
            return check.prefixes
    return frozenset()


def on_the_loop(check: Any) -> Any:
    """The filter as a coroutine function with the same parameters (aiogram passes it the
    data its signature names), so aiogram awaits it instead of running it in a thread;
    filters that are awaitable already (aiogram's Filter classes) are returned as they are."""
    callback = check.resolve if isinstance(check, MagicFilter) else check
    if not callable(callback):
        return check
    target = inspect.unwrap(callback)
    if inspect.isawaitable(target) or inspect.iscoroutinefunction(target):
        return check

    async def checked(*args: Any, **kwargs: Any) -> Any:
        return callback(*args, **kwargs)

    checked.__signature__ = inspect.signature(callback)  # type: ignore[attr-defined]
    return checked
