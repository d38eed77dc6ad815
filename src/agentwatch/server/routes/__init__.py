"""HTTP routes: ``v2`` (AgentOps-compatible ingest) and ``api`` (JSON read API)."""
