"""aiogram dialogue-state storage on SQLAlchemy, so a wizard survives restarts without Redis.

Inside an update it writes through the update's own session (bot.db.current_session), so the
state moves in the same transaction as what the handler changed: a crash leaves both or neither.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, Literal

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    DEFAULT_DESTINY,
    BaseStorage,
    DefaultKeyBuilder,
    KeyBuilder,
    StateType,
    StorageKey,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import current_session
from bot.models import DialogueState


class SqlAlchemyStorage(BaseStorage):
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], key_builder: KeyBuilder | None = None
    ) -> None:
        self._sessionmaker = sessionmaker
        self._keys = key_builder or DefaultKeyBuilder(with_bot_id=True, with_destiny=True)

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        session = current_session.get()
        if session is not None:
            yield session
            await session.flush()
            return
        async with self._sessionmaker() as own, own.begin():
            yield own

    async def _row(self, session: AsyncSession, key: StorageKey) -> DialogueState | None:
        return await session.get(DialogueState, self._keys.build(key))

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        async with self._session() as session:
            row = await self._row(session, key)
            if row is None:
                if value is None:
                    return
                session.add(DialogueState(key=self._keys.build(key), state=value, data={}))
            else:
                row.state = value

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._session() as session:
            row = await self._row(session, key)
            return row.state if row else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        async with self._session() as session:
            row = await self._row(session, key)
            if row is None:
                if not data:
                    return
                session.add(DialogueState(key=self._keys.build(key), state=None, data=dict(data)))
            else:
                row.data = dict(data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._session() as session:
            row = await self._row(session, key)
            return dict(row.data) if row and row.data else {}

    async def close(self) -> None:
        return None


class DestinyKeyBuilder(DefaultKeyBuilder):
    """Redis keys as aiogram's default builder makes them, plus a slot per destiny.

    The default slot keeps the default builder's keys, so dialogues under way in Redis
    survive this code's deployment; another destiny (a farmer's unfinished report,
    handlers/drafts.py) adds its name after the user id.
    """

    def build(self, key: StorageKey, part: Literal["data", "state", "lock"] | None = None) -> str:
        if key.destiny == DEFAULT_DESTINY:
            return super().build(key, part)
        base = super().build(replace(key, destiny=DEFAULT_DESTINY))
        return self.separator.join([base, key.destiny, *([part] if part else [])])
