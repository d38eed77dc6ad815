"""AgentOps v2 ingest: the contract in ``shared/design/PROTOCOL.md``.

Routes are plain ``def`` functions: FastAPI runs them in its worker threads, where the
blocking storage calls belong. The session a JWT route writes into is always the token's,
never one named in the body.

Bodies are read by :func:`jsonbody.loads` and checked by :func:`jsonbody.check_items`
before any route sees them. A batch of events is taken in part: the events that cannot
be stored are refused (422, each named by index, id and field, see :func:`_refusals`),
the others are stored all the same. Storage's exceptions carry their HTTP status
(``UnknownSession`` is a 404), so no route maps them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from agentwatch.server import auth, exports, jsonbody, views, wire
from agentwatch.server.context import ServerContext, get_context
from agentwatch.server.errors import Forbidden, PayloadTooLarge, Unauthorized, Unprocessable
from agentwatch.server.pricing import format_usd
from agentwatch.server.storage import EventRecord, KeyOwner
from agentwatch.server.storage.ingest import UnknownSession

__all__ = ["WireRoute", "api_key_owner", "router"]


class _WireRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = jsonbody.check_items(jsonbody.loads(await self.body()))
        return self._json


class WireRoute(APIRoute):
    """A route whose JSON body is read by :func:`jsonbody.loads` and checked by
    :func:`jsonbody.check_items` (bad events marked, anything else wrong refused)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_wire(request: Request) -> Response:
            wire_request = _WireRequest(request.scope, request.receive)
            if request.method == "POST":
                # Read here, not in FastAPI's handler: it would answer any error raised
                # while reading with a bare 400 "There was an error parsing the body".
                await wire_request.json()
            return await handle(wire_request)

        return handle_wire


router = APIRouter(tags=["v2 ingest (AgentOps compatible)"], route_class=WireRoute)

Context = Annotated[ServerContext, Depends(get_context)]
ApiKeyHeader = Annotated[str | None, Header(alias="X-Agentops-Api-Key")]
ParentKeyHeader = Annotated[str | None, Header(alias="X-Agentops-Parent-Key")]
AuthorizationHeader = Annotated[str | None, Header(alias="Authorization")]


def api_key_owner(ctx: Context, x_agentops_api_key: ApiKeyHeader = None) -> KeyOwner:
    """Dependency: the project of the ``X-Agentops-Api-Key`` header (401/400 otherwise)."""
    owner = ctx.storage.key_owner(auth.parse_api_key(x_agentops_api_key))
    if owner is None:
        raise Unauthorized("Invalid API Key")
    return owner


def session_claims(
    ctx: Context, authorization: AuthorizationHeader = None, x_agentops_api_key: ApiKeyHeader = None
) -> auth.SessionClaims:
    """Dependency: the verified session token.

    agentops 0.3.26 also sends its API key on some JWT calls; when present it must be a
    valid key of the token's project (a key of project A never writes with B's token).
    """
    claims = ctx.signer.verify(auth.bearer_token(authorization))
    if claims.key_id is not None and not ctx.storage.key_is_active(claims.key_id):
        raise Unauthorized("Invalid Token: the API key that issued it was revoked")
    if x_agentops_api_key is not None:
        owner = api_key_owner(ctx, x_agentops_api_key)
        if owner.project_id != claims.project_id:
            raise Forbidden("the API key and the session token belong to different projects")
    return claims


KeyOwnerDep = Annotated[KeyOwner, Depends(api_key_owner)]
Claims = Annotated[auth.SessionClaims, Depends(session_claims)]


class SessionBody(BaseModel):
    """``{"session": {...}}``; unknown keys (SDK internals) are ignored."""

    model_config = ConfigDict(extra="allow")
    session: dict[str, Any] = Field(
        description="session_id (create only), init_timestamp, end_timestamp, tags, host_env, "
        "end_state (Success|Fail|Indeterminate), end_state_reason, video; agentwatch SDKs also "
        "send dropped_events ({reason: count} of events they could not deliver)"
    )


class EventsBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    events: list[Any] = Field(description="events with id, event_type, init_timestamp, ...")


class AgentBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: StrictStr | StrictInt = Field(description="the agent's id (at most 128 characters)")
    name: str | None = None
    logs: Any = None


class ThreadBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: StrictStr | StrictInt = Field(description="the thread's id (at most 128 characters)")
    agent_id: StrictStr | StrictInt | None = None


class ReauthorizeBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    session_id: str


class DeveloperErrorBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    sdk_version: Any = None
    type: Any = None
    message: Any = None
    stack_trace: Any = None
    host_env: Any = None
    session_id: Any = None


@router.post("/v2/create_session")
def create_session(
    body: SessionBody,
    ctx: Context,
    owner: KeyOwnerDep,
    x_agentops_parent_key: ParentKeyHeader = None,
) -> dict[str, Any]:
    """Create a session, or re-attach to this project's existing session with that id."""
    session_id = wire.parse_session_id(body.session.get("session_id"), "session.session_id")
    fields = wire.session_fields(body.session, session_id)
    parent = _parent_project(ctx, x_agentops_parent_key)
    created = ctx.storage.create_or_attach_session(owner.project_id, fields, parent)
    return {
        "status": "Success",
        "jwt": ctx.signer.issue(session_id, owner.project_id, owner.key_id),
        "session_url": ctx.session_url(session_id),
        "session_id": session_id,
        "created": created,
    }


def _parent_project(ctx: ServerContext, parent_key: str | None) -> str | None:
    if parent_key is None or not parent_key.strip():
        return None
    owner = ctx.storage.key_owner(auth.parse_api_key(parent_key))
    if owner is None:
        raise Unauthorized("Invalid parent API key")
    return owner.project_id


@router.post("/v2/update_session")
def update_session(body: SessionBody, ctx: Context, claims: Claims) -> dict[str, Any]:
    """Update the token's session; answers its running cost as ``token_cost``."""
    fields = wire.session_fields(body.session, claims.session_id)
    row = ctx.storage.update_session(claims.project_id, fields)
    if row is None:
        raise UnknownSession(claims.session_id)
    return {
        "status": "success",
        "token_cost": format_usd(row.cost_pico),
        "session_url": ctx.session_url(claims.session_id),
    }


_BATCH_ANSWERS: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "Some events were refused and the others stored: `message` starts "
        "with what is wrong with the first refused; `accepted` counts the events stored (or stored before), "
        "`refused` lists each refused one as `{index, id, message}`."
    }
}


@router.post("/v2/create_events", responses=_BATCH_ANSWERS)
def create_events(body: EventsBody, ctx: Context, claims: Claims) -> str:
    """Store a batch of events; ids already stored are skipped (a retry is harmless).

    Events that cannot be stored are refused and the others stored (a 422 lists them)."""
    records, refused = _records(ctx, body.events, claims.session_id)
    if records:
        ctx.storage.insert_events(claims.project_id, claims.session_id, records)
    _refusals(records, refused)
    return "Success"


@router.post("/v2/update_events", responses=_BATCH_ANSWERS)
def update_events(body: EventsBody, ctx: Context, claims: Claims) -> str:
    """Merge fields into stored events by id (unknown ids are created); counters follow."""
    records, refused = _records(ctx, body.events, claims.session_id)
    now = dt.datetime.now(dt.timezone.utc)

    def renormalize(merged: dict[str, Any]) -> EventRecord:
        return wire.event_record(merged, "event", claims.session_id, ctx.prices, now)

    if records:
        ctx.storage.update_events(claims.project_id, claims.session_id, records, renormalize)
    _refusals(records, refused)
    return "Success"


def _records(
    ctx: ServerContext, events: list[Any], session_id: str
) -> tuple[list[EventRecord], list[dict[str, Any]]]:
    """(records of the events that can be stored, ``{index, id, message}`` of the others)."""
    limit = ctx.settings.max_batch_events
    if len(events) > limit:
        raise PayloadTooLarge(f"{len(events)} events in one request; at most {limit} are accepted")
    now = dt.datetime.now(dt.timezone.utc)
    records, refused = [], []
    for i, event in enumerate(events):
        try:
            records.append(wire.event_record(event, f"events[{i}]", session_id, ctx.prices, now))
        except Unprocessable as exc:
            refused.append({"index": i, "id": jsonbody.item_id(event), "message": exc.message})
    return records, refused


