"""``import agentwatch`` stays light: the SDK pulls in no server, HTTP or LLM library.

Import time is a benchmark figure (bench/RESULTS.md, issue 6), not a timed test; what
this test holds is the list of heavy modules that must stay out, so a stray top-level
import shows up as a failure rather than as a slower number months later.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Loaded on first use instead: the server stack (own extra), httpx (on the first Client),
# the LLM libraries (instrumented when the application imports them), importlib.metadata
# (SDK version, on first session), decimal (token costs, when the server answers one) and
# OpenTelemetry (when span processors are given: the SDK records without a tracer).
MUST_STAY_OUT = (
    "opentelemetry",
    "agentwatch.server",
    "fastapi",
    "sqlalchemy",
    "uvicorn",
    "pydantic",
    "jinja2",
    "httpx",
    "openai",
    "anthropic",
    "agentwatch.instrumentation.openai",
    "agentwatch.instrumentation.anthropic",
    "importlib.metadata",
    "decimal",
    "asyncio",
)


def test_import_agentwatch_loads_none_of_the_heavy_modules() -> None:
    code = (
        "import json, sys; import agentwatch; "
        f"print(json.dumps([m for m in {MUST_STAY_OUT!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize("capture", [True, False])
def test_the_first_client_loads_what_it_needs(capture: bool) -> None:
    # The other half of laziness: what was deferred is there once a client exists.
    code = (
        "import json, sys, agentwatch; "
        "c = agentwatch.Client(api_key='00000000-0000-4000-8000-000000000000', "
        f"endpoint='http://127.0.0.1:9', handle_signals=False, capture_otel_spans={capture}); "
        "print(json.dumps(['httpx' in sys.modules, 'opentelemetry' in sys.modules])); "
        "c.shutdown(timeout=0.1)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    # httpx is there; OpenTelemetry only to capture the application's spans (the SDK
    # itself records without a tracer, and no span processors were given).
    assert json.loads(out.stdout.splitlines()[-1]) == [True, capture]
