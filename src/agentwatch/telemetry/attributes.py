"""Span attribute names of an agentwatch event span.

One span per recorded event. The session id is also the span's trace id, so one
session is one trace in any OpenTelemetry backend the spans are sent to.
"""

SESSION_ID = "agentwatch.session.id"
EVENT_ID = "agentwatch.event.id"
EVENT_TYPE = "agentwatch.event.type"
#: The whole event as the JSON object ``create_events`` carries (encoded once, at record).
EVENT_DATA = "agentwatch.event.data"
AGENT_ID = "agentwatch.agent.id"
