"""What the server's answers say: error messages, JSON bodies, the JWT, the token cost.

Pure functions of an ``httpx.Response``; the failures they raise name the request and
what was wrong with the answer, never a credential.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import orjson

from agentwatch.exceptions import FatalApiError, RetryableApiError
from agentwatch.telemetry.retry import parse_retry_after

if TYPE_CHECKING:
    from decimal import Decimal

    import httpx

__all__ = ["jwt_in", "message", "raise_for_status", "retryable_status", "token_cost"]


def message(response: httpx.Response) -> str:
    """The server's explanation: ``message`` of the v2 error body (``detail`` for FastAPI)."""
    try:
        body = orjson.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            if body.get(key):
                return str(body[key])[:500]
    text = response.text.strip()[:500]
    return text or response.reason_phrase


def raise_for_status(path: str, response: httpx.Response) -> None:
    """Raise :class:`FatalApiError` unless the answer is a 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    raise FatalApiError(
        f"POST {path} answered HTTP {status}: {message(response)}",
        status=status,
        reason=f"http_{status}",
        accepted=_accepted(response) if status == 422 else None,
    )


def _accepted(response: httpx.Response) -> int | None:
    """How many events of a partly refused batch the server stored (its ``accepted``)."""
    try:
        body = orjson.loads(response.content)
    except ValueError:
        return None
    accepted = body.get("accepted") if isinstance(body, dict) else None
    refused = body.get("refused") if isinstance(body, dict) else None
    if isinstance(accepted, int) and not isinstance(accepted, bool) and isinstance(refused, list):
        return accepted
    return None


def retryable_status(path: str, response: httpx.Response) -> RetryableApiError:
    """The error for an answer that says "later" (429, 502, 503, 504), with its Retry-After."""
    status = response.status_code
    return RetryableApiError(
        f"POST {path} answered HTTP {status}: {message(response)}",
        status=status,
        reason=f"http_{status}",
        retry_after=parse_retry_after(
            response.headers.get("Retry-After"), now=datetime.now(timezone.utc)
        ),
    )


def jwt_in(response: httpx.Response) -> tuple[str, dict[str, Any]]:
    """The ``jwt`` of a create_session / reauthorize_jwt answer, and the whole answer."""
    answer = _json_object(response)
    jwt = answer.get("jwt")
    if not isinstance(jwt, str) or not jwt:
        raise FatalApiError(
            f"POST {response.request.url.path} answered without a jwt",
            status=response.status_code,
            reason="bad_response",
        )
    return jwt, answer


def token_cost(response: httpx.Response) -> Decimal | None:
    """The ``token_cost`` of an update_session answer; None when absent or "unknown"."""
    try:
        body = orjson.loads(response.content)
    except ValueError:
        return None
    value = body.get("token_cost") if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    from decimal import Decimal, InvalidOperation  # lazily: import time

    try:
        cost = Decimal(str(value))
    except InvalidOperation:  # "unknown"
        return None
    return cost if cost.is_finite() else None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise FatalApiError(
            f"POST {response.request.url.path} answered HTTP {response.status_code} "
            "with a body that is not a JSON object",
            status=response.status_code,
            reason="bad_response",
        )
    return body
