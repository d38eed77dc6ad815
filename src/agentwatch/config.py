"""SDK settings: one table, read once into a frozen :class:`Config`.

Precedence for every setting: explicit argument > environment variable > default.
Each row of :data:`SETTINGS` names the setting, its environment variable, its default,
its type and one line of documentation; the README's settings table is checked against
it by a test, so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentwatch.exceptions import ConfigurationError
from agentwatch.otlp_settings import (
    headers_argument,
    parse_otlp_endpoint,
    parse_otlp_headers,
    parse_service_name,
)
from agentwatch.settings_table import (
    Setting,
    from_environment,
    parse_bool,
    parse_positive_float,
    parse_positive_int,
)

__all__ = ["SETTINGS", "Config", "Setting"]


def _parse_tags(raw: str) -> tuple[str, ...]:
    return tuple(tag.strip() for tag in raw.split(",") if tag.strip())


def _parse_optional_uuid(raw: str) -> str:
    raw = raw.strip()
    try:
        uuid.UUID(raw)
    except ValueError:
        raise ValueError("accepted: an API key as printed by the server (a UUID)") from None
    return raw


def _parse_endpoint(raw: str) -> str:
    raw = raw.strip().rstrip("/")
    if not raw.startswith(("http://", "https://")) or len(raw.split("://", 1)[1]) == 0:
        raise ValueError("accepted: an http:// or https:// URL such as http://127.0.0.1:8000")
    return raw


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


COMPRESSIONS = ("gzip", "none")


def _parse_compression(raw: str) -> str:
    value = raw.strip().lower()
    if value not in COMPRESSIONS:
        raise ValueError(f"accepted: one of {', '.join(COMPRESSIONS)}")
    return value


def _parse_log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in _LOG_LEVELS:
        raise ValueError(f"accepted: one of {', '.join(_LOG_LEVELS)}")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "api_key",
        "AGENTWATCH_API_KEY",
        None,
        _parse_optional_uuid,
        "Project API key printed by `agentwatch serve` / `agentwatch keys create` (required).",
    ),
    Setting(
        "endpoint",
        "AGENTWATCH_ENDPOINT",
        "http://127.0.0.1:8000",
        _parse_endpoint,
        "Base URL of the agentwatch (or AgentOps v2 compatible) server.",
    ),
    Setting(
        "parent_key",
        "AGENTWATCH_PARENT_KEY",
        None,
        _parse_optional_uuid,
        "Optional API key of a parent project that also gets to see the sessions.",
    ),
    Setting(
        "default_tags",
        "AGENTWATCH_DEFAULT_TAGS",
        (),
        _parse_tags,
        "Tags added to every session (comma-separated in the environment).",
    ),
    Setting(
        "auto_start_session",
        "AGENTWATCH_AUTO_START_SESSION",
        False,
        parse_bool,
        "Start a session when the client is created (`agentwatch.init()` turns it on unless told not to).",
    ),
    Setting(
        "skip_auto_end_session",
        "AGENTWATCH_SKIP_AUTO_END_SESSION",
        False,
        parse_bool,
        "Ignore `end_session(..., is_auto_end=True)` calls made by frameworks (CrewAI).",
    ),
    Setting(
        "instrument_llm_calls",
        "AGENTWATCH_INSTRUMENT_LLM_CALLS",
        True,
        parse_bool,
        "Record calls made with the `openai` / `anthropic` libraries automatically.",
    ),
    Setting(
        "capture_content",
        "AGENTWATCH_CAPTURE_CONTENT",
        True,
        parse_bool,
        "Record prompt and completion text; false keeps everything else (tokens, model, timing).",
    ),
    Setting(
        "capture_otel_spans",
        "AGENTWATCH_CAPTURE_OTEL_SPANS",
        True,
        parse_bool,
        "Send the application's OpenTelemetry spans started in a session to that session "
        "(adds a span processor to its tracer provider, or installs one if none is set).",
    ),
    Setting(
        "max_queue_size",
        "AGENTWATCH_MAX_QUEUE_SIZE",
        100_000,
        parse_positive_int,
        "Events held in memory waiting for export; beyond it new events are dropped and counted.",
    ),
    Setting(
        "max_export_batch_size",
        "AGENTWATCH_MAX_EXPORT_BATCH_SIZE",
        2048,
        parse_positive_int,
        "Most events sent in one `create_events` request (and at most ~4 MB of them).",
    ),
    Setting(
        "flush_interval",
        "AGENTWATCH_FLUSH_INTERVAL",
        1.0,
        parse_positive_float,
        "Seconds between exports when fewer than a batch of events is waiting.",
    ),
    Setting(
        "compression",
        "AGENTWATCH_COMPRESSION",
        "gzip",
        _parse_compression,
        "`gzip` event batches (about a tenth of the bytes, ~1 µs of export-thread CPU per "
        "event) or send them as they are (`none`).",
    ),
    Setting(
        "request_timeout",
        "AGENTWATCH_REQUEST_TIMEOUT",
        10.0,
        parse_positive_float,
        "Seconds one HTTP request may take before it counts as a (retryable) timeout.",
    ),
    Setting(
        "retry_deadline",
        "AGENTWATCH_RETRY_DEADLINE",
        300.0,
        parse_positive_float,
        "Seconds a batch keeps being retried through 429/5xx/network errors before it is dropped.",
    ),
    Setting(
        "max_backoff",
        "AGENTWATCH_MAX_BACKOFF",
        30.0,
        parse_positive_float,
        "Longest wait between two retries of one request, in seconds.",
    ),
    Setting(
        "shutdown_timeout",
        "AGENTWATCH_SHUTDOWN_TIMEOUT",
        5.0,
        parse_positive_float,
        "Seconds `end_session()` and interpreter exit wait for pending events to be delivered.",
    ),
    Setting(
        "env_data_opt_out",
        "AGENTWATCH_ENV_DATA_OPT_OUT",
        False,
        parse_bool,
        "Send only the SDK and Python versions as host environment (no hostname, OS, CPU, RAM).",
    ),
    Setting(
        "handle_signals",
        "AGENTWATCH_HANDLE_SIGNALS",
        True,
        parse_bool,
        "On SIGTERM/SIGINT end running sessions, flush, then call the application's previous handler.",
    ),
    Setting(
        "otlp_endpoint",
        "AGENTWATCH_OTLP_ENDPOINT",
        None,
        parse_otlp_endpoint,
        "Also export every session as OpenTelemetry GenAI spans to this OTLP/HTTP collector "
        "(`/v1/traces` is appended to a base URL; needs `agentwatch[otlp]`).",
    ),
    Setting(
        "otlp_headers",
        "AGENTWATCH_OTLP_HEADERS",
        (),
        parse_otlp_headers,
        "Headers sent to `otlp_endpoint`: a dict, or `k=v,k2=v2` with percent-encoded values "
        "in the environment (OpenTelemetry's format).",
        secret=True,
    ),
    Setting(
        "otlp_service_name",
        "AGENTWATCH_OTLP_SERVICE_NAME",
        None,
        parse_service_name,
        "`service.name` of the exported spans' resource; default `OTEL_SERVICE_NAME`, else "
        "`agentwatch`.",
    ),
    Setting(
        "log_level",
        "AGENTWATCH_LOG_LEVEL",
        "INFO",
        _parse_log_level,
        "Level of the `agentwatch` logger (session URL and stats lines are INFO).",
    ),
)

_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    """Every SDK setting, resolved. Build with :meth:`Config.load`."""

    api_key: str | None = None
    endpoint: str = "http://127.0.0.1:8000"
    parent_key: str | None = None
    default_tags: tuple[str, ...] = ()
    auto_start_session: bool = False
    skip_auto_end_session: bool = False
    instrument_llm_calls: bool = True
    capture_content: bool = True
    capture_otel_spans: bool = True
    max_queue_size: int = 100_000
    max_export_batch_size: int = 2048
    flush_interval: float = 1.0
    compression: str = "gzip"
    request_timeout: float = 10.0
    retry_deadline: float = 300.0
    max_backoff: float = 30.0
    shutdown_timeout: float = 5.0
    env_data_opt_out: bool = False
    handle_signals: bool = True
    otlp_endpoint: str | None = None
    # Not in the repr: headers carry credentials (Authorization).
    otlp_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    otlp_service_name: str | None = None
    log_level: str = "INFO"

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **arguments: Any) -> Config:
        """Resolve every setting: argument (not None) > ``env`` (default ``os.environ``) > default.

        Raises :class:`ConfigurationError` naming the argument or variable, the value and
        what is accepted.
        """
        env = os.environ if env is None else env
        unknown = set(arguments) - set(_BY_NAME)
        if unknown:
            raise ConfigurationError(
                f"unknown setting(s) {', '.join(sorted(unknown))}; accepted: {', '.join(_BY_NAME)}"
            )
        values = {s.name: _resolve(s, arguments.get(s.name), env) for s in SETTINGS}
        return cls(**values)

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied and validated like arguments to :meth:`load`."""
        checked = {name: _from_argument(_BY_NAME[name], v) for name, v in changes.items()}
        return dataclasses.replace(self, **checked)


