"""Indexes that order a project's sessions by each sort of the list other than time
(cost, errors, tokens, duration; ties by id), so that a sorted list reads its page in
index order and stops, as the time-ordered list does: a common word searched is then
looked up per session read, instead of every session holding it being read and sorted
(issue 12). Tokens and duration are expressions, indexed as the list query spells them
(``sessionlist.sort_expr``, per database); SQLite uses such an index only for exactly
that expression.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from agentwatch.server.storage.schema import EXPRESSION_INDEXES
from agentwatch.server.storage.sessionlist import sort_expr

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_sessions_project_cost": ["project_id", "cost_pico", "id"],
    "ix_sessions_project_errors": ["project_id", "errors", "id"],
}


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect
    for name, columns in _INDEXES.items():
        op.create_index(name, "sessions", columns)
    for sort, name in EXPRESSION_INDEXES.items():
        expression = sort_expr(sort, dialect.name).compile(
            dialect=dialect, compile_kwargs={"literal_binds": True, "include_table": False}
        )
        op.execute(f"CREATE INDEX {name} ON sessions (project_id, ({expression}), id)")
    # The planners' statistics must know the new indexes: SQLite's, once ANALYZE has run,
    # take an index it has none for as far more selective than one it has (the time list
    # then read a project through the errors index and sorted it all).
    if (
        dialect.name != "sqlite"
        or bind.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first()
    ):
        op.execute("ANALYZE sessions")


def downgrade() -> None:
    for name in [*_INDEXES, *EXPRESSION_INDEXES.values()]:
        op.drop_index(name, table_name="sessions")
