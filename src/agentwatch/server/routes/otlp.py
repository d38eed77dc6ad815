"""OTLP/HTTP receiver routes, and the credential checks their clients expect.

``POST /v1/traces`` (also ``/api/public/otel/v1/traces``, where Langfuse's SDK sends),
``/v1/logs`` and ``/v1/metrics`` take protobuf (``application/x-protobuf``) or OTLP JSON
(``application/json``), gzipped or not (``limits.py`` inflates), and answer in the
request's encoding; errors on these paths are OTLP's ``google.rpc.Status`` (``errors.py``).
``GET /v1/info`` is Logfire's token check, ``GET /api/public/projects`` Langfuse's.

Every route here and in ``routes/agentops4.py`` finds its project through
:func:`otlp_owner`, the one place that reads credentials as these clients send them.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Request, Response

from agentwatch.server import auth
from agentwatch.server.context import ServerContext, get_context
from agentwatch.server.errors import Unauthorized, UnsupportedMediaType, is_protobuf
from agentwatch.server.otlp import receiver
from agentwatch.server.otlp.decode import Encoding
from agentwatch.server.routes.v2 import api_key_owner
from agentwatch.server.storage import KeyOwner

__all__ = ["otlp_owner", "router"]

router = APIRouter(tags=["OpenTelemetry (OTLP/HTTP)"])

Context = Annotated[ServerContext, Depends(get_context)]
_HOW = (
    "send the project API key as X-Agentops-Api-Key, Authorization: Bearer <key>, "
    "Authorization: <key>, Basic auth (key as user or password), or a token from "
    "POST /v3/auth/token as Bearer"
)


async def otlp_owner(
    ctx: Context,
    authorization: Annotated[str | None, Header()] = None,
    x_agentops_api_key: Annotated[str | None, Header(alias="X-Agentops-Api-Key")] = None,
) -> KeyOwner:
    """Dependency: the project of the first credential the request presents that checks
    out (see :func:`auth.presented_credentials`); 401 otherwise."""
    presented = auth.presented_credentials(authorization, x_agentops_api_key)
    if not presented:
        raise Unauthorized(f"missing credentials: {_HOW}")
    owner = await anyio.to_thread.run_sync(_first_owner, ctx, presented)
    if owner is None:
        raise Unauthorized(f"invalid credentials (unknown or revoked key or token): {_HOW}")
    return owner


def _first_owner(ctx: ServerContext, presented: list[str]) -> KeyOwner | None:
    for credential in presented:
        owner = _owner_of(ctx, credential)
        if owner is not None:
            return owner
    return None


def _owner_of(ctx: ServerContext, credential: str) -> KeyOwner | None:
    try:
        key = str(uuid.UUID(credential))
    except ValueError:
        key = None
    if key is not None:
        return ctx.storage.key_owner(key)
    if credential.count(".") != 2:
        return None
    try:
        claims = ctx.signer.verify_project_token(credential)
    except Unauthorized:
        return None
    if not ctx.storage.key_is_active(claims.key_id):
        return None
    return KeyOwner(claims.key_id, claims.project_id)


Owner = Annotated[KeyOwner, Depends(otlp_owner)]


def _encoding(request: Request) -> Encoding:
    content_type = request.headers.get("content-type")
    if is_protobuf(content_type):
        return "protobuf"
    if content_type and content_type.split(";", 1)[0].strip().lower() == "application/json":
        return "json"
    raise UnsupportedMediaType(
        f"unsupported Content-Type {content_type!r} "
        "(accepted: application/x-protobuf, application/json)"
    )


async def _export(request: Request, ctx: ServerContext, owner: KeyOwner, signal: str) -> Response:
    encoding = _encoding(request)
    body = await request.body()
    receive = receiver.RECEIVERS[signal]
    result = await anyio.to_thread.run_sync(receive, ctx, owner.project_id, body, encoding)
    content, media_type = receiver.answer(result, encoding)
    return Response(content, media_type=media_type)


@router.post("/v1/traces")
async def export_traces(request: Request, ctx: Context, owner: Owner) -> Response:
    """``ExportTraceServiceRequest``: spans into their sessions (how: README, "Send
    OpenTelemetry"). A span sent twice is stored once."""
    return await _export(request, ctx, owner, "traces")


@router.post("/api/public/otel/v1/traces")
async def export_traces_langfuse(request: Request, ctx: Context, owner: Owner) -> Response:
    """The same receiver on the path the Langfuse SDK sends to."""
    return await _export(request, ctx, owner, "traces")


@router.post("/v1/logs")
async def export_logs(request: Request, ctx: Context, owner: Owner) -> Response:
    """``ExportLogsServiceRequest``: GenAI log events, kept with the span they name."""
    return await _export(request, ctx, owner, "logs")


@router.post("/v1/metrics")
async def export_metrics(request: Request, ctx: Context, owner: Owner) -> Response:
    """``ExportMetricsServiceRequest``: accepted and counted (``GET /api/otlp/stats``)."""
    return await _export(request, ctx, owner, "metrics")


@router.get("/v1/info")
def logfire_info(ctx: Context, owner: Owner) -> dict[str, Any]:
    """Logfire's token check: the project the token belongs to."""
    name = _project_name(ctx, owner.project_id)
    return {"project_name": name, "project_url": f"{ctx.settings.base_url}/projects"}


@router.get("/api/public/projects")
def langfuse_projects(ctx: Context, owner: Owner) -> dict[str, Any]:
    """Langfuse's auth check: the one project the credentials belong to."""
    project = {
        "id": owner.project_id,
        "name": _project_name(ctx, owner.project_id),
        "organization": {"id": "agentwatch", "name": "agentwatch"},
        "metadata": {},
    }
    return {"data": [project]}


def _project_name(ctx: ServerContext, project_id: str) -> str:
    return next((p.name for p in ctx.storage.list_projects() if p.id == project_id), project_id)


@router.get("/api/otlp/stats", tags=["read API"])
def otlp_stats(ctx: Context, owner: Annotated[KeyOwner, Depends(api_key_owner)]) -> dict[str, Any]:
    """What this server process's OTLP receiver took for the key's project since it
    started: requests, spans / log records / metric data points accepted and refused."""
    return ctx.otlp_stats.view(owner.project_id)
