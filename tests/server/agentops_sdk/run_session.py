"""Run by the agentops 0.3.26 virtual environment: one session with every event kind."""

import json
import sys

import agentops
from agentops import ActionEvent, ErrorEvent, LLMEvent, ToolEvent

agentops.init(auto_start_session=False, instrument_llm_calls=False)
session = agentops.start_session(tags=["e2e", "agentops-0.3.26"])
assert session is not None, "create_session failed"
agent_id = "22222222-2222-4222-8222-222222222222"
session.create_agent("researcher", agent_id)
session.record(ActionEvent(action_type="plan_trip", params={"x": 1}, returns=[1, 2]))
session.record(ToolEvent(name="web_search", params={"q": "flights"}, returns={"results": 3}))
llm = LLMEvent(
    model="gpt-4o-mini-2024-07-18",
    prompt=[{"role": "user", "content": "hi"}],
    completion={"role": "assistant", "content": "Hello!"},
    prompt_tokens=1000,
    completion_tokens=500,
)
session.record(llm)
try:
    raise ValueError("boom")
except ValueError as exc:
    session.record(ErrorEvent(trigger_event=llm, exception=exc))
cost = session.end_session("Success", end_state_reason="all tasks done")
print(
    json.dumps(
        {"session_id": str(session.session_id), "token_cost": str(cost), "agent_id": str(agent_id)}
    )
)
sys.stdout.flush()
