"""Plain statements run on the session's own database connection, past SQLAlchemy's execution.

SQLAlchemy spends 70-150 µs executing one statement (the compiled-statement cache, an
execution context, events, a result object, and from async code a hand-over through a
greenlet), where SQLite runs an insert or an update by key in under 10 µs. For the statements
every update and every bid makes, that layer was most of their database work. A `Direct`
statement is a Core statement compiled once per dialect and set of parameters; it runs on
the DBAPI connection of the session's transaction (begun first, as SQLAlchemy begins it),
with the same type processing of its parameters and of the rows it returns.

Only plain Core statements: no ORM entities, no expanding IN lists, and every value given
(a column's Python-side default or onupdate is SQLAlchemy's execution context's work, so a
statement that needs one is refused when it is compiled). The session's pending changes are
flushed first, as before any statement (autoflush). Errors are raised and handled as
SQLAlchemy's (a lost connection is invalidated). The engine's before_cursor_execute
listeners are told of each statement, as SQLAlchemy tells them (what watches statements
still sees these), but cannot rewrite it.

Rows read this way become the session's objects with `adopt` (an object's columns in a
select: `columns_of`): what the ORM does when it loads a row, for a row it did not load
(loading an entity cost about as much again as running its statement).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Column, Dialect, inspect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from bot import sqlite_driver
from bot.db import keep, kept

Processor = Callable[[Any], Any] | None
T = TypeVar("T")


@dataclass(frozen=True)
class Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters, in their places
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]  # one a column it returns (none: it returns no rows)
    processed: bool  # some column's values are processed

    @property
    def returns_rows(self) -> bool:
        return bool(self.results)


class Direct:
    """A Core statement to run with `rows` or `rowcount` (module docstring)."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, frozenset[str]], Compiled] = {}

    def compiled(self, dialect: Dialect, keys: frozenset[str]) -> Compiled:
        found = self._compiled.get((dialect.name, keys))
        if found is None:
            found = self._compiled[(dialect.name, keys)] = _compile(self.statement, dialect, keys)
        return found

    async def rows(self, session: AsyncSession, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        rows, _ = await self._run(session, params)
        return rows

    async def rowcount(self, session: AsyncSession, params: Mapping[str, Any]) -> int:
        _, count = await self._run(session, params)
        return count

    async def _run(
        self, session: AsyncSession, params: Mapping[str, Any]
    ) -> tuple[list[tuple[Any, ...]], int]:
        pending = session.sync_session
        if pending.autoflush and (pending.new or pending.dirty or pending.deleted):
            await session.flush()  # as SQLAlchemy flushes before a statement
        connection = await _connection(session)
        dialect = connection.dialect
        compiled = self.compiled(dialect, frozenset(params))
        values = [
            value if bind is None else bind(value)
            for value, bind in zip(
                (params[name] for name in compiled.names), compiled.binds, strict=True
            )
        ]
        sync = connection.sync_connection
        assert sync is not None
        dbapi = sync.connection.dbapi_connection
        if sync.dispatch.before_cursor_execute:  # told, as SQLAlchemy tells them (not rewriting)
            cursor = dbapi.cursor() if dbapi is not None else None
            sync.dispatch.before_cursor_execute(sync, cursor, compiled.sql, values, None, False)
        if isinstance(dbapi, sqlite_driver.InlineConnection) or dialect.driver == "asyncpg":
            try:
                if isinstance(dbapi, sqlite_driver.InlineConnection):
                    rows, count = await dbapi.direct(compiled.sql, values)
                else:
                    rows, count = await _asyncpg(dbapi, compiled.sql, values, compiled.returns_rows)
            except Exception as error:
                # As SQLAlchemy handles a statement's error: wrapped (DBAPIError), and a lost
                # connection invalidated, so the pool does not hand it out again.
                sync._handle_dbapi_exception(error, compiled.sql, values, None, None)
        else:  # another driver: SQLAlchemy's own way
            result = await connection.exec_driver_sql(compiled.sql, tuple(values))
            rows = [tuple(row) for row in result] if compiled.returns_rows else []
            count = int(getattr(result, "rowcount", 0) or 0)
        if compiled.processed:
            rows = [
                tuple(v if p is None else p(v) for v, p in zip(row, compiled.results, strict=True))
                for row in rows
            ]
        return rows, count


# The connection of the session's transaction, kept for it (asking the session again is a pass
# through a greenlet, about a third of a direct statement).
_CONNECTION = "farmgate.direct_connection"


async def _connection(session: AsyncSession) -> AsyncConnection:
    connection: AsyncConnection | None = kept(session, _CONNECTION)
    if connection is None:
        connection = await session.connection()  # begins the session's transaction
        keep(session, _CONNECTION, connection)
    return connection


def _compile(statement: ClauseElement, dialect: Dialect, keys: frozenset[str]) -> Compiled:
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=sorted(keys)))
    expanding = any(bind.expanding for bind in compiled.binds.values())
    if compiled.insert_prefetch or compiled.update_prefetch or expanding:
        raise ValueError(f"not a plain statement (defaults or expanding parameters): {compiled}")
    names = tuple(compiled.positiontup or ())
    if set(names) - keys:
        raise ValueError(f"parameters missing: {sorted(set(names) - keys)}")
    # One processor a parameter (a tuple only for a multi-valued tuple parameter, not used).
    processors = cast(dict[str, Processor], compiled._bind_processors)
    results = tuple(
        column.type._cached_result_processor(dialect, None) for column in compiled._result_columns
    )
    binds = tuple(processors.get(name) for name in names)
    return Compiled(compiled.string, names, binds, results, any(results))


