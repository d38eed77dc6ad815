"""A typical agentops 0.3.26 session, run by the python of the agentops venv.

It uses the SDK the way its documentation does; only the endpoint and API key come from
the environment (``AGENTOPS_API_ENDPOINT``, ``AGENTOPS_API_KEY``), as an AgentOps user
pointing at agentwatch would set them. The last line printed to stdout is a JSON object
with the ids the test needs to look things up on the server.

Nothing may leave the machine: the SDK's PyPI update check and its developer-error
reporter (hard-coded to the public AgentOps host) are patched out, and any DNS lookup of
a non-loopback name is refused and reported in ``blocked_hosts``.
"""

from __future__ import annotations

import json
import socket
import sys
from importlib import metadata
from typing import Any

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
blocked_hosts: list[str] = []
_getaddrinfo = socket.getaddrinfo


def _loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name not in LOOPBACK:
        blocked_hosts.append(name)
        raise socket.gaierror(f"agentops_script: refusing to resolve {name}")
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_only

import agentops  # noqa: E402  (the guard above must be in place first)
from agentops import ErrorEvent, LLMEvent, record_action, record_tool  # noqa: E402
from agentops.event import ActionEvent  # noqa: E402
from agentops.meta_client import MetaClient  # noqa: E402

# init() starts a thread that GETs pypi.org/pypi/agentops/json; it looks the function up
# in the package namespace at call time, so replacing it there is enough.
agentops.check_agentops_update = lambda: None  # type: ignore[attr-defined]
# MetaClient posts SDK-internal exceptions to https://api.agentops.ai/v2/developer_errors.
MetaClient.send_exception_to_server = lambda *args, **kwargs: None  # type: ignore[method-assign]

PROMPT = [
    {"role": "system", "content": "You plan short trips."},
    {"role": "user", "content": "Two days in Rome, please."},
]
COMPLETION = {"role": "assistant", "content": "Day 1: Colosseum. Day 2: Vatican."}


@record_action("plan_trip")
def plan_trip(city: str, days: int = 2) -> dict[str, Any]:
    return {"city": city, "days": days, "stops": ["Colosseum", "Vatican"]}


@record_tool("web_search")
def web_search(query: str) -> list[str]:
    return [f"result for {query}", "another result"]


def main() -> None:
    session = agentops.init(default_tags=["agentops-compat"], instrument_llm_calls=False)
    if session is None:
        sys.exit("agentops.init() did not start a session")
    agent_id = agentops.create_agent("researcher")

    plan_trip("Rome", days=2)
    web_search("flights to Rome")

    llm = LLMEvent(
        model="gpt-4o-mini",
        prompt=PROMPT,
        completion=COMPLETION,
        prompt_tokens=1200,
        completion_tokens=300,
        agent_id=agent_id,
    )
    agentops.record(llm)

    trigger = ActionEvent(action_type="book_hotel", params={"city": "Rome"}, agent_id=agent_id)
    agentops.record(trigger)
    try:
        raise ValueError("no rooms left")
    except ValueError as exc:
        error = ErrorEvent(trigger_event=trigger, exception=exc, code="E_NO_ROOMS")
    agentops.record(error)

    agentops.add_tags(["compat-extra"])
    agentops.end_session("Success", end_state_reason="trip planned")
    token_cost = session.token_cost  # what the server answered to the final update_session

    result = {
        "session_id": str(session.session_id),
        "agent_id": str(agent_id),
        "llm_id": str(llm.id),
        "trigger_id": str(trigger.id),
        "error_id": str(error.id),
        "token_cost": None if token_cost is None else str(token_cost),
        "event_counts": session.event_counts,
        "blocked_hosts": blocked_hosts,
        "agentops_version": metadata.version("agentops"),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
