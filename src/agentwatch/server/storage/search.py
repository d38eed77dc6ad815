"""Full-text search over sessions, and the index that ingest keeps for it.

What is searched is *text*, never its JSON encoding: every string an event carries
(prompts, completions, tool names and arguments, error types and messages ...), strings
that are JSON themselves (tool-call arguments) parsed and searched the same way, and per
session its id, tags, end state reason, agent names, user, external id and metadata.
Text becomes documents of distinct words (runs of letters and digits, lower case) in
``search_docs``: one per session for its own fields, one per written batch of its events
(per trace for OpenTelemetry spans, at most :data:`DOC_EVENTS` events each), one per
event an update changed. A batch's events share a document because indexing costs per
word indexed: distinct words of 100 events are a tenth of their words. The database
indexes the documents: SQLite an FTS5 table (kept by triggers), PostgreSQL a ``tsvector``
column under a GIN index (both made by migration 0007). Splitting words here, not in the
database, makes both databases find the same things.

A query finds the sessions holding every word of it, anywhere in the session; the last
word also as a prefix (``pest`` finds ``Pestana``), and a session with exactly that tag.
Words an update of an event removed may still find its session (the batch's document
keeps them).

Ingest calls :func:`index` once at each write spot, in the write's transaction.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSQUERY

from agentwatch.server.storage.records import EventRecord
from agentwatch.server.storage.schema import (
    agents,
    events,
    search_docs,
    session_tags,
    sessions,
    span_logs,
    traces,
)

__all__ = [
    "DOC_EVENTS",
    "MAX_QUERY",
    "Extracted",
    "counting_from",
    "document",
    "extract",
    "has_metadata",
    "index",
    "matching",
    "query_words",
    "session_body",
    "text_of",
    "used_model",
    "words",
]

MAX_QUERY = 500  # characters of a search query
_MAX_TERMS = 16
_MAX_WORDS = 20_000  # distinct words per document: PostgreSQL's tsvector holds 1 MB
_MAX_TEXT = 200_000  # characters of text of one event that are indexed
_MAX_WORD = 100  # longer runs (hashes, base64) are not words anyone types
_MAX_JSON_TEXT = 1_000_000  # strings longer than this are not parsed as JSON
_MAX_DEPTH = 64
_WORD = re.compile(r"[^\W_]+")
_ASCII_WORD = re.compile(r"[a-z0-9]+")
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
_SESSION_DOC = ""  # the event_id of a session's own document (a batch's: NULL)
DOC_EVENTS = 100
_CHUNK = 500
_FEW_DOCS = 5_000


def words(text: str) -> list[str]:
    """The words of ``text`` as documents and queries hold them."""
    return [w for w in _split(text) if len(w) <= _MAX_WORD]


def _split(text: str) -> list[str]:
    # The same words either way; the ASCII pattern is 8x faster than the Unicode one.
    lowered = text.lower()
    return (_ASCII_WORD if lowered.isascii() else _WORD).findall(lowered)


def text_of(data: Any) -> str:
    """The strings of an event's document (its first :data:`_MAX_TEXT` characters),
    joined by spaces."""
    found: list[str] = []
    _strings(data, 0, found, [0])
    return " ".join(found)[:_MAX_TEXT]


def document(texts: Iterable[str]) -> str:
    """The distinct words of ``texts``, space-separated, in first-seen order: one
    lower-casing and one regex pass over all of them (what a batch costs to index)."""
    return _joined([_distinct(" ".join(texts))])


def _distinct(text: str) -> list[str]:
    """The distinct words of ``text`` that documents hold, in first-seen order."""
    return [w for w in dict.fromkeys(_split(text)) if len(w) <= _MAX_WORD]


def _words_of(data: Any, seen: _Splits | None = None) -> list[str]:
    """``_distinct(text_of(data))``, each distinct string split once: an OTLP span's text
    repeats (its prompt is in its attributes too). Repeats add no words; only an
    untruncated text may drop them (truncation counts them).

    ``seen`` carries the splits of one batch's records: a batch repeats its strings (every
    LLM call sends the conversation so far, a tool's name and arguments recur), and words
    never span two strings, so a string's words are found once per batch and a record whose
    strings all came before (the same tool call again) reuses its whole list."""
    found: list[str] = []
    size = [0]
    _strings(data, 0, found, size, seen)
    if size[0] + len(found) > _MAX_TEXT:
        return _distinct(" ".join(found)[:_MAX_TEXT])
    if seen is None:
        return _distinct(" ".join(dict.fromkeys(found)))
    strings = tuple(dict.fromkeys(found))
    known = seen.records.get(strings)
    if known is not None:
        return known
    split = seen.strings
    result: dict[str, None] = {}
    for text in strings:
        got = split.get(text)
        if got is None:
            got = split[text] = dict.fromkeys(_distinct(text))
        result.update(got)
    words = seen.records[strings] = list(result)
    return words


class _Splits:
    """The words found so far in one batch: by string, and by a record's strings; and the
    strings found in each string holding JSON."""

    __slots__ = ("json", "records", "strings")

    def __init__(self) -> None:
        self.strings: dict[str, dict[str, None]] = {}
        self.records: dict[tuple[str, ...], list[str]] = {}
        self.json: dict[tuple[str, int], tuple[list[str], int]] = {}


def _joined(parts: Iterable[Sequence[str]]) -> str:
    """A document from the distinct words of its parts, in order: the same words as
    :func:`document` of the parts' texts (words never span the space between texts)."""
    seen: dict[str, None] = {}
    done: set[int] = set()  # parts are often one list again (a batch's repeated records)
    for part in parts:
        if id(part) in done:
            continue
        done.add(id(part))
        seen.update(dict.fromkeys(part))
        if len(seen) >= _MAX_WORDS:
            break
    return " ".join(list(seen)[:_MAX_WORDS])


