"""The OTLP tee's settings: where the GenAI spans go, with which headers, as which service.

Parsers in the shape of :mod:`agentwatch.settings_table` (text in, value out, ``ValueError``
saying what is accepted), plus the argument forms ``Config`` accepts.

**The endpoint rule** (OpenTelemetry's exporter specification): a URL whose path ends in
``/v1/traces`` is the traces endpoint itself and used as it is (like
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); any other URL is a base URL and ``/v1/traces`` is
appended to its path (like ``OTEL_EXPORTER_OTLP_ENDPOINT``): ``http://collector:4318`` →
``http://collector:4318/v1/traces``, ``https://host/api/public/otel`` →
``https://host/api/public/otel/v1/traces``.

**Headers** in the environment use the OpenTelemetry format (``OTEL_EXPORTER_OTLP_HEADERS``):
``key=value`` pairs separated by commas, values percent-decoded (``Authorization=Bearer%20k``).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

__all__ = [
    "TRACES_PATH",
    "headers_argument",
    "parse_otlp_endpoint",
    "parse_otlp_headers",
    "parse_service_name",
]

TRACES_PATH = "/v1/traces"

# RFC 9110 field-name: a token. Values: visible characters, spaces and tabs (no CR, LF, NUL:
# a header value that smuggles a line break would inject a header of its own).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_HEADERS_ACCEPTED = (
    "accepted: key=value pairs separated by commas (OpenTelemetry's OTEL_EXPORTER_OTLP_HEADERS "
    "format, values percent-encoded), e.g. Authorization=Bearer%20abc,X-Team=agents"
)
_MAX_SERVICE_NAME = 255


def parse_otlp_endpoint(raw: str) -> str:
    """The traces URL of ``raw`` (the rule: the module docstring)."""
    accepted = (
        "accepted: an http:// or https:// URL of an OTLP/HTTP collector, "
        "e.g. http://127.0.0.1:4318 (/v1/traces is appended) or http://host:4318/v1/traces"
    )
    text = raw.strip()
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(accepted) from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.fragment
        or any(c.isspace() for c in text)
    ):
        raise ValueError(accepted)
    path = parts.path.rstrip("/")
    if not path.endswith(TRACES_PATH):
        path += TRACES_PATH
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def parse_otlp_headers(raw: str) -> tuple[tuple[str, str], ...]:
    """``k=v,k2=v2`` (values percent-decoded) as (name, value) pairs, in order."""
    pairs: list[tuple[str, str]] = []
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(_HEADERS_ACCEPTED)
        pairs.append(_checked(key.strip(), urllib.parse.unquote(value.strip())))
    return tuple(pairs)


def headers_argument(value: Any) -> tuple[tuple[str, str], ...]:
    """``otlp_headers=`` as an argument: a mapping of strings, or the environment's text."""
    if isinstance(value, str):
        return parse_otlp_headers(value)
    if not isinstance(value, Mapping):
        raise ValueError("accepted: a dict of header names to values, e.g. {'X-Team': 'agents'}")
    pairs = []
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise ValueError("accepted: a dict of strings to strings")
        pairs.append(_checked(key.strip(), item.strip()))
    return tuple(pairs)


def _checked(key: str, value: str) -> tuple[str, str]:
    if not _TOKEN.fullmatch(key):
        raise ValueError(f"header name {key!r} is not a token; {_HEADERS_ACCEPTED}")
    if not _VALUE.fullmatch(value):
        raise ValueError(
            f"the value of header {key!r} has characters a header cannot carry "
            "(control characters such as CR, LF, NUL, or beyond Latin-1)"
        )
    return key, value


def parse_service_name(raw: str) -> str:
    value = raw.strip()
    if not value or len(value) > _MAX_SERVICE_NAME or not value.isprintable():
        raise ValueError(f"accepted: a printable name of 1 to {_MAX_SERVICE_NAME} characters")
    return value
