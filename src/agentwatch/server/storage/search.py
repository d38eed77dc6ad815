"""Full-text search over sessions, and the index that ingest keeps for it.

What is searched is *text*, never its JSON encoding: every string an event carries
(prompts, completions, tool names and arguments, error types and messages ...), strings
that are JSON themselves (tool-call arguments) parsed and searched the same way, and per
session its id, tags, end state reason, agent names, user, external id and metadata.
Text becomes a document of words (runs of letters and digits, lower case), one per event
and one per session, in ``search_docs``; the database indexes those: SQLite an FTS5 table
over them (kept by triggers), PostgreSQL a ``tsvector`` column under a GIN index (both
made by migration 0007). Splitting words here, not in the database, makes both databases
find the same things.

A query's words must all be found in one document, each term (text between spaces) as a
phrase, the last one also as a prefix (``gpt-4`` finds ``gpt-4o``). A query also finds a
session with exactly that tag.

Ingest calls :func:`index` once at each write spot, in the write's transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from agentwatch.server.storage.records import EventRecord
from agentwatch.server.storage.schema import (
    agents,
    events,
    search_docs,
    session_tags,
    sessions,
)

__all__ = [
    "MAX_QUERY",
    "event_body",
    "has_metadata",
    "index",
    "matching",
    "session_body",
    "used_model",
    "words",
]

MAX_QUERY = 500  # characters of a search query
_MAX_TERMS = 16
_MAX_WORDS = 20_000  # per document: PostgreSQL's tsvector holds at most 1 MB
_MAX_WORD = 100  # longer runs (hashes, base64) are not words anyone types
_MAX_JSON_TEXT = 1_000_000  # strings longer than this are not parsed as JSON
_MAX_DEPTH = 64
_WORD = re.compile(r"[^\W_]+")
# Keys whose values are ids, times or media: not text anyone searches for.
_SKIPPED = frozenset(
    (
        "id",
        "init_timestamp",
        "end_timestamp",
        "timestamp",
        "time",
        "resource",
        "scope",
        "screenshot",
        "video",
        "image",
        "image_url",
        "event_type",
    )
)
_SESSION_DOC = ""  # the event_id of a session's own document
_CHUNK = 500


def words(text: str) -> list[str]:
    """The words of ``text`` as documents and queries hold them."""
    return [w for w in _WORD.findall(text.lower()) if len(w) <= _MAX_WORD]


def event_body(data: Mapping[str, Any]) -> str:
    """The words of every string in an event's document, space-separated."""
    found: list[str] = []
    for text in _strings(data):
        found.extend(words(text))
        if len(found) >= _MAX_WORDS:
            break
    return " ".join(found[:_MAX_WORDS])


def _strings(value: Any) -> Iterator[str]:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            parsed = _json_in(item) if depth < _MAX_DEPTH else None
            if parsed is None:
                yield item
            else:
                stack.append((parsed, depth + 1))
        elif depth >= _MAX_DEPTH:
            continue
        elif isinstance(item, Mapping):
            stack.extend(
                (v, depth + 1)
                for k, v in reversed(list(item.items()))
                if not (k in _SKIPPED or (isinstance(k, str) and k.endswith("_id")))
            )
        elif isinstance(item, list | tuple):
            stack.extend((v, depth + 1) for v in reversed(item))


def _json_in(text: str) -> Any:
    """The JSON value a string holds (tool-call arguments), or None."""
    head = text[:1] if text[:1] in "{[" else text.lstrip()[:1]
    if head not in ("{", "[") or len(text) > _MAX_JSON_TEXT:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def session_body(session: sa.Row[Any], agent_names: Iterable[str | None]) -> str:
    """The words of a session's own fields and its agents' names."""
    texts = [
        session.id,
        session.external_id or "",
        session.user_id or "",
        session.end_state_reason or "",
        *(n for n in agent_names if n),
    ]
    parts = [*(" ".join(words(t)) for t in texts), event_body({"t": json.loads(session.tags)})]
    if session.session_metadata:
        parts.append(event_body({"m": json.loads(session.session_metadata)}))
    found = " ".join(p for p in parts if p).split(" ")
    return " ".join(found[:_MAX_WORDS])


