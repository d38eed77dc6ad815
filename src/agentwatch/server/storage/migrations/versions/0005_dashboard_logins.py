"""Dashboard logins are kept server-side, so that logging out ends them everywhere.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_logins",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_dashboard_logins_expires", "dashboard_logins", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_logins_expires", table_name="dashboard_logins")
    op.drop_table("dashboard_logins")
