"""The OpenTelemetry (OTLP/HTTP) receiver, from request body to stored spans.

The pipeline, one module per step::

    decode.py    protobuf / OTLP JSON  ->  spans.Span, spans.LogRecord (checked, neutral)
    mapping.py   Span  ->  MappedSpan: kind, name, model, tokens, cost, messages, hints
    sessions.py  MappedSpan  ->  SpanWrite: which session the span names, as a UUID
    storage/traces.py   SpanWrite  ->  rows: the trace's session, moves, counters
    receiver.py  the steps above for one request, and its OTLP answer

``routes/otlp.py`` serves it over HTTP; ``routes/agentops4.py`` adds what agentops 0.4
needs around it.
"""