def _strings(
    item: Any, depth: int, found: list[str], size: list[int], seen: _Splits | None = None
) -> bool:
    """Append the text strings of ``item`` to ``found`` in document order, stopping (True)
    once they reach :data:`_MAX_TEXT` characters. Recursive, strings handled in their
    container's loop and exact types checked first: a generator with its own stack and
    ``isinstance(.., Mapping)`` per value cost twice as much. Depth is bounded by
    :data:`_MAX_DEPTH`. ``seen``: the batch's strings that hold JSON, with what was found
    in them (a batch repeats them: the same messages in every span of a conversation)."""
    if isinstance(item, str):
        values: Iterable[Any] = (item,)
        depth -= 1  # the string is looked at as if in a container one level up
    elif depth >= _MAX_DEPTH:
        return False
    elif type(item) is dict or isinstance(item, Mapping):
        values = [
            v
            for k, v in item.items()
            if not (k in _SKIPPED or (isinstance(k, str) and k.endswith("_id")))
        ]
    elif isinstance(item, list | tuple):
        values = item
    else:
        return False
    deeper = depth + 1
    for v in values:
        if isinstance(v, str):
            # Only a string starting with a bracket or a space can hold JSON (_json_in).
            if v and (v[0] in "{[" or v[0].isspace()) and deeper < _MAX_DEPTH:
                held = _held_strings(v, deeper + 1, seen)
                if held is not None:
                    strings, length = held
                    found.extend(strings)
                    size[0] += length
                    if size[0] >= _MAX_TEXT:
                        return True
                    continue
            found.append(v)
            size[0] += len(v)
            if size[0] >= _MAX_TEXT:
                return True
        elif v is not None and type(v) not in _SCALARS and _strings(v, deeper, found, size, seen):
            return True
    return False


