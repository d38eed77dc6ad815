"""The search index's write side: words extracted before the write lock are the words a
document of the texts holds, and one request's sessions and models are kept in batched
statements with what per-session statements kept."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from agentwatch.server.pricing import PriceTable
from agentwatch.server.storage import search
from agentwatch.server.storage.records import EventRecord, SessionFields
from agentwatch.server.storage.schema import search_docs, sessions
from agentwatch.server.storage.storage import Storage
from agentwatch.server.wire import event_record

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _record(session_id: str, **raw: Any) -> EventRecord:
    raw.setdefault("event_type", "llms")
    raw.setdefault("id", str(uuid.uuid4()))
    return event_record(raw, "events[0]", session_id, PriceTable.load(), NOW)


def _words(data: Any) -> list[str]:
    record = _record("s", model="m", params=data)
    return search.extract([record]).of(record)


def test_extracted_words_are_what_the_document_of_the_text_holds() -> None:
    deep: dict[str, Any] = {"w": "bottom"}
    for i in range(80):
        deep = {"w": f"level{i}", "next": deep}
    data = {
        "arguments": json.dumps({"note": "window seat", "seat_id": "12A"}),
        "nan": '[NaN, "Pestana"]',  # json.loads reads it, orjson does not
        "surrogate": '["\\ud800 lone"]',
        "spaced": '   {"padded": "Lisbon"}',
        "again": "WINDOW Seat",
        "x_id": "hidden",
        "deep": deep,
        "greek": "ΟΔΟΣ Σίσυφος",
    }
    record = _record("s", model="m", params=data)
    words = search.extract([record]).of(record)
    assert words == search.document([search.text_of(record.data)]).split()
    assert {"window", "seat", "pestana", "lone", "lisbon", "οδος", "level79"} <= set(words)
    assert "12a" not in words
    assert "hidden" not in words
    assert "bottom" not in words  # deeper than the walk goes


def test_a_truncated_text_keeps_its_repeats_in_the_count() -> None:
    # Repeats are dropped only when the text is not cut: cut, they take their room.
    long = "word " * (search._MAX_TEXT // 10)
    data = [long, long, long, "tailword"]
    record = _record("s", params=data)
    words = search.extract([record]).of(record)
    assert words == search.document([search.text_of(record.data)]).split()
    assert "tailword" not in _words(data)
    assert "tailword" in _words([long, "tailword"])


def test_a_batch_document_joins_the_records_words_in_order() -> None:
    records = [_record("s", prompt=f"hotel {i} Lisbon", completion="Pestana") for i in range(5)]
    extracted = search.extract(records)
    texts = [search.text_of(r.data) for r in records]
    joined = search._joined(extracted.of(r) for r in records)
    assert joined == search.document(texts)
    # A record it did not see (another object with equal fields) is extracted then.
    twin = records[0]._replace(data=dict(records[0].data, prompt="other words"))
    assert "other" in extracted.of(twin)


# Strings a batch repeats: words shared between them, a JSON string, unicode, a long one.
_POOL = st.sampled_from(
    [
        "Plan two days in Rome",
        "rome ROME Rome,days",
        '{"city": "Lisbon", "days": 2}',
        '["Pestana", "Lisbon"]',
        "ΟΔΟΣ Σίσυφος",
        "x" * 150 + " short",
        "",
        "web_search",
        # JSON in JSON, and JSON whose text runs past what one event indexes.
        json.dumps({"messages": json.dumps(["inner Porto"])}),
        json.dumps(["word " * (search._MAX_TEXT // 4), "tailword"]),
    ]
)
_DATA = st.recursive(
    st.one_of(_POOL, st.integers(), st.none()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["a", "b", "c_id"]), inner)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_DATA, min_size=1, max_size=12))
def test_a_batchs_repeated_strings_are_split_once_and_find_the_same_words(
    datas: list[Any],
) -> None:
    # One batch shares its splits (by string, by a record's strings, and the strings found
    # in a JSON text): each record's words, and a document of several, are what splitting
    # its own text finds.
    records = [_record("s", params=data) for data in datas]
    extracted = search.extract(records)
    texts = [search.text_of(r.data) for r in records]
    for record, text in zip(records, texts, strict=True):
        assert extracted.of(record) == search.document([text]).split()
    assert search._joined(extracted.of(r) for r in records) == search.document(texts)


def test_one_request_keeps_every_sessions_models_and_documents(db_url: str) -> None:
    storage = Storage.open(db_url)
    try:
        project = storage.create_project("p").id
        ids = sorted(str(uuid.uuid4()) for _ in range(3))
        for i, session_id in enumerate(ids):
            storage.create_or_attach_session(
                project, SessionFields(session_id=session_id, tags=(f"tag{i}",))
            )
        first = _record(ids[0], model="zeta")
        storage.insert_events(project, ids[0], [first])
        batch = {
            ids[0]: [_record(ids[0], model=m) for m in ("beta", "zeta", "alpha")],
            ids[1]: [_record(ids[1], model=m) for m in ("beta", "beta")],
            ids[2]: [_record(ids[2], event_type="actions")],
        }
        with storage.write() as conn:
            conn.execute(sessions.update().where(sessions.c.id == ids[1]).values(user_id="ana"))
            search.index(conn, events=batch, sessions_changed=ids, extracted=search.extract([]))
            search.index(conn, events=batch)  # listed already: nothing changes
        with storage.read() as conn:
            models = dict(conn.execute(sa.select(sessions.c.id, sessions.c.models)).all())
            docs = {
                r.session_id: r.body
                for r in conn.execute(
                    sa.select(search_docs.c.session_id, search_docs.c.body).where(
                        search_docs.c.event_id == ""
                    )
                )
            }
        assert json.loads(models[ids[0]]) == ["zeta", "alpha", "beta"]
        assert json.loads(models[ids[1]]) == ["beta"]
        assert models[ids[2]] is None
        assert sorted(docs) == ids
        assert "ana" in docs[ids[1]].split()
        assert "tag1" in docs[ids[1]].split()
        with storage.write() as conn:
            conn.execute(sessions.delete().where(sessions.c.id == ids[2]))
            search.index(conn, sessions_changed=[ids[2]])
        with storage.read() as conn:
            left = conn.execute(
                sa.select(search_docs.c.id).where(
                    search_docs.c.session_id == ids[2], search_docs.c.event_id == ""
                )
            ).all()
        assert left == []
    finally:
        storage.close()
