"""The overview's numbers, from the rollups kept at ingest, on SQLite and PostgreSQL: what is
stored per bucket, what the overview answers for a range in a time zone, how updates, trace
moves and counters past BIGINT behave, the migration's backfill, and bad range input."""

from __future__ import annotations

import datetime as dt
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command

from agentwatch.server.storage import Storage, rollups
from agentwatch.server.storage.migrate import alembic_config
from agentwatch.server.storage.schema import events, rollup_llm, rollup_sessions, sessions
from agentwatch.server.testing import TestServer
from tests.server.conftest import V2
from tests.server.otlp_requests import PROTOBUF, SECOND, new_span_id, post, span, traces_request

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 20, 10, 10, tzinfo=UTC)  # 15:40 in UTC+05:30


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def llm(model: str | None, start: dt.datetime, ms: int | None, prompt: int = 100) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "event_type": "llms",
        "prompt_tokens": prompt,
        "completion_tokens": 10,
        "init_timestamp": start.isoformat(),
        "end_timestamp": None
        if ms is None
        else (start + dt.timedelta(milliseconds=ms)).isoformat(),
    }
    if model is not None:
        event["model"] = model
    return event


def overview(http: httpx.Client, **params: str) -> Any:
    answer = http.get("/overview", params={"format": "json", **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def cells(server: TestServer, table: sa.Table) -> dict[tuple[Any, ...], Any]:
    keys = [c.name for c in table.primary_key.columns]
    with server.storage.read() as conn:
        return {tuple(getattr(r, k) for k in keys): r for r in conn.execute(sa.select(table))}


def seed(v2: V2) -> list[tuple[str, str]]:
    """Three sessions on 2026-11-20: a Success with gpt-4o and its dated version, a Fail
    with errors and an unpriced model, and one still running the next (local) day."""
    a = v2.create_session(init_timestamp=at(0).isoformat())
    v2.events(
        a[1],
        [
            llm("gpt-4o", at(1), 800),
            llm("gpt-4o", at(2), 1200),
            llm("gpt-4o-2024-07-18", at(3), 3000, prompt=1000),
        ],
    ).raise_for_status()
    end = {"end_state": "Success", "end_timestamp": at(10).isoformat()}
    v2.post_jwt("/v2/update_session", a[1], {"session": end}).raise_for_status()
    b = v2.create_session(init_timestamp=at(60).isoformat())
    error = {"id": str(uuid.uuid4()), "event_type": "errors", "init_timestamp": at(61).isoformat()}
    v2.events(b[1], [llm("my-local-llama", at(61), 90), error]).raise_for_status()
    end = {"end_state": "Fail", "end_timestamp": at(62).isoformat()}
    v2.post_jwt("/v2/update_session", b[1], {"session": end}).raise_for_status()
    c = v2.create_session(init_timestamp=at(60 * 9).isoformat())  # 01:10 the next local day
    v2.events(c[1], [llm(None, at(60 * 9 + 1), None)]).raise_for_status()
    return [a, b, c]


def test_rollup_rows_hold_each_bucket_and_model(v2: V2, server: TestServer) -> None:
    seed(v2)
    project = server.project_id
    bucket = int(dt.datetime(2026, 11, 20, 10, 0, tzinfo=UTC).timestamp())
    llm_cells = cells(server, rollup_llm)
    gpt = llm_cells[(project, bucket, "", "gpt-4o")]
    assert (gpt.calls, gpt.prompt_tokens, gpt.completion_tokens, gpt.unpriced) == (2, 200, 20, 0)
    assert gpt.cost_pico == 2 * (100 * 2_500_000 + 10 * 10_000_000)  # $2.50 / $10 per 1M
    assert getattr(gpt, f"h{rollups.log_bucket(800)}") == 1
    assert getattr(gpt, f"h{rollups.log_bucket(1200)}") == 1
    llama = llm_cells[(project, bucket + 3600, "", "my-local-llama")]
    assert (llama.calls, llama.cost_pico, llama.unpriced) == (1, 0, 1)
    no_end = llm_cells[(project, bucket + 9 * 3600, "", "")]
    assert no_end.calls == 1
    assert sum(getattr(no_end, h) for h in rollups.HISTOGRAM) == 0  # no end: no latency
    session_cells = cells(server, rollup_sessions)
    first = session_cells[(project, bucket, "")]
    assert (first.sessions, first.success, first.errored, first.llms) == (1, 1, 0, 3)
    assert getattr(first, f"h{rollups.log_bucket(10 * 60_000)}") == 1  # 10 minutes long
    second = session_cells[(project, bucket + 3600, "")]
    assert (second.sessions, second.fail, second.errored, second.errors) == (1, 1, 1, 1)
    assert second.unpriced_llms == 1
    running = session_cells[(project, bucket + 9 * 3600, "")]
    assert (running.sessions, running.running) == (1, 1)


def test_overview_of_a_day_by_the_hour_in_a_time_zone(v2: V2, server: TestServer) -> None:
    seed(v2)
    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        day = overview(http, **{"from": "2026-11-20", "to": "2026-11-20", "tz": "+05:30"})
    assert day["step"] == "hour"
    assert day["tz"] == "+05:30"
    assert day["since"] == "2026-11-19T18:30:00+00:00"
    assert len(day["buckets"]) == 24
    assert day["buckets"][15]["start"] == "2026-11-20T15:00:00+05:30"
    by_hour = {b["start"][11:13]: b for b in day["buckets"] if b["sessions"]}
    assert sorted(by_hour) == ["15", "16"]  # the running one is on the 21st, local time
    assert by_hour["15"]["end_states"] == {"Success": 1, "Fail": 0, "Indeterminate": 0}
    assert by_hour["16"]["errored_sessions"] == 1
    assert by_hour["16"]["error_rate"] == 1.0
    assert by_hour["16"]["cost"] is None  # its one call is unpriced
    assert by_hour["16"]["unpriced_calls"] == 1
    assert by_hour["15"]["llm_calls"] == 3
    assert by_hour["15"]["cost_by_model"] == {"gpt-4o": 0.0033}  # 3 calls, versions added
    models = {m["model"]: m for m in day["models"]}
    assert list(models) == ["gpt-4o", "my-local-llama"]
    gpt = models["gpt-4o"]
    assert (gpt["calls"], gpt["prompt_tokens"], gpt["unpriced_calls"]) == (3, 1200, 0)
    assert [(v["model"], v["calls"]) for v in gpt["versions"]] == [
        ("gpt-4o", 2),
        ("gpt-4o-2024-07-18", 1),
    ]
    middle = rollups.bucket_value_ms(rollups.log_bucket(1200)) / 1000
    assert gpt["latency_p50"] == pytest.approx(middle)  # nearest rank of 800, 1200, 3000
    assert gpt["latency_p99"] == pytest.approx(
        rollups.bucket_value_ms(rollups.log_bucket(3000)) / 1000
    )
    assert abs(gpt["latency_p50"] - 1.2) / 1.2 < 0.13  # within the histogram's 12%
    assert models["my-local-llama"]["cost"] is None
    assert models["my-local-llama"]["versions"] == []
    totals = day["totals"]
    assert (totals["sessions"], totals["errored_sessions"], totals["unpriced_calls"]) == (2, 1, 1)
    assert totals["cost"] == 0.0033
    assert totals["llm_calls"] == 4


def sessions_at(v2: V2, *starts: dt.datetime) -> None:
    for start in starts:
        v2.create_session(init_timestamp=start.isoformat())


def test_days_follow_daylight_saving_time_in_a_named_zone(
    v2: V2, other_project: V2, server: TestServer
) -> None:
    # Berlin left summer time on 2026-10-25 at 01:00 UTC (03:00 CEST -> 02:00 CET).
    sessions_at(
        v2,
        dt.datetime(2026, 10, 21, 22, 30, tzinfo=UTC),  # 00:30 CEST on the 22nd
        dt.datetime(2026, 10, 25, 22, 30, tzinfo=UTC),  # 23:30 CET on the 25th (25 hours)
        dt.datetime(2026, 10, 27, 23, 30, tzinfo=UTC),  # 00:30 CET on the 28th
    )
    # Another project's sessions in both stretches are read by neither segment.
    sessions_at(
        other_project,
        dt.datetime(2026, 10, 22, 10, tzinfo=UTC),
        dt.datetime(2026, 10, 27, 10, tzinfo=UTC),
    )
    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        named = overview(http, **{"from": "2026-10-20", "to": "2026-10-29", "tz": "Europe/Berlin"})
        fixed = overview(http, **{"from": "2026-10-20", "to": "2026-10-29", "tz": "+01:00"})
    assert named["tz"] == "Europe/Berlin"
    assert named["since"] == "2026-10-19T22:00:00+00:00"  # midnight CEST
    assert named["until"] == "2026-10-29T23:00:00+00:00"  # midnight CET
    starts = [b["start"] for b in named["buckets"]]
    assert starts[5:7] == ["2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00"]
    assert len(starts) == 10
    by_day = {b["start"][:10]: b["sessions"] for b in named["buckets"] if b["sessions"]}
    assert by_day == {"2026-10-22": 1, "2026-10-25": 1, "2026-10-28": 1}
    # Today's offset all along puts the summer session on the day before.
    fixed_days = {b["start"][:10]: b["sessions"] for b in fixed["buckets"] if b["sessions"]}
    assert fixed_days == {"2026-10-21": 1, "2026-10-25": 1, "2026-10-28": 1}
    assert named["totals"]["sessions"] == fixed["totals"]["sessions"] == 3


def test_hours_across_a_change_count_every_session_once(v2: V2, server: TestServer) -> None:
    # New York fell back on 2026-11-01 at 06:00 UTC: 01:00-02:00 local came twice.
    sessions_at(
        v2,
        dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # 01:30 EDT
        dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC),  # 01:30 EST
        dt.datetime(2026, 11, 1, 7, 30, tzinfo=UTC),  # 02:30 EST
    )
    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        day = overview(http, **{"from": "2026-11-01", "to": "2026-11-01", "tz": "America/New_York"})
    assert day["step"] == "hour"
    assert day["since"] == "2026-11-01T04:00:00+00:00"
    assert day["until"] == "2026-11-02T05:00:00+00:00"  # 25 hours
    # The repeated hour is one slot (both of its hours), the 24 local hours of the day.
    assert len(day["buckets"]) == 24
    hours = {b["start"]: b["sessions"] for b in day["buckets"] if b["sessions"]}
    assert hours == {"2026-11-01T01:00:00-04:00": 2, "2026-11-01T02:00:00-05:00": 1}
    assert day["totals"]["sessions"] == 3


def test_a_week_by_the_day_and_unnamed_models(v2: V2, server: TestServer) -> None:
    seed(v2)
    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        week = overview(http, **{"from": "2026-11-16", "to": "2026-11-22", "tz": "+05:30"})
        utc = overview(http, **{"from": "2026-11-16", "to": "2026-11-22"})
    assert week["step"] == "day"
    assert [b["start"][:10] for b in week["buckets"]][4:6] == ["2026-11-20", "2026-11-21"]
    assert [b["sessions"] for b in week["buckets"]] == [0, 0, 0, 0, 2, 1, 0]
    assert week["buckets"][5]["running"] == 1
    assert [b["sessions"] for b in utc["buckets"]] == [
        0,
        0,
        0,
        0,
        3,
        0,
        0,
    ]  # all on the 20th in UTC
    assert "(unknown)" in {m["model"] for m in week["models"]}


def test_an_updated_event_moves_its_contribution(v2: V2, server: TestServer) -> None:
    _session_id, jwt = v2.create_session(init_timestamp=at(0).isoformat())
    first = llm("gpt-4o", at(1), 500)
    v2.events(jwt, [first]).raise_for_status()
    moved = {
        **first,
        "model": "claude-3-5-haiku",
        "init_timestamp": at(100).isoformat(),
        "end_timestamp": (at(100) + dt.timedelta(seconds=4)).isoformat(),
        "prompt_tokens": 7,
    }
    v2.post_jwt("/v2/update_events", jwt, {"events": [moved]}).raise_for_status()
    llm_cells = {k: r for k, r in cells(server, rollup_llm).items() if r.calls}
    assert [(k[3], r.calls, r.prompt_tokens) for k, r in llm_cells.items()] == [
        ("claude-3-5-haiku", 1, 7)
    ]
    (key,) = llm_cells
    assert key[1] == int(dt.datetime(2026, 11, 20, 11, 45, tzinfo=UTC).timestamp())
    assert getattr(llm_cells[key], f"h{rollups.log_bucket(4000)}") == 1
    # An earlier start moves the session to an earlier bucket; ending it changes its state.
    body = {"session": {"init_timestamp": at(-120).isoformat(), "end_state": "Fail"}}
    v2.post_jwt("/v2/update_session", jwt, body).raise_for_status()
    live = {k: r for k, r in cells(server, rollup_sessions).items() if r.sessions}
    (((_project, bucket, _), row),) = live.items()
    assert bucket == int(dt.datetime(2026, 11, 20, 8, 0, tzinfo=UTC).timestamp())
    assert (row.sessions, row.fail, row.running) == (1, 1, 0)


def test_a_trace_that_moves_counts_its_session_once(server: TestServer) -> None:
    trace = uuid.uuid4().hex
    start = int(at(0).timestamp()) * SECOND
    chat = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 1,
    }
    child = span(trace, new_span_id(), start=start, end=start + SECOND, attributes=chat)
    named = span(
        trace,
        new_span_id(),
        start=start + SECOND,
        end=start + 3 * SECOND,
        attributes={**chat, "session.id": "conversation-7"},
    )
    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        for spans in ([child], [named], [child]):  # the first one again: stored once
            body = traces_request(spans, PROTOBUF)
            post(http, "/v1/traces", body, PROTOBUF, server.api_key).raise_for_status()
        day = overview(http, **{"from": "2026-11-20", "to": "2026-11-20"})
    assert day["totals"]["sessions"] == 1
    assert day["totals"]["llm_calls"] == 2
    assert day["models"][0]["calls"] == 2
    with server.storage.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sessions)).scalar_one() == 1


