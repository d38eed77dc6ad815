# One command per chore; CI (.ci/run) calls the same targets.
PYTHON ?= python3
PY_DIRS := src tests bench

.PHONY: help install lint format typecheck test check bench agentops-venv otel-client-venvs client-venvs otel-versions

help:
	@echo "targets: install lint format typecheck test check bench agentops-venv otel-client-venvs client-venvs otel-versions"

# Playwright is used with Debian's /usr/bin/chromium, so no browser download here.
install:
	$(PYTHON) -m pip install -e '.[dev]'

# --no-cache: a stale .ruff_cache once hid import-order errors that a clean CI checkout saw.
lint:
	$(PYTHON) -m ruff check --no-cache $(PY_DIRS)
	$(PYTHON) -m ruff format --no-cache --check $(PY_DIRS)

format:
	$(PYTHON) -m ruff check --fix $(PY_DIRS)
	$(PYTHON) -m ruff format $(PY_DIRS)

# src/ is checked with the files listed in pyproject; bench/ separately, because its
# scripts run in their own virtual environments (agentops, langfuse are not installed here).
typecheck:
	$(PYTHON) -m mypy
	$(PYTHON) -m mypy bench

test:
	$(PYTHON) -m pytest

check: lint typecheck test

# Build (or reuse) the virtual environments of the real client libraries tests/e2e runs
# (tests/e2e/client_venvs.py): agentops 0.3.26; agentops 0.4.21 with OpenTelemetry 1.36;
# the OTel SDK, OpenInference, openai-v2, Langfuse and Logfire together.
agentops-venv:
	$(PYTHON) tests/e2e/client_venvs.py agentops03

otel-client-venvs:
	$(PYTHON) tests/e2e/client_venvs.py agentops04 otel-clients

client-venvs:
	$(PYTHON) tests/e2e/client_venvs.py

# The SDK's OpenTelemetry tests (pytest -m otel) on opentelemetry-sdk 1.27 (the oldest
# supported) and the latest, each in a venv under ~/.cache/agentwatch-tests (built once).
otel-versions:
	$(PYTHON) tests/otel_versions.py

# Creates/reuses bench/.venvs/*, measures everything, writes bench/RESULTS.md; then the
# instrumentation overhead (this environment: it needs openai and the tests' fake
# provider) adds its own section to the same file.
bench:
	$(PYTHON) bench/run.py
	$(PYTHON) bench/bench_instrumentation.py --write
	$(PYTHON) bench/bench_dashboard.py --write
	$(PYTHON) bench/bench_search.py --write
	$(PYTHON) bench/bench_otlp_tee.py --write
	$(PYTHON) bench/bench_app_spans.py --write
	$(PYTHON) bench/bench_dashboard_browser.py --write
