"""Stored event JSON: what a client sent is what reads give back (orjson writes it)."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

from agentwatch.server import jsonbody
from agentwatch.server.storage.ingest import dump_json
from agentwatch.server.testing import TestServer

from .conftest import V2

PAYLOAD: dict[str, Any] = {
    "unicode": "Grüße, 東京, مرحبا, e\u0301, 🚀, \u2028\u2029, \u007f",
    "escapes": 'quote " backslash \\ slash / tab \t newline \n nul \u0000 bell \u0007',
    "big_ints": [2**63 - 1, 2**63, 2**64, 2**70, -(2**63), -(2**64) - 1, 10**40],
    "floats": [0.1, -0.0, 1e16, 1e-7, 1.5e308, 5e-324, 123456789.123456789, 2.5],
    "nested": {"a": [1, [2, [3, {"b": None, "c": True, "d": False}]]], "": {}, "e": []},
    'key with \u00e9 and "quotes"': "value",
}


def _post(v2: V2, jwt: str, body: str) -> int:
    headers = {"Authorization": f"Bearer {jwt}", "Content-Type": "application/json"}
    return v2.http.post("/v2/create_events", content=body, headers=headers).status_code


def test_event_json_reads_back_exactly(v2: V2, server: TestServer) -> None:
    session_id, jwt = v2.create_session()
    event = {"id": "e1", "event_type": "actions", "params": PAYLOAD, "returns": PAYLOAD["big_ints"]}
    assert _post(v2, jwt, json.dumps({"events": [event]})) == 200
    [stored] = server.session(session_id)["events"]
    assert stored["params"] == PAYLOAD
    assert stored["returns"] == PAYLOAD["big_ints"]
    assert all(
        type(a) is type(b)
        for a, b in zip(stored["params"]["floats"], PAYLOAD["floats"], strict=True)
    )
    assert math.copysign(1, stored["params"]["floats"][1]) == -1  # -0.0 stays negative


def test_non_finite_numbers_are_stored_as_strings(v2: V2, server: TestServer) -> None:
    session_id, jwt = v2.create_session()
    body = (
        '{"events": [{"id": "e1", "event_type": "actions", '
        '"params": {"n": NaN, "i": [Infinity, -Infinity], "o": 1e999, "f": 1.5}}]}'
    )
    assert _post(v2, jwt, body) == 200
    [stored] = server.session(session_id)["events"]
    assert stored["params"] == {"n": "nan", "i": ["inf", "-inf"], "o": "inf", "f": 1.5}


def test_non_finite_token_counts_are_refused_as_before(v2: V2) -> None:
    _, jwt = v2.create_session()
    body = '{"events": [{"id": "e1", "event_type": "llms", "prompt_tokens": NaN}]}'
    headers = {"Authorization": f"Bearer {jwt}", "Content-Type": "application/json"}
    answer = v2.http.post("/v2/create_events", content=body, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["refused"] == [
        {
            "index": 0,
            "id": "e1",
            "message": "events[0].prompt_tokens: expected a whole number of tokens >= 0, got NaN",
        }
    ]


def test_loads_marks_only_non_finite_numbers() -> None:
    parsed = jsonbody.loads(b'{"a": NaN, "b": -Infinity, "c": 1e400, "d": 0.5, "e": 7}')
    assert [type(parsed[k]) for k in "abcde"] == [jsonbody.NonFinite] * 3 + [float, int]
    assert dump_json(parsed) == '{"a":"nan","b":"-inf","c":"inf","d":0.5,"e":7}'


def test_dump_json_falls_back_for_what_orjson_refuses() -> None:
    assert json.loads(dump_json({"big": 2**64, "x": [jsonbody.NonFinite("nan")]})) == {
        "big": 2**64,
        "x": ["nan"],
    }
    assert dump_json({"s": "\ud800"}) == '{"s":"\ud800"}'  # a lone surrogate, as json writes it


def test_event_ids_derived_from_content_are_unchanged(v2: V2, server: TestServer) -> None:
    # Events sent without an id get one derived from their content: a retry must get the same.
    session_id, jwt = v2.create_session()
    body = '{"events": [{"event_type": "errors", "timestamp": "2025-01-24T15:43:23Z", "x": NaN}]}'
    assert _post(v2, jwt, body) == 200
    assert _post(v2, jwt, body) == 200
    [stored] = server.session(session_id)["events"]
    raw = {"event_type": "errors", "timestamp": "2025-01-24T15:43:23Z", "x": float("nan")}
    content = json.dumps(raw, sort_keys=True, default=str)
    assert stored["id"] == str(
        uuid.uuid5(uuid.UUID("5b0c1a6e-3f7d-4d51-9a7e-2f1d0c9b8a71"), session_id + content)
    )
