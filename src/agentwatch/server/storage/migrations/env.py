"""Alembic environment, run programmatically by :func:`agentwatch.server.storage.migrate.upgrade`.

The caller hands over an open connection in ``config.attributes["connection"]``; there
is no alembic.ini and no logging configuration here, so that migrating never touches the
host application's logging.
"""

from __future__ import annotations

from alembic import context

from agentwatch.server.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through agentwatch.server.storage.migrate.upgrade()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
