"""Should a value slip past the validation layer, the database's refusal is a 4xx with its
reason (a refused value 422, a constraint 409), never a 500, and not a 503 that tells the
client to retry what will be refused again. Real errors of both databases."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from agentwatch.server.storage.schema import projects
from agentwatch.server.testing import TestServer
from tests.server.conftest import V2


def _failing(server: TestServer, statement: Any) -> Any:
    def record_developer_error(project_id: str, values: dict[str, Any]) -> None:
        with server.storage.write() as conn:
            conn.execute(statement)

    return record_developer_error


def test_a_constraint_the_database_enforces_is_409(
    v2: V2, server: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = projects.insert().values(id="x", name="test", created_at=sa.func.now())
    monkeypatch.setattr(server.storage, "record_developer_error", _failing(server, taken))
    answer = v2.post_key("/v2/developer_errors", {"message": "boom"})
    assert answer.status_code == 409, answer.text
    assert answer.json()["message"].startswith("the request conflicts with what is stored")


def test_a_value_the_database_refuses_is_422(
    v2: V2, server: TestServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite converts any value it is given: it raises no DataError")
    bad = sa.text("SELECT CAST('many' AS integer)")
    monkeypatch.setattr(server.storage, "record_developer_error", _failing(server, bad))
    answer = v2.post_key("/v2/developer_errors", {"message": "boom"})
    assert answer.status_code == 422, answer.text
    assert "does not fit what the database stores" in answer.json()["message"]
    assert "integer" in answer.json()["message"]