def _held_strings(text: str, depth: int, seen: _Splits | None) -> tuple[list[str], int] | None:
    """The strings of the JSON value ``text`` holds (walked at ``depth``) and their length,
    or None when it holds none. Found once per batch; where the walk stops early (the text
    limit) the strings found so far are what the caller's walk would have found: it stops
    too, and cuts its text at the limit."""
    key = (text, depth)
    if seen is not None and (known := seen.json.get(key)) is not None:
        return known
    parsed = _json_in(text)
    if parsed is None:
        return None
    strings: list[str] = []
    length = [0]
    _strings(parsed, depth, strings, length, seen)
    if seen is not None:
        seen.json[key] = (strings, length[0])
    return strings, length[0]


_SCALARS = frozenset((int, float, bool))


def _json_in(text: str) -> Any:
    """The JSON value a string holds (tool-call arguments), or None."""
    head = text[:1] if text[:1] in "{[" else text.lstrip()[:1]
    if head not in ("{", "[") or len(text) > _MAX_JSON_TEXT:
        return None
    try:
        # orjson: 5x faster; what it refuses (NaN, huge numbers, lone surrogates, deep
        # nesting) json decides, so what is found is what json.loads finds.
        return orjson.loads(text)
    except ValueError:
        pass
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def session_body(session: Any, agent_names: Iterable[str | None]) -> str:
    """The words of a session's own fields (a ``sessions`` row, or anything with its
    attributes) and its agents' names."""
    texts = [
        session.id,
        session.external_id or "",
        session.user_id or "",
        (session.end_state_reason or "")[:_MAX_TEXT],
        *(n for n in agent_names if n),
        text_of(json.loads(session.tags)),
    ]
    if session.session_metadata:
        texts.append(text_of(json.loads(session.session_metadata)))
    return document(texts)


# -- the index ---------------------------------------------------------------------------


class Extracted:
    """The words of records, extracted before the write lock is taken (by
    :func:`extract`): under it, a batch's documents are only joined."""

    __slots__ = ("_words",)

    def __init__(self, records: Iterable[EventRecord]) -> None:
        # Keyed by identity, the record kept alive with its words: two records with one
        # id (a v2 batch's repeated ids, an OTLP span sent twice) can hold different text.
        seen = _Splits()
        self._words = {id(r): (r, _words_of(r.data, seen)) for r in records}

    def of(self, record: EventRecord) -> list[str]:
        """The distinct words of ``record``'s text (extracted now if it was not)."""
        known = self._words.get(id(record))
        if known is not None and known[0] is record:
            return known[1]
        return _words_of(record.data)


def extract(records: Iterable[EventRecord]) -> Extracted:
    """The words of ``records``, for :func:`index` (call it before taking the write lock)."""
    return Extracted(records)


def index(
    conn: sa.Connection,
    *,
    events: Mapping[str, Sequence[EventRecord]] | None = None,
    replaced: Mapping[str, Sequence[EventRecord]] | None = None,
    sessions_changed: Iterable[str] = (),
    moved: Iterable[tuple[str, str, str, Sequence[EventRecord]]] = (),
    log_traces: tuple[str, Iterable[str]] | None = None,
    extracted: Extracted | None = None,
) -> None:
    """Bring the index up to date after a write, in its transaction.

    ``events``: {session id: records newly stored}; ``replaced``: {session id: records
    whose stored event changed}; ``sessions_changed``: sessions whose own fields, tags or
    agents changed (or that were deleted); ``moved``: (trace id, from session, to
    session, the spans the latter did not have) of spans moved between sessions;
    ``log_traces``: (project id, trace ids) whose OpenTelemetry log records were written,
    or whose spans were (the records may have come first); ``extracted``: the words of (some of) the records, from
    :func:`extract`. Also keeps ``sessions.models``, the models each session's events
    used.

    The rows of every session named are locked by the caller's writes already (their
    counters moved): the batched statements here take no row lock of their own first.
    """
    words = extracted or Extracted(())
    for trace_id, old, new, arrived in moved:
        _move(conn, trace_id, old, new, arrived)
    if events:
        _insert(conn, events, words)
        _note_models(conn, events)
    if replaced:
        _replace(conn, replaced, words)
        _note_models(conn, replaced)
    changed = sorted(set(sessions_changed))
    for i in range(0, len(changed), _CHUNK):
        _reindex_sessions(conn, changed[i : i + _CHUNK])
    if log_traces is not None:
        _index_logs(conn, *log_traces)


