"""Storage: one small interface over SQLAlchemy Core, for SQLite and PostgreSQL."""

from agentwatch.server.storage.records import (
    ApiKeyInfo,
    EventRecord,
    KeyOwner,
    Project,
    SessionFields,
)
from agentwatch.server.storage.sessionlist import ListOrder, SessionFilter
from agentwatch.server.storage.storage import Storage

__all__ = [
    "ApiKeyInfo",
    "EventRecord",
    "KeyOwner",
    "ListOrder",
    "Project",
    "SessionFields",
    "SessionFilter",
    "Storage",
]