def _refusals(records: list[EventRecord], refused: list[dict[str, Any]]) -> None:
    """Raise the 422 that names the refused events of a batch whose others were stored."""
    if refused:
        total = len(records) + len(refused)
        raise Unprocessable(
            f"{refused[0]['message']} ({len(refused)} of {total} events refused, "
            f"{len(records)} stored)",
            {"accepted": len(records), "refused": refused},
        )


@router.post("/v2/create_agent")
def create_agent(body: AgentBody, ctx: Context, claims: Claims) -> str:
    """Register (or rename) an agent of the token's session."""
    agent_id = wire.identifier(body.id, "id")
    logs = None if body.logs is None else wire.text_of(body.logs)
    ctx.storage.upsert_agent(claims.project_id, claims.session_id, agent_id, body.name, logs)
    return "Success"


@router.post("/v2/create_thread")
def create_thread(body: ThreadBody, ctx: Context, claims: Claims) -> str:
    """Register a thread of the token's session."""
    agent_id = None if body.agent_id is None else wire.identifier(body.agent_id, "agent_id")
    thread_id = wire.identifier(body.id, "id")
    ctx.storage.upsert_thread(claims.project_id, claims.session_id, thread_id, agent_id)
    return "Success"


@router.post("/v2/reauthorize_jwt")
def reauthorize_jwt(body: ReauthorizeBody, ctx: Context, owner: KeyOwnerDep) -> dict[str, Any]:
    """A fresh token for a session of the key's project (the SDK's answer to "Expired Token")."""
    session_id = wire.session_path_id(body.session_id)
    if ctx.storage.session(owner.project_id, session_id) is None:
        raise UnknownSession(session_id)
    return {
        "status": "Success",
        "jwt": ctx.signer.issue(session_id, owner.project_id, owner.key_id),
    }


@router.post("/v2/developer_errors", status_code=204, response_class=Response)
def developer_errors(body: DeveloperErrorBody, ctx: Context, owner: KeyOwnerDep) -> Response:
    """Store an SDK's report about its own failure."""
    values = {
        name: None if value is None else wire.text_of(value)
        for name, value in body.model_dump(
            include={"sdk_version", "type", "message", "stack_trace", "host_env"}
        ).items()
    }
    session_id = body.session_id if isinstance(body.session_id, str) else None
    values["session_id"] = session_id[:36] if session_id else None
    ctx.storage.record_developer_error(owner.project_id, values)
    return Response(status_code=204)


@router.get("/v2/sessions/{session_id}/stats")
def session_stats(session_id: str, ctx: Context, owner: KeyOwnerDep) -> dict[str, Any]:
    """The session's aggregates (404 for a session of another project)."""
    canonical = wire.session_path_id(session_id)
    row = ctx.storage.session(owner.project_id, canonical, as_reader=True)
    if row is None:
        raise UnknownSession(canonical)
    return views.v2_stats(row)


@router.get("/v2/sessions/{session_id}/export", responses=exports.STREAMED)
def session_export(session_id: str, ctx: Context, owner: KeyOwnerDep) -> StreamingResponse:
    """The session and its events grouped by type, as AgentOps exports them: `session`,
    `agents`, `actions` (every type not in another list), `llms`, `tools`, `errors`.
    Streamed, whatever the session's size."""
    canonical = wire.session_path_id(session_id)
    head = ctx.storage.session_head(owner.project_id, canonical)
    if head is None:
        raise UnknownSession(canonical)
    key, row, agents = head

    def pages_of(types: tuple[str, ...] | None) -> Iterator[list[Any]]:
        others = () if types is not None else exports.GROUPED_TYPES
        return ctx.storage.event_pages(row.project_id, key, exports.PAGE_EVENTS, types, others)

    chunks = exports.export_chunks(row, agents, pages_of)
    return StreamingResponse(chunks, media_type="application/json")


@router.get("/health", tags=["health"])
def health() -> dict[str, str]:
    """Liveness: answers without touching the database."""
    return {"status": "ok", "message": "Server Up"}
