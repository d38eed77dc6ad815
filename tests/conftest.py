"""Shared fixtures: a throwaway PostgreSQL cluster and a database URL per test.

``db_url`` is parametrised over SQLite and PostgreSQL; every test that uses it runs on
both. The PostgreSQL cluster is started once per test run from the binaries under
``/usr/lib/postgresql/*/bin`` (as the ``postgres`` user: PostgreSQL refuses to run as
root), or taken from ``AGENTWATCH_TEST_PG_URL`` (a URL of a role allowed to create
databases). If it cannot be started, the PostgreSQL variants FAIL with the reason: a run
that silently skipped them would claim a coverage it does not have.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentwatch import Client
from agentwatch.server.pgcluster import throwaway_cluster
from agentwatch.server.testing import TestServer, inprocess_server
from tests.otel_globals import restored_global_provider

PG_URL_ENV = "AGENTWATCH_TEST_PG_URL"
_TEMPLATE = "agentwatch_template"


@dataclass
class PgCluster:
    """A PostgreSQL server tests may create databases on."""

    admin_url: str  # postgresql+psycopg://... of a database to run CREATE DATABASE from

    def url_for(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    def execute(self, sql: str) -> None:
        import sqlalchemy as sa

        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(sql))
        finally:
            engine.dispose()


@contextlib.contextmanager
def _local_cluster() -> Iterator[PgCluster]:
    """A throwaway cluster (no fsync: nothing in it is kept), for this test run."""
    with throwaway_cluster(durable=False, max_connections=300) as url:
        yield PgCluster(url.replace("postgresql://", "postgresql+psycopg://", 1))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster | str]:
    """The cluster, or the reason it could not be started (tests that need it fail with it)."""
    given = os.environ.get(PG_URL_ENV)
    with contextlib.ExitStack() as stack:
        try:
            cluster = PgCluster(given) if given else stack.enter_context(_local_cluster())
            _make_template(cluster)
        except Exception as exc:  # reported by every PostgreSQL test, not swallowed
            yield f"PostgreSQL could not be started: {exc}"
            return
        yield cluster
        cluster.execute(f"DROP DATABASE IF EXISTS {_TEMPLATE} WITH (FORCE)")


def _make_template(cluster: PgCluster) -> None:
    """A migrated database that each test copies (CREATE DATABASE ... TEMPLATE is fast)."""
    from agentwatch.server.storage import Storage

    cluster.execute(f"DROP DATABASE IF EXISTS {_TEMPLATE} WITH (FORCE)")
    cluster.execute(f"CREATE DATABASE {_TEMPLATE}")
    Storage.open(cluster.url_for(_TEMPLATE)).close()


def require_pg(pg_cluster: PgCluster | str) -> PgCluster:
    if isinstance(pg_cluster, str):
        pytest.fail(pg_cluster, pytrace=False)
    return pg_cluster


@pytest.fixture
def pg_url(pg_cluster: PgCluster | str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test, dropped afterwards."""
    cluster = require_pg(pg_cluster)
    name = "t_" + uuid.uuid4().hex
    cluster.execute(f"CREATE DATABASE {name} TEMPLATE {_TEMPLATE}")
    try:
        yield cluster.url_for(name)
    finally:
        cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'agentwatch.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


# -- the SDK against the real server (tests/sdk, tests/instrumentation) ---------------


@pytest.fixture(autouse=True)
def _global_tracer_provider() -> Iterator[None]:
    """Each test starts with the global OpenTelemetry provider the previous one found
    (clients capture the application's spans: tests/otel_globals.py)."""
    with restored_global_provider():
        yield


@pytest.fixture
def server() -> Iterator[TestServer]:
    """The real server, in-process, on a fresh SQLite file."""
    with inprocess_server() as srv:
        yield srv


@pytest.fixture
def make_client(server: TestServer) -> Iterator[Callable[..., Client]]:
    """Build clients that talk to ``server``; every one is shut down after the test."""
    made: list[Client] = []

    def make(**settings: Any) -> Client:
        settings.setdefault("api_key", server.api_key)
        settings.setdefault("endpoint", server.url)
        settings.setdefault("handle_signals", False)
        settings.setdefault("flush_interval", 0.05)
        settings.setdefault("transport", server.transport)
        client = Client(**settings)
        made.append(client)
        return client

    yield make
    for client in made:
        client.shutdown(timeout=5)


@pytest.fixture
def client(make_client: Callable[..., Client]) -> Client:
    return make_client()
