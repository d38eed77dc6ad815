"""Many-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` as plain driver SQL.

Ingest writes every event through here. SQLAlchemy's ``insertmanyvalues`` runs the same
SQL, but its per-row parameter processing took half the write lock's time on SQLite, and
psycopg re-parsed the 1,700-placeholder statement that it rendered for each batch (too long
for psycopg's query cache: a quarter of the server's CPU on PostgreSQL). Here the rows are
bound before the write lock is taken (with the columns' own SQLAlchemy bind processors, so
values are stored exactly as through Core), and each database gets the form it runs fastest:

* SQLite: one ``VALUES (...), (...)`` statement per page of rows.
* PostgreSQL: one statement over ``unnest`` of one array per column, sent in binary: one
  parameter per column whatever the batch size, so psycopg caches and prepares it. Columns
  NULL in every row are left out (a batch of tool calls has no model, tokens or cost): a
  few statement shapes, each prepared once.

Rows are inserted in the order given (callers sort them to take row locks in one order).
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = ["BulkInsert", "bind_rows", "bind_values", "insert_bound", "prepare_insert"]

Row = tuple[Any, ...]


@dataclass(frozen=True)
class BulkInsert:
    """Driver-level statements inserting a set of rows; run them with :meth:`execute`."""

    statements: tuple[tuple[str, Row], ...]

    def execute(self, conn: sa.Connection) -> list[Any]:
        """Run the statements in ``conn``'s transaction; returns the RETURNING column's values."""
        returned: list[Any] = []
        for sql, params in self.statements:
            returned.extend(conn.exec_driver_sql(sql, params).scalars())
        return returned

    def rows(self, conn: sa.Connection) -> list[tuple[Any, ...]]:
        """Run the statements; returns the rows of the RETURNING columns."""
        returned: list[tuple[Any, ...]] = []
        for sql, params in self.statements:
            returned.extend(tuple(row) for row in conn.exec_driver_sql(sql, params))
        return returned

    def run(self, conn: sa.Connection) -> None:
        """Run statements made without ``returning``."""
        for sql, params in self.statements:
            conn.exec_driver_sql(sql, params)


def prepare_insert(
    dialect: Dialect,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    conflict: tuple[str, ...],
    returning: str,
) -> BulkInsert:
    """An insert of ``rows`` (mappings with every column of ``table``) skipping rows that
    conflict on ``conflict``, returning ``returning`` (one column, or several separated by
    commas: read those with :meth:`BulkInsert.rows`) of the rows inserted.

    Does not touch the database: call it before taking a lock.
    """
    return insert_bound(dialect, table, bind_rows(dialect, table, rows), conflict, returning)


def bind_rows(dialect: Dialect, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
    """``rows`` as the driver takes them: tuples in ``table``'s column order, each value
    through its column's bind processor. For :func:`insert_bound`; no database needed."""
    get = operator.itemgetter(*table.c.keys())
    return bind_values(dialect, table, [get(row) for row in rows])


def bind_values(dialect: Dialect, table: sa.Table, rows: Sequence[Sequence[Any]]) -> list[Row]:
    """:func:`bind_rows` of rows given as values in ``table``'s column order."""
    binders = _binders(dialect, table)
    bound = []
    # The same value object as the row before (a batch's received_at) binds to the same.
    last: dict[int, tuple[Any, Any]] = {i: (_UNSET, None) for i, _ in binders}
    for row in rows:
        values = list(row)
        for i, bind in binders:
            value = values[i]
            given, result = last[i]
            if value is not given:
                result = bind(value)
                last[i] = (value, result)
            values[i] = result
        bound.append(tuple(values))
    return bound


def insert_bound(
    dialect: Dialect,
    table: sa.Table,
    bound: Sequence[Row],
    conflict: tuple[str, ...],
    returning: str | None,
) -> BulkInsert:
    """:func:`prepare_insert` of rows already bound by :func:`bind_rows`; ``returning``
    None: nothing returned (run it with :meth:`BulkInsert.run`)."""
    if not bound:
        return BulkInsert(())
    columns = tuple(table.c.keys())
    if dialect.name == "postgresql":
        arrays = list(zip(*bound, strict=True))
        nullable = _nullable(table)
        # A column NULL in every row is left out (its default is that NULL): psycopg
        # writes each array element in Python, and most events leave half the columns empty.
        kept = tuple(
            i
            for i, values in enumerate(arrays)
            if i not in nullable or values.count(None) < len(values)
        )
        sql = _unnest_sql(dialect, table, conflict, returning, kept)
        return BulkInsert(((sql, tuple(list(arrays[i]) for i in kept)),))
    page = max(1, min(dialect.insertmanyvalues_page_size, _max_params(dialect) // len(columns)))
    return BulkInsert(
        tuple(
            (
                _values_sql(table.name, columns, conflict, returning, len(chunk)),
                tuple(itertools.chain.from_iterable(chunk)),
            )
            for chunk in (bound[i : i + page] for i in range(0, len(bound), page))
        )
    )


Binder = Callable[[Any], Any]


_UNSET = object()


@functools.cache
def _binders(dialect: Dialect, table: sa.Table) -> tuple[tuple[int, Binder], ...]:
    """(column position, bind processor) of the columns whose values Core converts."""
    found = []
    for i, column in enumerate(table.columns):
        bind = column.type.dialect_impl(dialect).bind_processor(dialect)
        if bind is not None:
            found.append((i, bind))
    return tuple(found)


def _max_params(dialect: Dialect) -> int:
    limit = dialect.insertmanyvalues_max_parameters
    return int(limit) if limit else 999


@functools.cache
def _values_sql(
    table: str, columns: Row, conflict: tuple[str, ...], returning: str | None, rows: int
) -> str:
    one = "(" + ", ".join("?" * len(columns)) + ")"
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * rows)} "
        f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING{_returning(returning)}"
    )


@functools.cache
def _nullable(table: sa.Table) -> frozenset[int]:
    """Positions of the columns whose value when left out of an INSERT is NULL."""
    return frozenset(
        i
        for i, column in enumerate(table.columns)
        if column.nullable
        and not column.primary_key
        and column.default is None
        and column.server_default is None
    )


@functools.lru_cache(maxsize=256)
def _unnest_sql(
    dialect: Dialect,
    table: sa.Table,
    conflict: tuple[str, ...],
    returning: str | None,
    kept: tuple[int, ...],
) -> str:
    # %b: arrays in binary, where psycopg writes strings as they are; its text format escapes
    # them character by character in Python (26 -> 10 ms for 512 events). Element types
    # without a length: a cast to VARCHAR(n) would truncate, the INSERT refuses too long.
    columns = [table.columns[i] for i in kept]
    arrays = ", ".join(
        f"%b::{_LENGTH.sub('', column.type.compile(dialect))}[]" for column in columns
    )
    return (
        f"INSERT INTO {table.name} ({', '.join(c.name for c in columns)}) "
        f"SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING{_returning(returning)}"
    )


def _returning(columns: str | None) -> str:
    return f" RETURNING {columns}" if columns else ""


_LENGTH = re.compile(r"\(\d+\)")