def test_counters_past_bigint_saturate_and_later_writes_still_land(
    v2: V2, server: TestServer
) -> None:
    session_id, jwt = v2.create_session(init_timestamp=at(0).isoformat())
    huge = 2**62 - 1  # the most one event may carry
    for n in range(3):  # 3 x (2**62 - 1) > 2**63 - 1
        batch = [
            llm("gpt-4o", at(1 + n), 10, prompt=huge),
            llm("gpt-4o", at(1 + n), 10, prompt=huge),
        ]
        assert v2.events(jwt, batch).status_code == 200
    assert v2.events(jwt, [llm("gpt-4o", at(4), 10)]).status_code == 200
    summary = v2.get(f"/api/sessions/{session_id}").json()["session"]
    assert summary["tokens"]["prompt"] == 2**63 - 1
    assert summary["counts"]["llms"] == 7
    (row,) = [r for r in cells(server, rollup_llm).values() if r.calls]
    assert row.prompt_tokens == 2**63 - 1
    assert row.calls == 7
    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        day = overview(http, **{"from": "2026-11-20", "to": "2026-11-20"})
    assert day["models"][0]["prompt_tokens"] == 2**63 - 1
    assert day["models"][0]["calls"] == 7


def test_a_parent_project_sees_its_childrens_sessions(
    v2: V2, other_project: V2, server: TestServer
) -> None:
    body = {"session": {"session_id": str(uuid.uuid4()), "init_timestamp": at(0).isoformat()}}
    headers = {**other_project.key_headers(), "X-Agentops-Parent-Key": v2.api_key}
    answer = other_project.http.post("/v2/create_session", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    jwt = answer.json()["jwt"]
    other_project.events(jwt, [llm("gpt-4o", at(1), 10)]).raise_for_status()
    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        own = overview(
            http, **{"from": "2026-11-20", "to": "2026-11-20", "project": server.project_id}
        )
    assert own["totals"]["sessions"] == 1
    assert own["totals"]["llm_calls"] == 1


def test_bad_ranges_answer_400_naming_the_parameter(server: TestServer) -> None:
    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        for params, name in [
            ({"tz": "Europe/Atlantis"}, "tz"),
            ({"tz": "../../etc/passwd"}, "tz"),
            ({"tz": "localtime"}, "tz"),
            ({"tz": "+05:07"}, "tz"),
            ({"tz": "+15:00"}, "tz"),
            ({"tz": "+05:75"}, "tz"),
            ({"from": "yesterday"}, "from"),
            ({"from": "0001-01-01", "tz": "+05:00"}, "from"),
            ({"from": "2026-11-20", "to": "2026-11-19"}, "to"),
            ({"from": "2020-01-01", "to": "2026-01-01"}, "to"),
            ({"to": "2026-11-19"}, "from"),
        ]:
            answer = http.get("/overview", params={"format": "json", **params})
            assert answer.status_code == 400, (params, answer.text)
            assert answer.json()["message"].startswith(f"{name}:"), answer.json()
        assert http.get("/overview", params={"hours": "49"}).status_code == 422
        assert http.get("/overview", params={"tz": "+" * 500}).status_code == 422
        for tz in ("Z", "+05:45", "-0330", "+14:00", "-12:00", "Europe/Paris", "Etc/GMT+5"):
            assert http.get("/overview", params={"format": "json", "tz": tz}).status_code == 200


def test_the_migration_backfills_rows_stored_before_it(db_url: str) -> None:
    storage = Storage.open(db_url)
    try:
        with storage.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0007")
        project = storage.create_project("old")
        sid = str(uuid.uuid4())
        with storage.write() as conn:
            conn.execute(
                sessions.insert().values(
                    id=sid,
                    project_id=project.id,
                    init_timestamp=at(0),
                    end_timestamp=at(30),
                    end_state="Fail",
                    created_at=at(0),
                    updated_at=at(30),
                    last_event_at=at(30),
                    event_count=2,
                    llms=2,
                    errors=1,
                    prompt_tokens=300,
                    completion_tokens=20,
                    cost_pico=5,
                    unpriced_llms=1,
                )
            )
            common = {
                "session_id": sid,
                "project_id": project.id,
                "event_type": "llms",
                "data": "{}",
                "received_at": at(30),
                "completion_tokens": 10,
            }
            conn.execute(
                events.insert(),
                [
                    {
                        **common,
                        "id": "e1",
                        "init_timestamp": at(1),
                        "end_timestamp": at(1.05),
                        "model": "gpt-4o",
                        "prompt_tokens": 100,
                        "cost_pico": 5,
                    },
                    {
                        **common,
                        "id": "e2",
                        "init_timestamp": at(20),
                        "end_timestamp": None,
                        "model": "mystery",
                        "prompt_tokens": 200,
                        "cost_pico": None,
                    },
                ],
            )
        with storage.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        with storage.read() as conn:
            llm_cells, session_cells = rollups.recompute(conn)
            stored = {tuple(r[:4]): r for r in conn.execute(sa.select(rollup_llm))}
            stored_sessions = list(conn.execute(sa.select(rollup_sessions)))
        bucket = int(dt.datetime(2026, 11, 20, 10, 0, tzinfo=UTC).timestamp())
        gpt = stored[(project.id, bucket, "", "gpt-4o")]
        assert (gpt.calls, gpt.prompt_tokens, gpt.cost_pico, gpt.unpriced) == (1, 100, 5, 0)
        assert getattr(gpt, f"h{rollups.log_bucket(3000)}") == 1
        mystery = stored[(project.id, bucket + 1800, "", "mystery")]
        assert (mystery.calls, mystery.unpriced) == (1, 1)
        (row,) = stored_sessions
        assert (row.sessions, row.fail, row.errored, row.unpriced_llms) == (1, 1, 1, 1)
        assert getattr(row, f"h{rollups.log_bucket(30 * 60_000)}") == 1
        assert set(llm_cells) == set(stored)
        assert len(session_cells) == 1
    finally:
        storage.close()


def test_a_trace_of_huge_token_counts_moves_and_recounts(server: TestServer) -> None:
    """A move recounts both sessions from their events: sums past BIGINT saturate there too."""
    trace = uuid.uuid4().hex
    start = int(at(0).timestamp()) * SECOND
    chat = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 2**62 - 1,
        "gen_ai.usage.output_tokens": 1,
    }
    children = [
        span(trace, new_span_id(), start=start, end=start + SECOND, attributes=chat)
        for _ in range(3)
    ]
    named = span(
        trace,
        new_span_id(),
        start=start,
        end=start + SECOND,
        attributes={"gen_ai.operation.name": "invoke_agent", "session.id": "big"},
    )
    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        for spans in (children, [named]):
            answer = post(
                http, "/v1/traces", traces_request(spans, PROTOBUF), PROTOBUF, server.api_key
            )
            assert answer.status_code == 200, answer.text
        day = overview(http, **{"from": "2026-11-20", "to": "2026-11-20"})
    assert day["totals"]["sessions"] == 1
    assert day["models"][0]["prompt_tokens"] == 2**63 - 1
    with server.storage.read() as conn:
        (tokens,) = conn.execute(sa.select(sessions.c.prompt_tokens)).one()
    assert tokens == 2**63 - 1


