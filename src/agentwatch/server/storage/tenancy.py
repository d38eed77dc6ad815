"""Session ids are the clients' choice and one key space for all projects: whose is which.

A v2 client names its session (``create_session`` with its own UUID). When project B names
an id that project A already has, B gets a session of its own under a *shadow* id derived
from B's project id and the id it named (:func:`shadow_id`), and every later request of B
that names the id reaches the shadow. So B's answers are those a fresh id gets (no oracle
telling B that A has the id), A's session is untouched (no squatting), and B's data is kept.

Writes try the named id first (the session is almost always there) and the shadow only when
the project has no session under the named id (``Storage`` does that); reads look the shadow
up the same way and show it under the id the client named.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from agentwatch.server.storage.schema import sessions

__all__ = ["shadow_id", "shown_as"]

_NAMESPACE = uuid.UUID("9d3c6a8e-2b41-4f7a-8e15-6c0f4b2a7d93")


def shadow_id(project_id: str, session_id: str) -> str:
    """The id the project's session named ``session_id`` is stored under when another
    project had that id first."""
    return str(uuid.uuid5(_NAMESPACE, f"{project_id}\x00{session_id}"))


def shown_as(conn: sa.Connection, project_id: str, session_id: str) -> sa.Row[Any] | None:
    """The project's shadow session of ``session_id``, its ``id`` shown as ``session_id``."""
    columns = [
        sa.literal(session_id, sessions.c.id.type).label("id") if c.name == "id" else c
        for c in sessions.c
    ]
    query = sa.select(*columns).where(
        sessions.c.id == shadow_id(project_id, session_id), sessions.c.project_id == project_id
    )
    return conn.execute(query).first()
