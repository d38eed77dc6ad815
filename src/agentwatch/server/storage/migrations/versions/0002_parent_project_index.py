"""Index sessions by parent project, for parent projects reading their children's sessions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 20:45:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_sessions_parent_init", "sessions", ["parent_project_id", "init_timestamp", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_parent_init", table_name="sessions")
