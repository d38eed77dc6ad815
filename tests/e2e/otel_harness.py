"""Run a real OpenTelemetry-speaking client against a real agentwatch server; read its tree.

A test starts the server (``agentwatch.server.testing.uvicorn_server`` on 127.0.0.1, SQLite
or PostgreSQL) and the fake LLM provider (``tests/instrumentation/fake_provider.py``, also
on 127.0.0.1), then :func:`run_script` runs one ``*_script.py`` with the python of the
client's venv (``client_venvs.py``) in a clean environment: only what the test passes, the
variables the README's "Send OpenTelemetry" section tells the user to export, and
``OPENAI_BASE_URL`` pointing at the fake provider. The script's last stdout line is its
JSON result; the test asserts it logged no problem (failed export, refused token) and
then reads what was stored through the JSON read API, as a user would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from agentwatch.server.testing import TestServer

HERE = Path(__file__).resolve().parent
README = HERE.parent.parent / "README.md"
SCRIPT_TIMEOUT_S = 120
# Variables of the test environment that would change what a client does.
_CLIENT_PREFIXES = (
    "AGENTOPS_",
    "AGENTWATCH_",
    "OTEL_",
    "LANGFUSE_",
    "LOGFIRE_",
    "OPENAI_",
    "PHOENIX_",
    "OPENINFERENCE_",
    # Logfire sends nothing by default when it sees it runs under pytest (PYTEST_VERSION).
    "PYTEST_",
)


@dataclass
class ScriptRun:
    result: dict[str, Any]
    stdout: str
    stderr: str


def readme_snippets() -> dict[str, str]:
    """The code blocks of the README's "Send OpenTelemetry" section by the name in the
    ``<!-- snippet: NAME -->`` line above each."""
    section = readme_section("Send OpenTelemetry")
    found = re.findall(r"<!-- snippet: ([\w-]+) -->\n```\w*\n(.*?)```", section, re.DOTALL)
    return dict(found)


def readme_section(title: str) -> str:
    """The text of the README's ``## title`` section, up to the next ``## ``."""
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def readme_exports(snippets: Iterable[str], endpoint: str, api_key: str) -> dict[str, str]:
    """The variables the README's shell ``snippets`` export, as a shell would set them, with
    ``AGENTWATCH_ENDPOINT`` and ``AGENTWATCH_API_KEY`` those of the test server."""
    exports = {"AGENTWATCH_ENDPOINT": endpoint, "AGENTWATCH_API_KEY": api_key}
    for name in snippets:
        for line in readme_snippets()[name].splitlines():
            match = re.fullmatch(r"export (\w+)=(\S+)\s*(#.*)?", line.strip())
            assert match, f"README snippet {name}: not an export line: {line}"
            if match.group(1) not in ("AGENTWATCH_ENDPOINT", "AGENTWATCH_API_KEY"):
                value = re.sub(r"\$(\w+)", lambda m: exports[m.group(1)], match.group(2))
                exports[match.group(1)] = value
    return exports


