"""Every event is a span of its session's tree; sessions can come from OpenTelemetry.

Events gain their parent, trace, kind, display name and status. Kinds and statuses of
the events stored before are derived from their v2 type (their names stay derived from
their JSON at read time, so no row is rewritten but by one UPDATE per kind). Sessions gain
the fields OTLP clients send (their own session key, user, metadata, captured logs), and
``traces`` maps an OpenTelemetry trace to its session.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# v2 event types and the span kinds they are (every other type: "other").
_V2_KINDS = {"llms": "llm", "tools": "tool", "actions": "action", "errors": "error"}


def upgrade() -> None:
    op.add_column("events", sa.Column("parent_id", sa.String(128), nullable=True))
    op.add_column("events", sa.Column("trace_id", sa.String(32), nullable=True))
    op.add_column(
        "events", sa.Column("kind", sa.String(16), nullable=False, server_default="other")
    )
    op.add_column("events", sa.Column("name", sa.String(200), nullable=True))
    op.add_column(
        "events", sa.Column("status", sa.String(8), nullable=False, server_default="unset")
    )
    events = sa.table("events", sa.column("event_type"), sa.column("kind"), sa.column("status"))
    for event_type, kind in _V2_KINDS.items():
        op.execute(events.update().where(events.c.event_type == event_type).values(kind=kind))
    op.execute(events.update().where(events.c.event_type == "errors").values(status="error"))
    for name, column_type in (
        ("external_id", sa.Text()),
        ("user_id", sa.String(200)),
        ("session_metadata", sa.Text()),
        ("logs", sa.Text()),
    ):
        op.add_column("sessions", sa.Column(name, column_type, nullable=True))
    op.create_table(
        "traces",
        sa.Column("project_id", sa.String(36), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("explicit", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "trace_id"),
    )
    op.create_index("ix_traces_session", "traces", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_traces_session", "traces")
    op.drop_table("traces")
    with op.batch_alter_table("sessions") as batch:
        for name in ("logs", "session_metadata", "user_id", "external_id"):
            batch.drop_column(name)
    with op.batch_alter_table("events") as batch:
        for name in ("status", "name", "kind", "trace_id", "parent_id"):
            batch.drop_column(name)
