"""Sessions keep the counts of events their SDK reported it could not deliver.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("dropped_events", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("dropped_events")