# -- the index ---------------------------------------------------------------------------


def index(
    conn: sa.Connection,
    *,
    events: Mapping[str, Sequence[EventRecord]] | None = None,
    replaced: Mapping[str, Sequence[EventRecord]] | None = None,
    sessions_changed: Iterable[str] = (),
    moved: Iterable[tuple[str, str, str]] = (),
) -> None:
    """Bring the index up to date after a write, in its transaction.

    ``events``: {session id: records newly stored}; ``replaced``: {session id: records
    whose stored event changed}; ``sessions_changed``: sessions whose own fields, tags or
    agents changed (or that were deleted); ``moved``: (trace id, from session, to
    session) of spans moved between sessions. Also keeps ``sessions.models``, the models
    each session's events used.
    """
    for trace_id, old, new in moved:
        _move(conn, trace_id, old, new)
    if replaced:
        _forget(conn, replaced)
    added = {**(events or {})}
    for session_id, records in (replaced or {}).items():
        added[session_id] = [*added.get(session_id, ()), *records]
    _insert(conn, added)
    _note_models(conn, added)
    for session_id in sorted(set(sessions_changed)):
        _reindex_session(conn, session_id)


def _insert(conn: sa.Connection, added: Mapping[str, Sequence[EventRecord]]) -> None:
    rows = [
        {"session_id": s, "event_id": r.id, "trace_id": r.trace_id, "body": event_body(r.data)}
        for s, records in sorted(added.items())
        for r in records
    ]
    rows = [row for row in rows if row["body"]]
    if rows:
        conn.execute(search_docs.insert(), rows)


def _forget(conn: sa.Connection, replaced: Mapping[str, Sequence[EventRecord]]) -> None:
    d = search_docs.c
    for session_id, records in replaced.items():
        ids = sorted({r.id for r in records})
        for i in range(0, len(ids), _CHUNK):
            conn.execute(
                search_docs.delete().where(
                    d.session_id == session_id, d.event_id.in_(ids[i : i + _CHUNK])
                )
            )


def _move(conn: sa.Connection, trace_id: str, old: str, new: str) -> None:
    """The documents of a trace's spans follow them from ``old`` to ``new``."""
    d = search_docs.c
    in_new = sa.select(d.event_id).where(d.session_id == new).scalar_subquery()
    conn.execute(
        search_docs.update()
        .where(d.session_id == old, d.trace_id == trace_id, d.event_id.not_in(in_new))
        .values(session_id=new)
    )
    conn.execute(search_docs.delete().where(d.session_id == old, d.trace_id == trace_id))
    e = events.c
    for session_id in (old, new):
        used = conn.execute(
            sa.select(e.model)
            .where(e.session_id == session_id, e.model.is_not(None))
            .group_by(e.model)
            .order_by(sa.func.min(e.init_timestamp))
        ).scalars()
        listed = list(used)
        conn.execute(
            sessions.update()
            .where(sessions.c.id == session_id)
            .values(models=json.dumps(listed) if listed else None)
        )


def _reindex_session(conn: sa.Connection, session_id: str) -> None:
    d = search_docs.c
    key = (d.session_id == session_id, d.event_id == _SESSION_DOC)
    row = conn.execute(sa.select(sessions).where(sessions.c.id == session_id)).first()
    old = conn.execute(sa.select(d.id, d.body).where(*key)).first()
    if row is None:
        if old is not None:
            conn.execute(search_docs.delete().where(*key))
        return
    names = conn.execute(sa.select(agents.c.name).where(agents.c.session_id == session_id))
    body = session_body(row, names.scalars())
    if old is not None and old.body == body:
        return
    if old is not None:
        conn.execute(search_docs.delete().where(d.id == old.id))
    conn.execute(
        search_docs.insert().values(
            session_id=session_id, event_id=_SESSION_DOC, trace_id=None, body=body
        )
    )


