"""Brief statements run on the driver's own connection, compiled by SQLAlchemy once.

A read of a post or of the caller's token, a page (`Database.read_rows`), and on PostgreSQL a post's
INSERT (`Database.write_statement`): one statement each, on its own. Run through SQLAlchemy's `Connection`
and `Result`, each spent as much of its CPU time in those two layers as in the pool and the driver (a
token's lookup on PostgreSQL 122 µs, against 61 µs on the driver's connection taken from the same pool; in
a running app, in process, a PostgreSQL create 837 to 682 µs and a get 453 to 343, a SQLite get 253 to
160). Here SQLAlchemy still builds the SQL, once per statement, and the columns' types still turn values
into the database's and back (`UTCDateTime`, SQLite's dates as text); the pool is still SQLAlchemy's, with
its ping after a rest; an error still comes out as SQLAlchemy's exception (`IntegrityError`,
`OperationalError`), so the callers and the web layer treat it as before. SQLite's writes keep
SQLAlchemy's connections: they take the writers' turn and begin with `BEGIN IMMEDIATE`."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Engine, Executable
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

# Compiled statements remembered per engine. The statements are built once, at import (domain modules);
# the bound keeps a caller that builds one per call from growing the cache without end.
_REMEMBERED = 256
# A row of a brief read: a named tuple whose fields are its statement's columns, read by attribute.
ReadRow = Any


class Compiled:
    """One statement as the driver runs it: its SQL text, what each parameter's type does to a value on
    the way in, and the rows' names and what each column's type does on the way out."""

    def __init__(self, statement: Executable, engine: Engine) -> None:
        dialect = engine.dialect
        compiled = cast(ClauseElement, statement).compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler):
            raise TypeError(f"not a SQL statement: {statement!r}")
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise TypeError(f"a statement whose SQL is completed at each run (an IN list?): {statement!r}")
        self.compiled = compiled
        self.sql = str(compiled)
        # Each type as this database has it (`dialect_impl`): SQLite's DateTime reads and writes text.
        binds = {name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in compiled.binds.items()}
        self.bind_processors = {name: processor for name, processor in binds.items() if processor is not None}
        columns = list(getattr(statement, "selected_columns", ()))  # none for text(): plain tuples then
        row_type: Any = namedtuple("Row", [column.key for column in columns]) if columns else None
        self.row: Callable[[Iterable[Any]], Any] = row_type._make if columns else tuple
        processors = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns]
        self.result_processors = [(index, p) for index, p in enumerate(processors) if p is not None]

    def parameters(self, given: Mapping[str, Any]) -> Any:
        """The values as the driver takes them: by name (PostgreSQL), or in the SQL's order (SQLite)."""
        values = self.compiled.construct_params(given)
        for name, processor in self.bind_processors.items():
            if name in values:
                values[name] = processor(values[name])
        if self.compiled.positional:
            return tuple(values[name] for name in self.compiled.positiontup or ())
        return values

    def make_row(self, values: tuple[Any, ...]) -> Any:
        if self.result_processors:
            converted = list(values)
            for index, processor in self.result_processors:
                converted[index] = processor(converted[index])
            return self.row(converted)
        return self.row(values)


class Rows:
    """What a statement returned: `first()`, `all()`, or the rows one by one (as SQLAlchemy's result). A
    driver may still fail while it hands the rows over (SQLite runs the statement as they are read): that
    error comes out as SQLAlchemy's too."""

    def __init__(self, compiled: Compiled, cursor: Any, connection: DriverConnection) -> None:
        self._compiled = compiled
        self._cursor = cursor  # the driver's
        self._connection = connection

    def first(self) -> ReadRow | None:
        values = self._fetch(self._cursor.fetchone)
        return None if values is None else self._compiled.make_row(values)

    def all(self) -> list[ReadRow]:
        return [self._compiled.make_row(values) for values in self._fetch(self._cursor.fetchall)]

    def __iter__(self) -> Iterator[ReadRow]:
        return iter(self.all())

    def scalar_one(self) -> Any:
        """The first column of the one row there must be."""
        rows = self.all()
        if len(rows) != 1:
            raise ValueError(f"expected one row, the statement returned {len(rows)}")
        return rows[0][0]

    def _fetch(self, fetch: Callable[[], Any]) -> Any:
        with self._connection.translating(self._compiled.sql):
            return fetch()


class DriverConnection:
    """A connection of `engine`'s pool, in the driver's autocommit (PostgreSQL's reads' engine sets it,
    SQLite's leaves transactions to SQLAlchemy), with the `execute` of SQLAlchemy's `Connection`: each
    statement on its own, seeing the database as it is when the statement runs."""

    def __init__(self, engine: Engine, cache: dict[Executable, Compiled]) -> None:
        self._engine = engine
        self._cache = cache
        self._pooled = engine.raw_connection()  # SQLAlchemy's pool: its checkout ping and events apply

    def close(self) -> None:
        self._pooled.close()  # back to the pool

    def execute(self, statement: Executable, parameters: Mapping[str, Any] | None = None) -> Rows:
        compiled = self._cache.get(statement)
        if compiled is None:
            if len(self._cache) >= _REMEMBERED:
                self._cache.clear()
            compiled = self._cache[statement] = Compiled(statement, self._engine)
        values = compiled.parameters(parameters or {})
        connection: Any = self._pooled.driver_connection
        with self.translating(compiled.sql):
            return Rows(compiled, connection.execute(compiled.sql, values), self)

    @contextmanager
    def translating(self, sql: str) -> Iterator[None]:
        """The driver's errors as SQLAlchemy raises them (IntegrityError, OperationalError, ...)."""
        try:
            yield
        except self._engine.dialect.loaded_dbapi.Error as error:
            raise self._translated(error, sql) from error

    def _translated(self, error: Exception, sql: str) -> DBAPIError:
        """The error as SQLAlchemy raises it, its parameters hidden.
        A connection the server let go is dropped, and the pool with it, as SQLAlchemy does: a server that
        restarted left every connection dead, and each would otherwise fail a request of its own."""
        gone = self._engine.dialect.is_disconnect(cast(Any, error), self._pooled.driver_connection, None)
        if gone:
            self._pooled.invalidate(error)
            self._engine.dispose()  # the idle ones closed; those in use are dropped when they come back
        dialect = self._engine.dialect
        translated = DBAPIError.instance(
            sql, None, error, dialect.loaded_dbapi.Error, hide_parameters=True, connection_invalidated=gone,
            dialect=dialect,
        )  # fmt: skip
        assert isinstance(translated, DBAPIError)
        return translated