async def _asyncpg(
    adapted: Any, sql: str, values: Sequence[Any], returns_rows: bool
) -> tuple[list[tuple[Any, ...]], int]:
    """On the asyncpg connection of SQLAlchemy's adapter, in its transaction (started as its
    cursor starts it) and under its lock."""
    async with adapted._execute_mutex:
        if adapted._transaction is None:
            await adapted._start_transaction()
        connection = adapted._connection
        try:
            if returns_rows:
                records = await connection.fetch(sql, *values)
                return [tuple(record) for record in records], len(records)
            status: str = await connection.execute(sql, *values)
        except Exception as error:
            adapted._handle_exception(error)  # raises it as the adapter's DBAPI error
            raise  # not reached
        last = status.rsplit(" ", 1)[-1]
        return [], int(last) if last.isdigit() else -1


def columns_of(cls: type[Any]) -> list[Column[Any]]:
    """The table columns of a mapped class, in its attributes' order (`adopt` takes a row's
    values in this order)."""
    return [cast(Column[Any], prop.columns[0]) for prop in inspect(cls).column_attrs]


def adopt(
    session: AsyncSession,
    cls: type[T],
    values: Sequence[Any],
    *,
    refresh: bool = False,
    **related: Any,
) -> T:
    """The session's object of a row read directly (`values` in `columns_of(cls)`'s order),
    as the ORM makes it when it loads one: persistent, in the identity map, every column
    loaded. `related` gives its relationships (the ones it loads eagerly: none is loaded on
    access in async code). When the session has the object already, that one is returned;
    with `refresh`, its columns take the row's values (the ORM's populate_existing)."""
    mapper = inspect(cls)
    loaded = dict(zip((prop.key for prop in mapper.column_attrs), values, strict=True))
    key = mapper.identity_key_from_primary_key(
        [loaded[mapper.get_property_by_column(column).key] for column in mapper.primary_key]
    )
    sync = session.sync_session
    existing = sync.identity_map.get(key)
    if existing is not None:
        if refresh:
            for name, value in loaded.items():
                set_committed_value(existing, name, value)
        return cast(T, existing)
    obj = mapper.class_manager.new_instance()
    instance_state(obj).dict.update(loaded | related)
    make_transient_to_detached(obj)  # loaded as it is: nothing to flush
    sync.add(obj)
    return cast(T, obj)
