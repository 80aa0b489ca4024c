"""Statements run on the connection directly (bot/direct.py) behave as SQLAlchemy's: the same
values stored and read back, in the session's transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from sqlalchemy import Table, bindparam, insert, make_url, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import make_engine, make_sessionmaker
from bot.direct import Direct
from bot.models import ProcessedUpdate, Role, User
from tests.conftest import _pg_execute

USERS = cast(Table, User.__table__)
UPDATES = cast(Table, ProcessedUpdate.__table__)
# users.updated_at has an onupdate: a direct statement names every value it writes.
RENAME = Direct(
    update(USERS)
    .where(USERS.c.id == bindparam("uid"))
    .values(name=bindparam("n"), updated_at=bindparam("at"))
)
READ = Direct(
    select(USERS.c.role, USERS.c.registered_at, USERS.c.blocked).where(
        USERS.c.id == bindparam("uid")
    )
)
RECORD = Direct(insert(UPDATES).returning(UPDATES.c.update_id, UPDATES.c.processed_at))
AT = datetime(2026, 11, 29, 8, 30, 15, 123456, tzinfo=UTC)


async def _farmer(session: AsyncSession) -> User:
    user = User(telegram_id=777, role=Role.FARMER, registered_at=AT, blocked=True)
    session.add(user)
    await session.commit()
    return user


async def test_rows_and_counts_as_sqlalchemy_reads_and_writes_them(session: AsyncSession) -> None:
    user = await _farmer(session)
    # Values read are processed as the ORM's are: an enum member, an aware UTC time, a bool.
    assert await READ.rows(session, {"uid": user.id}) == [(Role.FARMER, AT, True)]
    assert await RENAME.rowcount(session, {"uid": user.id, "n": "Li Wei", "at": AT}) == 1
    assert await RENAME.rowcount(session, {"uid": user.id + 1000, "n": "nobody", "at": AT}) == 0
    # A time given in another zone is stored as UTC, as the ORM stores it.
    beijing = AT.astimezone(timezone(timedelta(hours=8)))
    rows = await RECORD.rows(session, {"update_id": 42, "processed_at": beijing})
    assert rows == [(42, AT)]
    await session.commit()
    # Stored as the ORM stores it: SQL compares it with a time bound the ORM's way.
    found = select(ProcessedUpdate.update_id).where(ProcessedUpdate.processed_at == AT)
    assert await session.scalar(found) == 42
    await session.refresh(user)
    assert user.name == "Li Wei"


async def test_in_the_sessions_transaction(session: AsyncSession) -> None:
    user = await _farmer(session)
    await RENAME.rowcount(session, {"uid": user.id, "n": "Rolled back", "at": AT})
    await session.rollback()
    await session.refresh(user)
    assert user.name is None
    await RENAME.rowcount(session, {"uid": user.id, "n": "Kept", "at": AT})
    # The ORM's own statements see it before the commit: one transaction.
    assert await session.scalar(select(User.name).where(User.id == user.id)) == "Kept"
    await session.commit()
    assert await session.scalar(select(User.name).where(User.id == user.id)) == "Kept"


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        # users.created_at has a Python-side default, which only SQLAlchemy's execution fills
        (insert(USERS), {"telegram_id": 1}),
        (update(USERS).values(name=bindparam("n")), {"n": "x"}),  # and updated_at an onupdate
        (select(USERS.c.id).where(USERS.c.id.in_(bindparam("ids", expanding=True))), {"ids": [1]}),
    ],
)
async def test_statements_it_cannot_run_as_sqlalchemy_would_are_refused(
    session: AsyncSession, statement: Any, params: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="not a plain statement"):
        await Direct(statement).rows(session, params)


async def test_the_sessions_pending_changes_are_flushed_first(session: AsyncSession) -> None:
    """As before any statement of the session's (autoflush): a direct one sees them."""
    by_telegram_id = Direct(select(USERS.c.name).where(USERS.c.telegram_id == bindparam("t")))
    session.add(User(telegram_id=888, name="Pending"))
    assert await by_telegram_id.rows(session, {"t": 888}) == [("Pending",)]
    user = await session.scalar(select(User).where(User.telegram_id == 888))
    assert user is not None
    user.name = "Changed"
    assert await by_telegram_id.rows(session, {"t": 888}) == [("Changed",)]


async def test_a_lost_connection_is_not_handed_out_again(pg_migrated: str) -> None:
    """PostgreSQL restarted (its sessions ended from outside): the statement that meets the
    dead connection fails as SQLAlchemy's would, and the next one gets a new connection."""
    nobody = Direct(select(USERS.c.id).where(USERS.c.telegram_id == bindparam("t")))
    engine = make_engine(pg_migrated, pool_size=2)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session:
            assert await nobody.rows(session, {"t": -1}) == []
        database = make_url(pg_migrated).database
        await _pg_execute(
            pg_migrated,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{database}' AND pid <> pg_backend_pid()",
        )
        outcomes: list[object] = []
        for _ in range(3):
            async with sessions() as session:
                try:
                    outcomes.append(await nobody.rows(session, {"t": -1}))
                except DBAPIError as error:
                    assert error.connection_invalidated
                    outcomes.append("lost")
        assert outcomes == ["lost", [], []]
    finally:
        await engine.dispose()
