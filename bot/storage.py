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
from sqlalchemy import bindparam, event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

from bot.db import current_session
from bot.models import DialogueState

# session.info key: the dialogue rows this session read, None for a key without one.
_ROWS = "dialogue_rows"
# Built once (session.get builds its SELECT anew each time; the rows are kept per session
# above, so its identity-map shortcut is not needed).
_BY_KEY = select(DialogueState).where(DialogueState.key == bindparam("key"))


@event.listens_for(Session, "after_soft_rollback")
def _forget_rows(session: Session, previous_transaction: SessionTransaction) -> None:
    """What was read or added before a rollback is not to be trusted after it."""
    session.info.pop(_ROWS, None)


class SqlAlchemyStorage(BaseStorage):
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], key_builder: KeyBuilder | None = None
    ) -> None:
        self._sessionmaker = sessionmaker
        self._keys = key_builder or DefaultKeyBuilder(with_bot_id=True, with_destiny=True)

    @asynccontextmanager
    async def _session(self, *, writes: bool) -> AsyncIterator[AsyncSession]:
        session = current_session.get()
        if session is not None:
            yield session
            if writes:
                await session.flush()
            return
        async with self._sessionmaker() as own, own.begin():
            yield own

    async def _row(self, session: AsyncSession, key: str) -> DialogueState | None:
        """The row of `key`, read once per session: an update asks for its state several
        times (the state filters, the prompt, the end of the turn), and a key without a row
        (most users, most of the time) is not kept by the identity map, so each ask was a
        SELECT. The update's chat lock keeps others from changing it meanwhile."""
        rows: dict[str, DialogueState | None] = session.info.setdefault(_ROWS, {})
        if key not in rows:
            rows[key] = await session.scalar(_BY_KEY, {"key": key})
        return rows[key]

    def row_key(self, key: StorageKey) -> str:
        """The `dialogue_states.key` of a storage key."""
        return self._keys.build(key)

    def read_elsewhere(self, session: AsyncSession, key: str, row: DialogueState | None) -> None:
        """`row` (None: there is none) was read for `key` in this session's transaction by
        another statement (the update's first, bot.middlewares): no SELECT of its own then."""
        session.info.setdefault(_ROWS, {})[key] = row

    def _add(self, session: AsyncSession, row: DialogueState) -> None:
        session.add(row)
        session.info.setdefault(_ROWS, {})[row.key] = row

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        built = self._keys.build(key)
        async with self._session(writes=True) as session:
            row = await self._row(session, built)
            if row is None:
                if value is None:
                    return
                self._add(session, DialogueState(key=built, state=value, data={}))
            else:
                row.state = value

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._session(writes=False) as session:
            row = await self._row(session, self._keys.build(key))
            return row.state if row else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        built = self._keys.build(key)
        async with self._session(writes=True) as session:
            row = await self._row(session, built)
            if row is None:
                if not data:
                    return
                self._add(session, DialogueState(key=built, state=None, data=dict(data)))
            else:
                row.data = dict(data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._session(writes=False) as session:
            row = await self._row(session, self._keys.build(key))
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
