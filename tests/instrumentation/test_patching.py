"""Patching: idempotent, reversible, independent of import order, importing nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import anthropic.resources.messages as anthropic_messages
import openai
import openai.resources.chat.completions as chat
import openai.resources.responses as responses

from agentwatch import Client
from agentwatch.instrumentation import instrument, uninstrument
from agentwatch.server.testing import TestServer
from tests.instrumentation.conftest import stored
from tests.instrumentation.fake_provider import FakeProvider

PATCHED = [
    (chat.Completions, "create"),
    (chat.AsyncCompletions, "create"),
    (responses.Responses, "create"),
    (responses.AsyncResponses, "create"),
    (anthropic_messages.Messages, "create"),
    (anthropic_messages.AsyncMessages, "create"),
    (anthropic_messages.Messages, "stream"),
    (anthropic_messages.AsyncMessages, "stream"),
    (chat.Completions, "parse"),
    (responses.AsyncResponses, "parse"),
]
ROOT = Path(__file__).resolve().parents[2]


def test_instrument_is_idempotent(server: TestServer, client: Client, oai: openai.OpenAI) -> None:
    instrument()
    instrument()
    Client(
        api_key=server.api_key,
        endpoint=server.url,
        transport=server.transport,
        handle_signals=False,
    ).shutdown()
    session = client.start_session()
    oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert len(stored(server, session, "llms")) == 1


def test_uninstrument_restores_the_originals(
    server: TestServer, client: Client, oai: openai.OpenAI
) -> None:
    wrapped = {(owner, name): vars(owner)[name] for owner, name in PATCHED}
    assert all(hasattr(w, "__agentwatch_original__") for w in wrapped.values())
    uninstrument()
    uninstrument()
    for (owner, name), wrapper in wrapped.items():
        assert vars(owner)[name] is wrapper.__agentwatch_original__
    session = client.start_session()
    oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert stored(server, session, "llms") == []
    instrument()
    assert all(vars(owner)[name] is not None for owner, name in PATCHED)
    assert all(hasattr(vars(owner)[name], "__agentwatch_original__") for owner, name in PATCHED)


def _run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_library_imported_after_the_client(provider: FakeProvider) -> None:
    script = """
        import json, sys
        import agentwatch
        from agentwatch.server.testing import inprocess_server

        with inprocess_server() as server:
            client = agentwatch.Client(
                api_key=server.api_key, endpoint=server.url, transport=server.transport,
                handle_signals=False,
            )
            # The client imported neither library (nor the server-side test helpers did).
            assert "openai" not in sys.modules and "anthropic" not in sys.modules
            session = client.start_session()
            import openai
            import anthropic

            loaders = {type(m.__spec__.loader).__name__ for m in (openai, anthropic)}
            oai = openai.OpenAI(api_key="sk", base_url=sys.argv[1] + "/v1", max_retries=0)
            oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
            claude = anthropic.Anthropic(api_key="sk", base_url=sys.argv[1], max_retries=0)
            claude.messages.create(model="claude-3-5-haiku", max_tokens=5, messages=[{"role": "user", "content": "x"}])
            session.end_session("Success")
            events = server.session(session.session_id)["events"]
            client.shutdown()
            print(json.dumps({"models": [e["model"] for e in events], "loaders": sorted(loaders)}))
    """
    out = json.loads(_run(script, provider.url))
    assert out["models"] == ["gpt-4o-mini-2024-07-18", "claude-3-5-haiku-20241022"]
    assert out["loaders"] == ["SourceFileLoader"]  # the import hook left no trace


def test_nothing_is_imported_for_instrumentation() -> None:
    script = """
        import sys
        import agentwatch
        client = agentwatch.Client(api_key="00000000-0000-0000-0000-000000000000",
                                   handle_signals=False)
        client.shutdown(timeout=0)
        print(sorted(m for m in ("openai", "anthropic", "httpx2") if m in sys.modules))
    """
    assert _run(script) == "[]"