def _index_logs(conn: sa.Connection, project_id: str, trace_ids: Iterable[str]) -> None:
    """One document per trace with log records (``event_id`` "logs:<trace>"), in the
    trace's session, rebuilt from all of them: records are kept by trace and span, not by
    session, and may arrive before the trace has one. A trace's spans move its document
    along (it carries the trace id)."""
    t, g = traces.c, span_logs.c
    wanted = sorted(set(trace_ids))
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        with_logs = sa.select(g.trace_id).where(g.project_id == project_id, g.trace_id.in_(chunk))
        mapped = conn.execute(
            sa.select(t.trace_id, t.session_id).where(
                t.project_id == project_id, t.trace_id.in_(with_logs.distinct())
            )
        ).all()
        for trace_id, session_id in mapped:
            _reindex_trace_logs(conn, project_id, trace_id, session_id)


def _reindex_trace_logs(
    conn: sa.Connection, project_id: str, trace_id: str, session_id: str
) -> None:
    g, d = span_logs.c, search_docs.c
    datas = conn.execute(
        sa.select(g.data)
        .where(g.project_id == project_id, g.trace_id == trace_id)
        .order_by(g.span_id, g.ordinal)
        .limit(DOC_EVENTS * 10)
    ).scalars()
    body = document(text_of(_parsed(data)) for data in datas)
    key = f"logs:{trace_id}"
    old = conn.execute(
        sa.select(d.id, d.body).where(d.session_id == session_id, d.event_id == key)
    ).first()
    if old is not None and old.body == body:
        return
    if old is not None:
        conn.execute(search_docs.delete().where(d.id == old.id))
    if body:
        conn.execute(
            search_docs.insert().values(
                session_id=session_id, event_id=key, trace_id=trace_id, body=body
            )
        )


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return {}


def _insert(
    conn: sa.Connection, added: Mapping[str, Sequence[EventRecord]], words: Extracted
) -> None:
    """One document per session, trace and :data:`DOC_EVENTS` records."""
    rows = []
    for session_id, records in sorted(added.items()):
        by_trace: dict[str | None, list[EventRecord]] = {}
        for record in records:
            by_trace.setdefault(record.trace_id, []).append(record)
        for trace_id, group in sorted(by_trace.items(), key=lambda item: item[0] or ""):
            for i in range(0, len(group), DOC_EVENTS):
                body = _joined(words.of(r) for r in group[i : i + DOC_EVENTS])
                if body:
                    rows.append(
                        {
                            "session_id": session_id,
                            "event_id": None,
                            "trace_id": trace_id,
                            "body": body,
                        }
                    )
    if rows:
        conn.execute(search_docs.insert(), rows)


def _replace(
    conn: sa.Connection, replaced: Mapping[str, Sequence[EventRecord]], words: Extracted
) -> None:
    """A document per changed event (its earlier one, if any, goes)."""
    d = search_docs.c
    rows = []
    for session_id, records in sorted(replaced.items()):
        ids = sorted({r.id for r in records})
        for i in range(0, len(ids), _CHUNK):
            conn.execute(
                search_docs.delete().where(
                    d.session_id == session_id, d.event_id.in_(ids[i : i + _CHUNK])
                )
            )
        rows += [
            {"session_id": session_id, "event_id": r.id, "trace_id": r.trace_id, "body": body}
            for r in {r.id: r for r in records}.values()
            if (body := _joined([words.of(r)]))
        ]
    if rows:
        conn.execute(search_docs.insert(), rows)


