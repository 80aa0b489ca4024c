"""What real Telegram does to a bot that the bot must survive: users who block it, injected
failures (429, 5xx, dropped connections, lost acknowledgements) and 429 beyond its rate
limits."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from .models import ApiError

__all__ = ["CHAT_METHODS", "SEND_METHODS", "Faults"]

SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument"})
"""Methods that deliver a message: counted by the limits, failed by fail_next by default."""
CHAT_METHODS = SEND_METHODS | {"editmessagetext", "editmessagereplymarkup", "deletemessage"}
"""Methods that answer 403 once the user blocked the bot."""

_DESCRIPTIONS = {
    0: "connection dropped",
    400: "Bad Request: injected failure",
    403: "Forbidden: bot was blocked by the user",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass(slots=True)
class FailRule:
    chat_id: int | None
    status: int
    description: str
    retry_after: int | None
    remaining: int
    methods: frozenset[str] | None
    deliver: bool

    def error(self) -> ApiError:
        return ApiError(self.status, self.description, self.retry_after)

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.chat_id is not None and self.chat_id != chat_id:
            return False
        return method in (SEND_METHODS if self.methods is None else self.methods)


class RateLimits:
    """Sliding-window limits like Telegram's: per chat and over all chats."""

    def __init__(self, per_chat: float | None, global_: float | None, window: float) -> None:
        self.window = window
        self.per_chat = max(1, int(per_chat * window)) if per_chat else None
        self.global_ = max(1, int(global_ * window)) if global_ else None
        self.chat_times: dict[int, deque[float]] = {}
        self.global_times: deque[float] = deque()

    def _retry(self, times: deque[float], limit: int, now: float) -> int | None:
        edge = now - self.window
        while times and times[0] <= edge:
            times.popleft()
        if len(times) >= limit:
            return max(1, math.ceil(times[0] + self.window - now))
        return None

    def check(self, chat_id: int | None, now: float) -> int | None:
        """Seconds to wait (Telegram's retry_after) if one more message would exceed a limit."""
        if self.global_ is not None:
            retry = self._retry(self.global_times, self.global_, now)
            if retry is not None:
                return retry
        if self.per_chat is not None and chat_id is not None:
            times = self.chat_times.get(chat_id)
            if times is not None:
                return self._retry(times, self.per_chat, now)
        return None

    def record(self, chat_id: int, now: float) -> None:
        self.global_times.append(now)
        self.chat_times.setdefault(chat_id, deque()).append(now)


class Faults:
    """Blocked users, pending fail_next rules and the rate limits, checked before each call."""

    def __init__(self) -> None:
        self.blocked: set[int] = set()
        self.rules: list[FailRule] = []
        self.limits: RateLimits | None = None

    def fail_next(
        self,
        chat_id: int | None,
        *,
        status: int,
        retry_after: int | None,
        description: str | None,
        times: int,
        methods: Iterable[str] | None,
        deliver: bool,
    ) -> None:
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if status == 429
                else _DESCRIPTIONS.get(status, f"Error {status}")
            )
        self.rules.append(
            FailRule(
                chat_id=chat_id,
                status=status,
                description=description,
                retry_after=retry_after,
                remaining=times,
                methods=frozenset(m.lower() for m in methods) if methods else None,
                deliver=deliver,
            )
        )

    def check(self, method: str, chat_id: int | None, now: float) -> FailRule | None:
        """Raise the error this call gets, if any; a rule returned fails after delivering."""
        if chat_id is not None and chat_id in self.blocked and method in CHAT_METHODS:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        for rule in self.rules:
            if not rule.matches(method, chat_id):
                continue
            rule.remaining -= 1
            if rule.remaining <= 0:
                self.rules.remove(rule)
            if rule.deliver:
                return rule
            raise rule.error()
        if self.limits is not None and method in SEND_METHODS:
            retry = self.limits.check(chat_id, now)
            if retry is not None:
                raise ApiError(429, f"Too Many Requests: retry after {retry}", retry)
        return None

    def sent(self, chat_id: int, now: float) -> None:
        """A message was delivered: it counts against the limits."""
        if self.limits is not None:
            self.limits.record(chat_id, now)
