"""Many-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` as plain driver SQL.

Ingest writes every event through here. SQLAlchemy's ``insertmanyvalues`` runs the same
SQL, but its per-row parameter processing took half the write lock's time on SQLite, and
psycopg re-parsed the 1,700-placeholder statement that it rendered for each batch (too long
for psycopg's query cache: a quarter of the server's CPU on PostgreSQL). Here the rows are
bound before the write lock is taken (with the columns' own SQLAlchemy bind processors, so
values are stored exactly as through Core), and each database gets the form it runs fastest:

* SQLite: one ``VALUES (...), (...)`` statement per page of rows.
* PostgreSQL: one statement over ``unnest`` of one array per column: 17 parameters whatever
  the batch size, so psycopg caches and prepares it.

Rows are inserted in the order given (callers sort them to take row locks in one order).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = ["BulkInsert", "prepare_insert"]

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


def prepare_insert(
    dialect: Dialect,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    conflict: tuple[str, ...],
    returning: str,
) -> BulkInsert:
    """An insert of ``rows`` (mappings with every column of ``table``) skipping rows that
    conflict on ``conflict``, returning ``returning`` of the rows inserted.

    Does not touch the database: call it before taking a lock.
    """
    columns = tuple(table.c.keys())
    binders = _binders(dialect, table)
    bound = [tuple(_bind(binders, row, columns)) for row in rows]
    if not bound:
        return BulkInsert(())
    if dialect.name == "postgresql":
        sql = _unnest_sql(dialect, table, conflict, returning)
        return BulkInsert(((sql, tuple(list(column) for column in zip(*bound, strict=True))),))
    page = max(1, min(dialect.insertmanyvalues_page_size, _max_params(dialect) // len(columns)))
    return BulkInsert(
        tuple(
            (
                _values_sql(table.name, columns, conflict, returning, len(chunk)),
                tuple(value for row in chunk for value in row),
            )
            for chunk in (bound[i : i + page] for i in range(0, len(bound), page))
        )
    )


def _bind(
    binders: tuple[Callable[[Any], Any] | None, ...], row: Mapping[str, Any], columns: Row
) -> Row:
    return tuple(
        row[name] if bind is None else bind(row[name])
        for name, bind in zip(columns, binders, strict=True)
    )


@functools.cache
def _binders(dialect: Dialect, table: sa.Table) -> tuple[Callable[[Any], Any] | None, ...]:
    # The processors Core itself applies, e.g. UTCDateTime -> naive UTC -> SQLite's text form.
    return tuple(
        column.type.dialect_impl(dialect).bind_processor(dialect) for column in table.columns
    )


def _max_params(dialect: Dialect) -> int:
    limit = dialect.insertmanyvalues_max_parameters
    return int(limit) if limit else 999


@functools.cache
def _values_sql(
    table: str, columns: Row, conflict: tuple[str, ...], returning: str, rows: int
) -> str:
    one = "(" + ", ".join("?" * len(columns)) + ")"
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * rows)} "
        f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {returning}"
    )


@functools.cache
def _unnest_sql(
    dialect: Dialect, table: sa.Table, conflict: tuple[str, ...], returning: str
) -> str:
    arrays = ", ".join(f"%s::{column.type.compile(dialect)}[]" for column in table.columns)
    return (
        f"INSERT INTO {table.name} ({', '.join(table.c.keys())}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {returning}"
    )