def _move(
    conn: sa.Connection, trace_id: str, old: str, new: str, arrived: Sequence[EventRecord]
) -> None:
    """The documents of a trace's spans follow them from ``old`` to ``new``; ``new`` lists
    the models of the spans that ``arrived`` (as a batch's models are noted: reading all of
    its events would cost once per trace moved in), ``old`` what its events still use."""
    d = search_docs.c
    conn.execute(
        search_docs.update()
        .where(d.session_id == old, d.trace_id == trace_id)
        .values(session_id=new)
    )
    e = events.c
    used = conn.execute(
        sa.select(e.model)
        .where(e.session_id == old, e.model.is_not(None))
        .group_by(e.model)
        .order_by(sa.func.min(e.init_timestamp))
    ).scalars()
    listed = list(used)
    conn.execute(
        sessions.update()
        .where(sessions.c.id == old)
        .values(models=json.dumps(listed) if listed else None)
    )
    _note_models(conn, {new: arrived})


def _reindex_sessions(conn: sa.Connection, session_ids: list[str]) -> None:
    """The sessions' own documents rewritten where their text changed (deleted with a
    deleted session): three reads and at most a delete and an insert for all of them."""
    read_sessions, read_docs, read_agents = _session_reads()
    ids = {"ids": session_ids}
    rows = {r.id: r for r in conn.execute(read_sessions, ids)}
    old = {r.session_id: r for r in conn.execute(read_docs, ids)}
    names: dict[str, list[str | None]] = {}
    for session_id, name in conn.execute(read_agents, {"ids": list(rows)}) if rows else ():
        names.setdefault(session_id, []).append(name)
    stale: list[int] = []
    fresh: list[dict[str, Any]] = []
    for session_id in session_ids:
        row, doc = rows.get(session_id), old.get(session_id)
        body = None if row is None else session_body(row, names.get(session_id, ()))
        if doc is not None and doc.body == body:
            continue
        if doc is not None:
            stale.append(doc.id)
        if body is not None:
            fresh.append(
                {"session_id": session_id, "event_id": _SESSION_DOC, "trace_id": None, "body": body}
            )
    if stale:
        conn.execute(search_docs.delete().where(search_docs.c.id.in_(stale)))
    if fresh:
        conn.execute(search_docs.insert(), fresh)


@functools.cache
def _session_reads() -> tuple[sa.Select[Any], sa.Select[Any], sa.Select[Any]]:
    """:func:`_reindex_sessions`' reads of sessions, their documents and their agents'
    names (by ``ids``), built once."""
    ids: sa.BindParameter[Any] = sa.bindparam("ids", expanding=True)
    c, d, a = sessions.c, search_docs.c, agents.c
    fields = (c.id, c.external_id, c.user_id, c.end_state_reason, c.tags, c.session_metadata)
    return (
        sa.select(*fields).where(c.id.in_(ids)),
        sa.select(d.id, d.session_id, d.body).where(
            d.session_id.in_(ids), d.event_id == _SESSION_DOC
        ),
        sa.select(a.session_id, a.name).where(a.session_id.in_(ids)),
    )


def _note_models(conn: sa.Connection, added: Mapping[str, Sequence[EventRecord]]) -> None:
    """Add to ``sessions.models`` (a JSON list) the models it does not list yet: one
    UPDATE per model of the batch over the sessions that used it (in sorted order, so a
    session lists a batch's new models sorted), which changes nothing where it is listed."""
    used: dict[str, set[str]] = {}
    for session_id, records in added.items():
        for record in records:
            if record.model:
                used.setdefault(record.model, set()).add(session_id)
    update = _models_update(conn.dialect.name)
    for model in sorted(used):
        ids = sorted(used[model])
        for i in range(0, len(ids), _CHUNK):
            conn.execute(update, {"ids": ids[i : i + _CHUNK], "needle": json.dumps(model)})


