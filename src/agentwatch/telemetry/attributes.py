"""Span attribute names of an agentwatch event span.

One span per recorded event. The session id is also the span's trace id, so one
session is one trace in any OpenTelemetry backend the spans are sent to; the event's
parent is the span's parent.
"""

SESSION_ID = "agentwatch.session.id"
EVENT_ID = "agentwatch.event.id"
EVENT_TYPE = "agentwatch.event.type"
#: The node's kind in the session tree (llm, tool, agent, ...), when the event names one.
EVENT_KIND = "agentwatch.event.kind"
#: The id of the parent event, as the event carries it (the span's parent holds 64 bits of it).
PARENT_ID = "agentwatch.event.parent_id"
#: The whole event as the JSON object ``create_events`` carries (encoded once, at record).
EVENT_DATA = "agentwatch.event.data"
AGENT_ID = "agentwatch.agent.id"