def test_concurrent_batches_into_shared_cells_stay_exact(v2: V2, server: TestServer) -> None:
    """Batches of many sessions at once, every one moving the same bucket's cells with
    different latency columns: no deadlock, no lost update (PostgreSQL runs them at once)."""
    made = [v2.create_session(init_timestamp=at(0).isoformat()) for _ in range(8)]
    models = ("gpt-4o", "claude-3-5-haiku", "gpt-4o-mini")

    def send(index: int) -> list[int]:
        _, jwt = made[index]
        codes = []
        with V2(server) as client:
            for n in range(6):
                batch = [
                    llm(models[(index + j) % 3], at(1), 10 * (index + 1) * (j + 1) + n)
                    for j in range(6)
                ]
                codes.append(client.events(jwt, batch).status_code)
        return codes

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = [c for result in pool.map(send, range(8)) for c in result]
    assert set(codes) == {200}
    with server.storage.read() as conn:
        want_llm, want_sessions = rollups.recompute(conn)
    for table, want in ((rollup_llm, want_llm), (rollup_sessions, want_sessions)):
        stored = cells(server, table)
        assert set(stored) == set(want)
        for key, values in want.items():
            assert {n: int(getattr(stored[key], n)) for n in values} == values
    assert sum(v["calls"] for v in want_llm.values()) == 8 * 6 * 6