@functools.cache
def _models_update(dialect_name: str) -> sa.Update:
    """:func:`_note_models`' UPDATE, built once (building it cost more than running it)."""
    c = sessions.c
    find = sa.func.instr if dialect_name == "sqlite" else sa.func.strpos
    needle = sa.bindparam("needle", type_=sa.String())
    return (
        sessions.update()
        .where(
            c.id.in_(sa.bindparam("ids", expanding=True)),
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


def query_words(text: str) -> list[str]:
    """The distinct words of a query, at most :data:`_MAX_TERMS`."""
    return list(dict.fromkeys(words(text)))[:_MAX_TERMS]


def matching(conn: sa.Connection, text: str, *, probed: bool) -> sa.ColumnElement[bool]:
    """Sessions (``sessions.id``) holding every word of ``text``; for a text without
    words (``:)``), the sessions with exactly that tag.

    ``probed``: the query reads sessions one at a time in an order it can stop early in
    (the time-ordered list's index, or another word's documents): a common word is then
    looked up per session rather than read whole."""
    found = query_words(text)
    if not found:
        return sessions.c.id.in_(
            sa.select(session_tags.c.session_id).where(session_tags.c.tag == text.strip())
        )
    # A prefix only for the last word, and not of one or two characters: those would
    # read most of the index.
    last = len(found) - 1
    return sa.and_(
        *(_holding(conn, w, i == last and len(w) >= 3, probed) for i, w in enumerate(found))
    )


def counting_from(conn: sa.Connection, text: str) -> tuple[Any, sa.ColumnElement[bool], str] | None:
    """For counting a search's sessions on SQLite: (FROM clause of the documents holding
    its rarest word joined to their sessions, the MATCH of that word, the rest of the
    query), read from the index outward: counting by reading sessions and looking each
    up would read every session. None: the text has no words."""
    found = query_words(text)
    if not found:
        return None
    last = found[-1]
    rarest = min(found, key=lambda w: _documents(conn, w, w == last))
    found = [rarest, *(w for w in found if w != rarest)]
    d = search_docs.c
    fts = sa.table("search_fts", sa.column("rowid"))
    joined = fts.join(search_docs, d.id == fts.c.rowid).join(
        sessions, sessions.c.id == d.session_id
    )
    match = sa.literal_column("search_fts").op("MATCH")(_fts_word(rarest, rarest == last))
    # The last word stays last in the rest: it is the one matched as a prefix.
    return joined, match, " ".join(found[1:])


def _matched(word: str, prefix: bool) -> sa.Select[Any]:
    return (
        sa.select(sa.literal_column("rowid"))
        .select_from(sa.table("search_fts"))
        .where(sa.literal_column("search_fts").op("MATCH")(_fts_word(word, prefix)))
    )


def _documents(conn: sa.Connection, word: str, prefix: bool) -> int:
    """How many documents hold ``word`` (counted up to :data:`_FEW_DOCS` + 1)."""
    limited = _matched(word, prefix).limit(_FEW_DOCS + 1).subquery()
    return int(conn.execute(sa.select(sa.func.count()).select_from(limited)).scalar_one())


def _fts_word(word: str, last: bool) -> str:
    return f'"{word}"' + ("*" if last and len(word) >= 3 else "")


def _holding(conn: sa.Connection, word: str, prefix: bool, probed: bool) -> sa.ColumnElement[bool]:
    d = search_docs.c
    if conn.dialect.name != "sqlite":
        # A lexeme as it is (a cast reads tsquery syntax, not text to parse): the words
        # hold only letters and digits, nothing a tsquery would read as an operator.
        tsquery = sa.cast(f"'{word}'" + (":*" if prefix else ""), TSQUERY)
        docs = sa.select(d.session_id).where(sa.literal_column("search_docs.tsv").op("@@")(tsquery))
        return sessions.c.id.in_(docs)
    matched = _matched(word, prefix)
    # A word in few documents drives the read: their sessions, looked up by id. A common
    # word (counting its documents reads only the FTS index, a few ms) does not when the
    # read can stop early: each session read is looked up in the set of matching
    # documents, so a page stops after 50 instead of reading every match and sorting.
    if not probed or _documents(conn, word, prefix) <= _FEW_DOCS:
        return sessions.c.id.in_(sa.select(d.session_id).where(d.id.in_(matched)))
    return sa.exists().where(d.session_id == sessions.c.id, d.id.in_(matched))


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
