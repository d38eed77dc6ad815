"""Indexes that order a project's sessions by cost and by errors (ties by id), so that a
list sorted by either reads its page in index order and stops, as the time-ordered list
does: a common word is then looked up per session read instead of every session holding
it being read and sorted (issue 12).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 02:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_sessions_project_cost": ["project_id", "cost_pico", "id"],
    "ix_sessions_project_errors": ["project_id", "errors", "id"],
}


def upgrade() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, "sessions", columns)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="sessions")
