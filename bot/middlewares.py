"""Update-level middlewares: one transaction per update and its replies after it, locale
per user."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

from aiogram import BaseMiddleware, Bot
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.fsm.context import FSMContext
from aiogram.methods import SendMessage
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n, I18nMiddleware
from sqlalchemy import FromClause, Table, bindparam, func, literal_column, outerjoin, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db import current_session
from bot.direct import Direct, adopt, columns_of
from bot.i18n import pick_locale
from bot.models import DialogueState, ProcessedUpdate, User, Village, utcnow
from bot.outbox import enqueued
from bot.replies import Replies, ReplySender, run_hooks
from bot.services.users import settle_user
from bot.storage import SqlAlchemyStorage

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
T = TypeVar("T")
_UPDATES, _USERS = cast(Table, ProcessedUpdate.__table__), cast(Table, User.__table__)
_VILLAGES, _STATES = cast(Table, Village.__table__), cast(Table, DialogueState.__table__)


def user_locale(user: User | None, tg_user: TgUser | None, default: str) -> str:
    if user is not None and user.language:
        return user.language
    return pick_locale(tg_user.language_code if tg_user else None, default)


# Built once (building a statement costs more than SQLite takes to run it), per dialect, and
# run on the connection directly (bot/direct.py): SQLAlchemy's execution of them cost more
# than the rest of an update's database work.
_RECORD_UPDATE = {
    name: insert(_UPDATES)
    .values(update_id=bindparam("update_id"), processed_at=bindparam("processed_at"))
    .on_conflict_do_nothing(index_elements=["update_id"])
    for name, insert in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}
# Where the insert is a statement of its own (SQLite; an update from no one on PostgreSQL).
_RECORD_ALONE = {name: Direct(statement) for name, statement in _RECORD_UPDATE.items()}

# On PostgreSQL the same insert as a data-modifying CTE; `fresh` counts the rows it wrote
# (0 for a redelivery).
_RECORDED = _RECORD_UPDATE["postgresql"].returning(_UPDATES.c.update_id).cte("recorded")
_FRESH = select(func.count().label("fresh")).select_from(_RECORDED).subquery("fresh")
_ONE_ROW = select(literal_column("1").label("one")).subquery("one")
# The user comes with their village (User.village is loaded with them), as the ORM joins it.
_USER_COLUMNS, _VILLAGE_COLUMNS = columns_of(User), columns_of(Village)
_STATE_COLUMNS = columns_of(DialogueState)


@functools.cache
def _reads(record: bool, user: bool, state: bool) -> Direct:
    """What every update reads, in one statement: the user's row (with their village's) and
    the dialogue state's, each outer-joined to one row (None when there is none yet); with
    `record` (PostgreSQL) the update id's insert too. A statement fewer is a round trip (on
    PostgreSQL) and a pass through the driver fewer. SQLite has no data-modifying CTE, so
    there the insert stays a statement of its own. Built once per combination."""
    base = _FRESH if record else _ONE_ROW
    query = select(base.c[0])
    joined: FromClause = base
    if user:
        query = query.add_columns(*_USER_COLUMNS, *_VILLAGE_COLUMNS)
        joined = outerjoin(joined, _USERS, _USERS.c.telegram_id == bindparam("telegram_id"))
        joined = outerjoin(joined, _VILLAGES, _VILLAGES.c.id == _USERS.c.village_id)
    if state:
        query = query.add_columns(*_STATE_COLUMNS)
        joined = outerjoin(joined, _STATES, _STATES.c.key == bindparam("state_key"))
    return Direct(query.select_from(joined))


def _found(session: AsyncSession, cls: type[T], values: Sequence[Any], **related: Any) -> T | None:
    """The session's object of an outer-joined row's share (None: there was no row)."""
    if all(value is None for value in values):
        return None
    return adopt(session, cls, values, **related)


class DbSessionMiddleware(BaseMiddleware):
    """One transaction per update, then its replies: handle, commit, send.

    Opens the update's session, drops redelivered updates, loads the user and the dialogue
    state (`raw_state`) and commits once; the update id is recorded in the same transaction
    as the handler's changes, so a redelivered update is a no-op and a failed one can be
    delivered again. The notice dispatcher is woken after the commit only when the update
    wrote a notice (a claim with nothing to claim is a write transaction on SQLite). Handlers queue
    their replies (`data["replies"]`, through Turn) and set the callback query's answer on the
    injected `callback_answer`; both go out after the commit, with the session closed, so no
    lock is held across a network call and a reply Telegram refuses never undoes the update
    (bot/replies.py), and with the update's database slot given back (`slots`: at most that
    many updates use the database at once; more wait for their replies). Any exception is
    rolled back, its queued replies dropped, and the user gets an apology in their language
    instead: no update ends unhandled.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        i18n: I18n,
        after_commit: Callable[[], None] = lambda: None,
        sender: ReplySender | None = None,
        slots: int | None = None,
    ) -> None:
        self.after_commit = after_commit
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.i18n = i18n
        self.sender = sender or ReplySender(sessionmaker)
        # Updates using the database at once (bot.db.database_slots); the replies after it
        # go out with the slot and the connection given back.
        self._slots: asyncio.Semaphore | contextlib.nullcontext[None] = (
            asyncio.Semaphore(slots) if slots else contextlib.nullcontext()
        )

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        tg_user: TgUser | None = data.get("event_from_user")
        locale = user_locale(None, tg_user, self.settings.default_locale)
        query = event.callback_query
        replies = Replies(callback_query_id=query.id if query is not None else None)
        data["replies"] = replies
        if query is not None:
            data["callback_answer"] = replies.callback_answer
        result: Any = UNHANDLED
        committed = wake = False
        async with self._slots, self.sessionmaker() as session:
            token = current_session.set(session)
            try:
                person = tg_user if tg_user is not None and not tg_user.is_bot else None
                state: FSMContext | None = data.get("state")
                storage = state.storage if state is not None else None
                state_key = None
                if isinstance(storage, SqlAlchemyStorage) and "raw_state" not in data:
                    assert state is not None
                    state_key = storage.row_key(state.key)
                first, found, state_row = await self._first_delivery(
                    session, event.update_id, person, state_key
                )
                if not first:
                    await session.rollback()
                    log.info("update %s already handled; skipped", event.update_id)
                    return UNHANDLED
                if isinstance(storage, SqlAlchemyStorage) and state_key is not None:
                    storage.read_elsewhere(session, state_key, state_row)
                user: User | None = None
                if person is not None:
                    ids = self.settings.coordinator_ids
                    user = await settle_user(session, found, person.id, ids)
                    locale = user_locale(user, tg_user, self.settings.default_locale)
                data.update(session=session, user=user, settings=self.settings)
                if state is not None and "raw_state" not in data:
                    # Read here, in the update's transaction (bot.polling.LockOnlyFSM).
                    data["raw_state"] = await state.get_state()
                result = await handler(event, data)
                await session.commit()
                committed = True
                wake = enqueued(session)
            except Exception:
                log.exception("update %s failed", event.update_id)
                await session.rollback()
                replies.drop()
                chat = data.get("event_chat")
                if chat is not None:
                    replies.add(SendMessage(chat_id=chat.id, text=self._apology(locale)))
                result = UNHANDLED
            finally:
                current_session.reset(token)
        if committed:
            if wake:
                self.after_commit()
            await run_hooks(replies.hooks)
        bot: Bot | None = data.get("bot")
        if bot is not None:
            await self.sender.deliver(bot, replies)
        return result

    @staticmethod
    async def _first_delivery(
        session: AsyncSession, update_id: int, person: TgUser | None, state_key: str | None
    ) -> tuple[bool, User | None, DialogueState | None]:
        """Record the update id in this transaction (False when it was handled already), and
        read `person`'s User and the dialogue state row of `state_key` (None when not asked
        for or not there). The id is a plain INSERT ... ON CONFLICT DO NOTHING, not an ORM
        object and a flush: the unit of work cost more than the statement. A redelivery
        handled right now by another process waits for that one's transaction, as a unique
        key does."""
        dialect = session.get_bind().dialect.name
        params: dict[str, Any] = {"update_id": update_id, "processed_at": utcnow()}
        user, state = person is not None, state_key is not None
        record = dialect == "postgresql" and (user or state)
        if not record:
            if await _RECORD_ALONE[dialect].rowcount(session, params) == 0:
                return False, None, None
            if not (user or state):
                return True, None, None
        if person is not None:
            params["telegram_id"] = person.id
        if state_key is not None:
            params["state_key"] = state_key
        (row,) = await _reads(record, user, state).rows(session, params)
        if record and row[0] == 0:
            return False, None, None
        found, state_row, at = None, None, 1
        if user:
            middle = at + len(_USER_COLUMNS)
            end = middle + len(_VILLAGE_COLUMNS)
            village = _found(session, Village, row[middle:end])
            found = _found(session, User, row[at:middle], village=village)
            at = end
        if state:
            state_row = _found(session, DialogueState, row[at:])
        return True, found, state_row

    def _apology(self, locale: str) -> str:
        return self.i18n.gettext(
            "Sorry, something went wrong on our side. Your earlier answers are kept; "
            "please try again.",
            locale=locale,
        )


class UserI18nMiddleware(I18nMiddleware):
    """The user's saved language, else their Telegram client's, else the programme default."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        return user_locale(data.get("user"), data.get("event_from_user"), self.i18n.default_locale)
