"""Callback queries: answerable once, and only while young. Telegram refuses an answer to a
query older than about 15 seconds, which is normal after a restart or a backlog."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .models import ApiError, BotMessage

if TYPE_CHECKING:
    from .client import UserChat

__all__ = ["QUERY_INVALID", "CallbackQueries"]

JSON = dict[str, Any]

QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


@dataclass(slots=True)
class _Query:
    chat: UserChat
    message: BotMessage | None
    created: float
    answer: JSON | None = None
    expired: bool = False


class CallbackQueries:
    """Queries pressed by users, and the bot's answers to them."""

    def __init__(self, ttl: float | None) -> None:
        self.ttl = ttl
        """Seconds a query stays answerable; None = forever."""
        self._queries: dict[str, _Query] = {}

    def register(self, query_id: str, chat: UserChat, message: BotMessage | None) -> None:
        self._queries[query_id] = _Query(chat, message, created=time.monotonic())

    def expire(self) -> None:
        """Every query pressed so far becomes too old to answer."""
        for query in self._queries.values():
            query.expired = True

    def answer_of(self, query_id: str) -> JSON | None:
        query = self._queries.get(query_id)
        return None if query is None else query.answer

    def answer(self, p: JSON) -> bool:
        """answerCallbackQuery: once per query, and only before it is too old."""
        query = self._queries.get(str(p.get("callback_query_id", "")))
        if query is None or query.answer is not None or query.expired:
            raise ApiError(400, QUERY_INVALID)
        if self.ttl is not None and time.monotonic() - query.created > self.ttl:
            raise ApiError(400, QUERY_INVALID)
        answer = dict(p)
        query.answer = answer
        query.chat.callback_answers.append(answer)
        query.chat.touch("answer", answer)
        return True
