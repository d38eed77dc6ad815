"""Rollups of LLM calls and sessions per 15-minute bucket, kept at ingest for the overview,
backfilled from the events and sessions already stored.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

from alembic import op

from agentwatch.server.storage import rollups
from agentwatch.server.storage.schema import rollup_llm, rollup_session_state, rollup_sessions

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TABLES = (rollup_llm, rollup_sessions, rollup_session_state)


def upgrade() -> None:
    bind = op.get_bind()
    # The tables as schema.py defines them, created on the migration's connection, then
    # filled by the same code ingest keeps them with (rollups.rebuild).
    for table in _TABLES:
        table.create(bind)
    rollups.rebuild(bind)


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_table(table.name)
