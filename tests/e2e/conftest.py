"""Fixtures of the client tests: the client venvs' pythons and the fake LLM provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e import client_venvs
from tests.instrumentation import fake_provider


@pytest.fixture(scope="session")
def otel_clients_python() -> Path:
    """The venv with the OTel SDK, OpenInference, openai-v2, Langfuse and Logfire (built
    on first use, then reused; ``make otel-client-venvs`` builds it ahead)."""
    return client_venvs.ensure(client_venvs.OTEL_CLIENTS)


@pytest.fixture(scope="session")
def agentops04_python() -> Path:
    """The venv with agentops 0.4.21 and OpenTelemetry 1.36."""
    return client_venvs.ensure(client_venvs.AGENTOPS_04)


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[str]:
    """The fake provider's OpenAI base URL (``.../v1``), on 127.0.0.1."""
    with fake_provider.serve() as provider:
        yield provider.openai_url
