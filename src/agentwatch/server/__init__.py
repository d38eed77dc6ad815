"""The agentwatch server: AgentOps v2 ingest, JSON read API, storage on SQLite or PostgreSQL.

Build the ASGI app with :func:`agentwatch.server.app.create_app`; run it with
``agentwatch serve``. Nothing in the SDK imports this package.
"""
