"""Routers that can be built more than once.

An aiogram Router attaches to one dispatcher for life, but a process may build several (a bot
restarted in place, tests). `RouterRecipe` records handlers with the usual decorator syntax,
`@router.message(...)`, and `build()` makes a fresh Router from the record each time.

`build()` also makes every plain filter a coroutine function (`on_the_loop`): aiogram runs a
filter that is not one (a function, a magic filter such as `F.photo`, a dialogue state) in a
worker thread, `asyncio.to_thread`, each time it is checked. A filter is a dictionary lookup
or a comparison; the thread hop cost far more than that, several per update, and the
workers fought the event loop for the interpreter lock.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from aiogram import Router
from magic_filter import MagicFilter

Handler = Callable[..., Any]


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
        return router


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