def client_env(
    server: TestServer,
    readme: Iterable[str] = (),
    openai_url: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """A clean environment for a client: ``AGENTWATCH_ENDPOINT`` and ``AGENTWATCH_API_KEY``
    of ``server``, what the ``readme`` shell snippets export, the fake provider as
    OpenAI's base URL, and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLIENT_PREFIXES)}
    env.pop("PYTHONPATH", None)
    env.update(readme_exports(readme, server.url, server.api_key))
    if openai_url is not None:
        env.update(OPENAI_BASE_URL=openai_url, OPENAI_API_KEY="sk-fake")
    env.update(extra)
    return env


def run_script(python: Path, script: str, env: dict[str, str], cwd: Path) -> ScriptRun:
    """Run ``tests/e2e/<script>`` with ``python``; asserts it exited 0 with a result line.

    ``cwd`` is a scratch directory: agentops writes ``agentops.log`` where it runs.
    """
    proc = subprocess.run(
        [str(python), str(HERE / script)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result line from {script}:\n{proc.stdout}\n{proc.stderr}"
    run = ScriptRun(json.loads(lines[-1]), proc.stdout, proc.stderr)
    assert run.result["blocked_hosts"] == [], f"{script} tried to reach the internet"
    return run


def assert_no_problems(run: ScriptRun, harmless: Iterable[str] = ()) -> None:
    """No warning or error was logged, bar those matching a ``harmless`` pattern, and
    nothing went to stderr that looks like an export failure or a traceback."""
    allowed = [re.compile(pattern) for pattern in harmless]
    problems = [p for p in run.result["problems"] if not any(a.search(p) for a in allowed)]
    assert problems == [], f"the client logged problems: {problems}\n{run.stderr}"
    for marker in ("Traceback", "Failed to export", "Exception while exporting"):
        assert marker not in run.stderr, run.stderr


def session_of_trace(server: TestServer, trace_id: str) -> dict[str, Any]:
    """``GET /api/sessions/{id}`` of the one session holding spans of ``trace_id``."""
    details = [read_session(server, summary["id"]) for summary in list_sessions(server)]
    found = [d for d in details if any(e["trace_id"] == trace_id for e in d["events"])]
    traces = [{e["trace_id"] for e in d["events"]} for d in details]
    assert len(found) == 1, f"{len(found)} sessions hold trace {trace_id}; traces: {traces}"
    return found[0]


def receiver_stats(server: TestServer) -> dict[str, Any]:
    """``GET /api/otlp/stats``: what the receiver took per signal (metrics show only here)."""
    stats: dict[str, Any] = _get(server, "/api/otlp/stats")
    return stats


def list_sessions(server: TestServer) -> list[dict[str, Any]]:
    answer = _get(server, "/api/sessions", limit=500)
    sessions: list[dict[str, Any]] = answer["sessions"]
    return sessions


def read_session(server: TestServer, session_id: str) -> dict[str, Any]:
    detail: dict[str, Any] = _get(server, f"/api/sessions/{session_id}")
    return detail


def _get(server: TestServer, path: str, **params: Any) -> Any:
    headers = {"X-Agentops-Api-Key": server.api_key}
    answer = httpx.get(server.url + path, params=params, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


# -- the stored tree -------------------------------------------------------------------------

# What the user asks the agent in every script.
QUESTION = "What is the weather in Rome?"


class Tree:
    """The events of one session as a tree: by id, by kind, parents and children."""

    def __init__(self, detail: dict[str, Any]) -> None:
        self.session: dict[str, Any] = detail["session"]
        self.events: list[dict[str, Any]] = detail["events"]
        self.by_id = {e["id"]: e for e in self.events}
        assert len(self.by_id) == len(self.events), "an event is stored twice"

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [e for e in self.of_kind(kind) if name is None or e["name"] == name]
        names = [(e["kind"], e["name"]) for e in self.events]
        assert len(found) == 1, f"{len(found)} events of kind {kind} named {name}: {names}"
        return found[0]

    def parent(self, event: dict[str, Any]) -> dict[str, Any] | None:
        parent_id = event["parent_id"]
        return None if parent_id is None else self.by_id[parent_id]

    def children(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """The children of ``event`` in time order (as the read API lists them)."""
        return [e for e in self.events if e["parent_id"] == event["id"]]

    def roots(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["parent_id"] is None]


# OpenAI's list prices for gpt-4o-mini, USD per 1M tokens (cached input at half price).
GPT_4O_MINI = {
    "input": Decimal("0.15"),
    "cached_input": Decimal("0.075"),
    "output": Decimal("0.60"),
}


def gpt_4o_mini_cost(prompt: int, completion: int, cached: int = 0) -> Decimal:
    """The cost of a gpt-4o-mini call; ``prompt`` includes the ``cached`` tokens."""
    per_token = {k: v / 10**6 for k, v in GPT_4O_MINI.items()}
    return (
        (prompt - cached) * per_token["input"]
        + cached * per_token["cached_input"]
        + completion * per_token["output"]
    )


def cost_of(event: dict[str, Any]) -> Decimal | None:
    return None if event["cost"] is None else Decimal(str(event["cost"]))


def text_of(message: dict[str, Any]) -> Any:
    """A chat message's text: its ``content`` string, or the text parts of a list."""
    content = message.get("content")
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content


def called(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(function name, parsed arguments) of each tool call a message makes."""
    calls = message.get("tool_calls") or []
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls]


def check_agent_run(tree: Tree, agent: dict[str, Any], llms: list[dict[str, Any]]) -> None:
    """The two chats and the tool are the agent's children, in order: chat, tool, chat."""
    tool = tree.one("tool")
    children = tree.children(agent)
    assert [e["id"] for e in children if e["kind"] in ("llm", "tool")] == [
        llms[0]["id"],
        tool["id"],
        llms[1]["id"],
    ]
    assert tool["name"] == "get_weather"
    first, second = llms
    assert [m["role"] for m in first["data"]["prompt"]][-1] == "user"
    assert text_of(first["data"]["prompt"][-1]) == QUESTION
    assert called(first["data"]["completion"]) == [("get_weather", {"city": "Rome"})]
    roles = [m["role"] for m in second["data"]["prompt"]]
    assert roles[-3:] == ["user", "assistant", "tool"], roles
