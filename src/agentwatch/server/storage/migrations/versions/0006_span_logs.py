"""OpenTelemetry log records attached to their span (GenAI message events).

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "span_logs",
        sa.Column("project_id", sa.String(36), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("span_id", sa.String(16), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("time", sa.DateTime(), nullable=True),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("event_name", sa.String(200), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "trace_id", "span_id", "id"),
    )


def downgrade() -> None:
    op.drop_table("span_logs")