def _note_models(conn: sa.Connection, added: Mapping[str, Sequence[EventRecord]]) -> None:
    """Add to ``sessions.models`` (a JSON list) the models it does not list yet: one
    UPDATE per (session, model) of the batch, which changes nothing when it is listed."""
    c = sessions.c
    find = sa.func.instr if conn.dialect.name == "sqlite" else sa.func.strpos
    for session_id, records in sorted(added.items()):
        for model in sorted({r.model for r in records if r.model}):
            needle = json.dumps(model)
            conn.execute(
                sessions.update()
                .where(
                    c.id == session_id,
                    sa.or_(c.models.is_(None), find(c.models, needle) == 0),
                )
                .values(
                    models=sa.case(
                        (c.models.is_(None), "[" + needle + "]"),
                        else_=sa.func.substr(c.models, 1, sa.func.length(c.models) - 1)
                        + ("," + needle + "]"),
                    )
                )
            )


# -- queries -----------------------------------------------------------------------------


def matching(dialect: str, text: str) -> sa.ColumnElement[bool]:
    """Sessions (``sessions.id``) whose documents hold every term of ``text``, or that
    carry ``text`` as a tag."""
    tagged = sessions.c.id.in_(
        sa.select(session_tags.c.session_id).where(session_tags.c.tag == text.strip())
    )
    terms = [t for t in (words(term) for term in text.split()) if t][:_MAX_TERMS]
    if not terms:
        return tagged
    d = search_docs.c
    if dialect == "sqlite":
        docs: sa.Select[Any] = (
            sa.select(sa.literal_column("rowid"))
            .select_from(sa.table("search_fts"))
            .where(sa.literal_column("search_fts").op("MATCH")(_fts5_query(terms)))
        )
        found = sa.select(d.session_id).where(d.id.in_(docs))
    else:
        tsquery = sa.func.to_tsquery(sa.literal_column("'simple'"), _tsquery(terms))
        found = sa.select(d.session_id).where(
            sa.literal_column("search_docs.tsv").op("@@")(tsquery)
        )
    return sa.or_(sessions.c.id.in_(found), tagged)


def _prefixed(terms: Sequence[Sequence[str]]) -> bool:
    """Whether the last word is also a prefix: not for one or two characters, which would
    read most of the index."""
    return len(terms[-1][-1]) >= 3


def _fts5_query(terms: Sequence[Sequence[str]]) -> str:
    phrases = ['"' + " ".join(t) + '"' for t in terms]
    if _prefixed(terms):
        phrases[-1] += "*"
    return " AND ".join(phrases)


def _tsquery(terms: Sequence[Sequence[str]]) -> str:
    phrases = [" <-> ".join(t) for t in terms]
    if _prefixed(terms):
        phrases[-1] += ":*"
    return " & ".join(f"({p})" for p in phrases)


def used_model(model: str) -> sa.ColumnElement[bool]:
    """Sessions with an event of ``model``."""
    return sessions.c.models.contains(json.dumps(model), autoescape=True)


def has_metadata(key: str, value: str) -> sa.ColumnElement[bool]:
    """Sessions whose metadata (an OpenTelemetry client's, a JSON object) maps ``key`` to
    ``value`` (text; or the number, true, false or null it spells)."""
    column = sessions.c.session_metadata
    pairs = [json.dumps({key: value}, separators=(",", ":"), ensure_ascii=False)[1:-1]]
    try:
        scalar = json.loads(value)
    except ValueError:
        scalar = value
    if not isinstance(scalar, str | dict | list):
        pairs.append(json.dumps({key: scalar}, separators=(",", ":"))[1:-1])
    return sa.or_(*(column.contains(p, autoescape=True) for p in pairs))
