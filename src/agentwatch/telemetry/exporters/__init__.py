"""Exporters: where the export queue's batches go."""