def _resolve(setting: Setting, argument: Any, env: Mapping[str, str]) -> Any:
    if argument is not None:
        return _from_argument(setting, argument)
    try:
        return from_environment(setting, env)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def _from_argument(setting: Setting, value: Any) -> Any:
    """Validate a Python argument with the same rules as its environment variable."""
    if value is None:
        return setting.default
    special = _ARGUMENT_PARSERS.get(setting.name)
    if special is not None:
        try:
            return special(value)
        except ValueError as exc:
            raise ConfigurationError(
                f"{setting.name}={setting.shown(value)} is not valid; {exc}"
            ) from None
    expected = type(setting.default) if setting.default is not None else str
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigurationError(
            f"{setting.name}={setting.shown(value)} is not valid; expected {expected.__name__}"
        )
    if isinstance(value, bool):
        return value
    try:
        return setting.parse(str(value))
    except ValueError as exc:
        raise ConfigurationError(
            f"{setting.name}={setting.shown(value)} is not valid; {exc}"
        ) from None


def _tags_argument(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return _parse_tags(value)
    try:
        tags = tuple(value)
    except TypeError:
        raise ValueError("accepted: a list of strings") from None
    if not all(isinstance(t, str) for t in tags):
        raise ValueError("accepted: a list of strings")
    return tags


# Settings whose Python argument is not the type of their default (validated by these,
# which raise ValueError saying what is accepted, as the environment parsers do).
_ARGUMENT_PARSERS: dict[str, Callable[[Any], Any]] = {
    "default_tags": _tags_argument,
    "otlp_headers": headers_argument,
}
