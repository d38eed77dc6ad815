"""A database outage answers 503 + Retry-After, and retried batches land once (reliability.md test 20)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from agentwatch.server.testing import inprocess_server

from ..conftest import PgCluster, require_pg
from .conftest import V2, event


@pytest.mark.postgres
def test_postgresql_outage_is_503_then_retry_lands_once(
    pg_url: str, pg_cluster: PgCluster | str
) -> None:
    cluster = require_pg(pg_cluster)
    database = sa.engine.make_url(pg_url).database
    with inprocess_server(pg_url) as server, V2(server) as v2:
        session_id, jwt = v2.create_session()
        batch = [event("llms", model="gpt-4o", prompt_tokens=10) for _ in range(5)]
        cluster.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
        cluster.execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
        )
        try:
            down = v2.events(jwt, batch)
            assert down.status_code == 503
            assert down.headers["Retry-After"] == "1"
            assert down.json() == {
                "path": "/v2/create_events",
                "message": "database unavailable, retry later",
            }
        finally:
            cluster.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
        for _ in range(2):  # the SDK's retry, and a duplicate of it
            assert v2.events(jwt, batch).status_code == 200
        session = server.session(session_id)["session"]
        assert session["event_count"] == 5
        assert session["tokens"]["prompt"] == 50
