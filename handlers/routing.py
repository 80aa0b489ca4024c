"""Routers that can be built more than once.

An aiogram Router attaches to one dispatcher for life, but a process may build several (a bot
restarted in place, tests). `RouterRecipe` records handlers with the usual decorator syntax,
`@router.message(...)`, and `build()` makes a fresh Router from the record each time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import Router

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
            router.observers[event].register(handler, *filters, **kwargs)
        return router
