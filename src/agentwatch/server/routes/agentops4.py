"""What agentops 0.4 needs besides ``/v1/traces``: its token, its captured output, objects.

* ``POST /v3/auth/token`` ``{"api_key"}`` → a project token (``auth.py``) the SDK sends as
  Bearer on every export; ``project_prem_status: "pro"`` spares the user a "free plan"
  notice.
* ``POST /v4/logs/upload/`` ``{"body": "<captured stdout>"}`` with ``Trace-Id: <decimal>``
  → kept as the logs of that trace's session (created if no span of it arrived yet).
* ``POST /v4/objects/upload/`` ``{"body"}`` → ``{"url", "size"}``, as the SDK's OpenAI
  Agents integration expects. The object itself is not kept: the span keeps what it
  shows of it.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict

from agentwatch.server import auth
from agentwatch.server.context import ServerContext, get_context
from agentwatch.server.errors import Unauthorized, Unprocessable
from agentwatch.server.otlp.sessions import trace_session
from agentwatch.server.routes.otlp import otlp_owner
from agentwatch.server.routes.v2 import WireRoute
from agentwatch.server.storage import KeyOwner
from agentwatch.server.wire import text_of

__all__ = ["router"]

# Bodies are read and checked as v2's are (jsonbody): a lone surrogate is a 422, not a 500.
router = APIRouter(tags=["agentops 0.4"], route_class=WireRoute)

Context = Annotated[ServerContext, Depends(get_context)]
Owner = Annotated[KeyOwner, Depends(otlp_owner)]


class TokenBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    api_key: str


class UploadBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    body: Any = None


@router.post("/v3/auth/token")
def auth_token(body: TokenBody, ctx: Context) -> dict[str, Any]:
    """A long-lived project token for the project API key ``api_key``."""
    owner = ctx.storage.key_owner(auth.parse_api_key(body.api_key))
    if owner is None:
        raise Unauthorized("Invalid API Key")
    return {
        "token": ctx.signer.issue_project_token(owner.project_id, owner.key_id),
        "project_id": owner.project_id,
        "project_prem_status": "pro",
    }


@router.post("/v4/logs/upload/")
def upload_logs(
    body: UploadBody,
    ctx: Context,
    owner: Owner,
    trace_id: Annotated[str | None, Header(alias="Trace-Id")] = None,
) -> dict[str, Any]:
    """Keep a process's captured output on the session of trace ``Trace-Id``."""
    trace = _trace_id(trace_id)
    text = text_of(body.body) or ""
    session_id = ctx.storage.set_trace_logs(
        owner.project_id, trace, trace_session(owner.project_id, trace), text
    )
    return {"status": "success", "session_id": session_id, "size": len(text)}


def _trace_id(raw: str | None) -> str:
    """agentops sends the trace id as a decimal integer; hex (32 digits) is taken too."""
    value = (raw or "").strip()
    number: int | None = None
    if value.isdigit():
        number = int(value)
    elif len(value) == 32:
        try:
            number = int(value, 16)
        except ValueError:
            number = None
    if number is None or not 0 < number < 2**128:
        raise Unprocessable(
            f"Trace-Id: expected the trace id as a decimal integer (or 32 hex digits), got {value[:40]!r}"
        )
    return format(number, "032x")


@router.post("/v4/objects/upload/")
def upload_object(body: UploadBody, owner: Owner) -> dict[str, Any]:
    """Answers ``{"url", "size"}`` for the object (a content address; it is not kept)."""
    data = (text_of(body.body) or "").encode()
    return {
        "url": f"agentwatch:object/sha256/{hashlib.sha256(data).hexdigest()}",
        "size": len(data),
    }
