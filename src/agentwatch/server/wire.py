"""From v2 wire JSON to storage records: lenient about what real SDKs send, strict about types.

Accepts what agentops 0.3.x sends (its whole ``Session.__dict__`` with private keys,
``"returns": ""``, errors with ``timestamp`` instead of ``init_timestamp``, tools with
``tool_name``/``name``, unknown event types) and refuses, with a 422 naming the field and
what is accepted, anything that would store a wrong value (a token count that is not a
number, a timestamp that is not a time).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from agentwatch.server.errors import Unprocessable
from agentwatch.server.jsonbody import Refused
from agentwatch.server.pricing import PriceTable, usd_to_pico
from agentwatch.server.storage.ingest import UnknownSession, counter_of, dump_json
from agentwatch.server.storage.records import EventRecord, SessionFields
from agentwatch.server.storage.schema import SPAN_KINDS, SPAN_STATUSES

__all__ = [
    "END_STATES",
    "END_STATE_ALIASES",
    "display_name",
    "event_record",
    "identifier",
    "parse_end_state",
    "parse_session_id",
    "parse_timestamp",
    "session_fields",
    "session_path_id",
    "text_of",
]

END_STATES = ("Success", "Fail", "Indeterminate")
# Spellings of other SDKs (agentops 0.4 TraceState, OTel status) mapped onto the v2 enum.
END_STATE_ALIASES = {
    "success": "Success",
    "ok": "Success",
    "fail": "Fail",
    "failed": "Fail",
    "failure": "Fail",
    "error": "Fail",
    "indeterminate": "Indeterminate",
    "unset": "Indeterminate",
}
_MAX_INT = 2**62  # fits BIGINT with room for sums
_MAX_ID = 128
_MAX_TAG = 200
# Event ids minted for events sent without one (agentops <= 0.3.23 errors): derived from
# the session and the event's content, so a retried batch still dedupes.
_ID_NAMESPACE = uuid.UUID("5b0c1a6e-3f7d-4d51-9a7e-2f1d0c9b8a71")


def parse_session_id(value: Any, where: str) -> str:
    """A session id as canonical lower-case UUID text."""
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value.strip()))
        except ValueError:
            pass
    raise Unprocessable(f"{where}: expected a UUID string, got {_show(value)}")


def session_path_id(value: str) -> str:
    """A session id named by a client to read or reauthorize it; one that is not a UUID
    names no session and raises :class:`UnknownSession`, as an unknown one does (no oracle)."""
    try:
        return parse_session_id(value, "session_id")
    except Unprocessable:
        raise UnknownSession(str(value)[:_MAX_ID]) from None


def parse_timestamp(value: Any, where: str) -> dt.datetime | None:
    """An ISO-8601 string (or Unix seconds) as an aware UTC datetime; None stays None.

    A timestamp without an offset is taken as UTC.
    """
    if value is None or value == "":
        return None
    parsed: dt.datetime | None = None
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:  # 10**400 is no float, NaN and 1e300 no time
            seconds = value / 1000 if abs(value) > 1e11 else value  # milliseconds
            parsed = dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            parsed = None
    # Years 1 and 9999 are excluded: converting them to UTC can leave datetime's range.
    if parsed is None or not 2 <= parsed.year <= 9998:
        raise Unprocessable(
            f"{where}: expected an ISO-8601 timestamp such as 2025-01-24T15:43:20+00:00, "
            f"got {_show(value)}"
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def session_fields(raw: Any, session_id: str, where: str = "session") -> SessionFields:
    """The session attributes of a create/update body (``session_id`` comes from elsewhere)."""
    if not isinstance(raw, Mapping):
        raise Unprocessable(f"{where}: expected an object, got {_show(raw)}")
    return SessionFields(
        session_id=session_id,
        init_timestamp=parse_timestamp(raw.get("init_timestamp"), f"{where}.init_timestamp"),
        end_timestamp=parse_timestamp(raw.get("end_timestamp"), f"{where}.end_timestamp"),
        end_state=parse_end_state(raw.get("end_state"), f"{where}.end_state"),
        end_state_reason=text_of(raw.get("end_state_reason")),
        tags=_tags(raw.get("tags"), f"{where}.tags"),
        host_env=None if raw.get("host_env") is None else dump_json(raw["host_env"]),
        video=text_of(raw.get("video")),
        dropped_events=_dropped_events(raw.get("dropped_events"), f"{where}.dropped_events"),
    )


_MAX_DROP_REASONS = 50
_MAX_REASON_LENGTH = 64


def _dropped_events(value: Any, where: str) -> str | None:
    """The SDK's counts of events it could not deliver, ``{reason: count}``, as JSON text.

    An agentwatch extension to the v2 session object (other SDKs do not send it); the
    counts are the SDK's running totals, so a later update replaces an earlier one.
    """
    if value is None:
        return None
    accepted = (
        f"expected an object of reason -> count (at most {_MAX_DROP_REASONS} reasons of "
        f"at most {_MAX_REASON_LENGTH} characters, counts non-negative integers)"
    )
    if not isinstance(value, Mapping) or len(value) > _MAX_DROP_REASONS:
        raise Unprocessable(f"{where}: {accepted}, got {_show(value)}")
    counts: dict[str, int] = {}
    for reason, count in value.items():
        if (
            not isinstance(reason, str)
            or not reason
            or len(reason) > _MAX_REASON_LENGTH
            or isinstance(count, bool)
            or not isinstance(count, int)
            or not 0 <= count < 2**63
        ):
            raise Unprocessable(f"{where}: {accepted}, got {_show({reason: count})}")
        counts[_clean(reason)] = count
    return dump_json(dict(sorted(counts.items())))


def parse_end_state(value: Any, where: str) -> str | None:
    """``Success``/``Fail``/``Indeterminate`` (other SDKs' spellings mapped), or None if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lower() in END_STATE_ALIASES:
        return END_STATE_ALIASES[value.strip().lower()]
    raise Unprocessable(f"{where}: expected one of {', '.join(END_STATES)}, got {_show(value)}")


def _tags(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        raise Unprocessable(f"{where}: expected a list of strings, got {_show(value)}")
    tags = []
    for tag in value:
        text = _clean(tag if isinstance(tag, str) else json.dumps(tag, default=str)).strip()
        if len(text) > _MAX_TAG:
            raise Unprocessable(f"{where}: a tag is longer than {_MAX_TAG} characters")
        if text:
            tags.append(text)
    return tuple(dict.fromkeys(tags))


def event_record(
    raw: Any, where: str, session_id: str, prices: PriceTable, now: dt.datetime
) -> EventRecord:
    """One wire event as a record; prices LLM events that come without a ``cost``.

    Raises :class:`Unprocessable` naming ``where`` (e.g. ``events[3].prompt_tokens``), also
    for an event that ``jsonbody.check_items`` refused already.
    """
    if isinstance(raw, Refused):
        raise Unprocessable(raw.message)
    if not isinstance(raw, Mapping):
        raise Unprocessable(f"{where}: expected an event object, got {_show(raw)}")
    event_type = raw.get("event_type")
    if not isinstance(event_type, str) or not event_type.strip() or len(event_type) > 64:
        raise Unprocessable(
            f"{where}.event_type: expected a type name such as llms, tools, actions, errors "
            f"(a string of 1-64 characters), got {_show(event_type)}"
        )
    event_type = _clean(event_type).strip()
    init = parse_timestamp(raw.get("init_timestamp"), f"{where}.init_timestamp")
    if init is None:  # agentops <= 0.3.23 error events carry "timestamp"
        init = parse_timestamp(raw.get("timestamp"), f"{where}.timestamp")
    end = parse_timestamp(raw.get("end_timestamp"), f"{where}.end_timestamp")
    is_llm = event_type == "llms"
    model = text_of(raw.get("model"), limit=200) if is_llm else None
    prompt = _count(raw.get("prompt_tokens"), f"{where}.prompt_tokens")
    completion = _count(raw.get("completion_tokens"), f"{where}.completion_tokens")
    cached = _count(raw.get("cached_tokens"), f"{where}.cached_tokens")
    cost = _cost(raw.get("cost"), f"{where}.cost")
    if cost is None and is_llm:
        cost = prices.cost(model, prompt, completion, cached)
    event_id = _event_id(raw.get("id"), where, session_id, raw)
    parent_id = _identifier(raw.get("parent_id"), f"{where}.parent_id")
    if parent_id == event_id:
        raise Unprocessable(f"{where}.parent_id: an event cannot be its own parent")
    return EventRecord(
        id=event_id,
        event_type=event_type,
        counter=counter_of(event_type),
        kind=_choice(raw.get("kind"), f"{where}.kind", SPAN_KINDS)
        or _V2_KINDS.get(event_type, "other"),
        parent_id=parent_id,
        name=display_name(raw, event_type, model),
        status=_choice(raw.get("status"), f"{where}.status", SPAN_STATUSES)
        or ("error" if event_type == "errors" else "unset"),
        init_timestamp=init or end or now,
        end_timestamp=end,
        agent_id=_identifier(raw.get("agent_id"), f"{where}.agent_id"),
        thread_id=_identifier(raw.get("thread_id"), f"{where}.thread_id"),
        model=model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=cached,
        cost_pico=cost,
        trigger_event_id=_identifier(raw.get("trigger_event_id"), f"{where}.trigger_event_id"),
        trigger_event_type=_identifier(
            raw.get("trigger_event_type"), f"{where}.trigger_event_type", limit=64
        ),
        data=dict(raw),
    )


# v2 event types and the span kinds they are; a v2 event may name its kind (``kind``, an
# agentwatch extension: ``agent`` spans of the SDK's ``track_agent``, say).
_V2_KINDS = {"llms": "llm", "tools": "tool", "actions": "action", "errors": "error"}
# Where each v2 event type keeps what it is called (agentops sends both spellings).
_NAME_FIELDS = {
    "actions": ("action_type", "name"),
    "tools": ("name", "tool_name"),
    "errors": ("error_type", "name"),
    "llms": ("name",),
}
_MAX_NAME = 200


def _choice(value: Any, where: str, accepted: tuple[str, ...]) -> str | None:
    """One of ``accepted`` (case-insensitive), None when absent; 422 for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lower() in accepted:
        return value.strip().lower()
    raise Unprocessable(f"{where}: expected one of {', '.join(accepted)}, got {_show(value)}")


def display_name(raw: Mapping[str, Any], event_type: str, model: str | None) -> str | None:
    """What the event is called in a tree: its type's name field, an LLM call's model."""
    for field in _NAME_FIELDS.get(event_type, ("name", "action_type")):
        value = raw.get(field)
        if isinstance(value, str) and value.strip():
            return _clean(value).strip()[:_MAX_NAME]
    return model


def _event_id(value: Any, where: str, session_id: str, raw: Mapping[str, Any]) -> str:
    if value is None or value == "":
        content = json.dumps(raw, sort_keys=True, default=str)
        return str(uuid.uuid5(_ID_NAMESPACE, session_id + content))
    ident = _identifier(value, f"{where}.id")
    assert ident is not None
    return ident


def identifier(value: Any, where: str) -> str:
    """A required id (string or integer) of at most 128 characters; 422 otherwise."""
    ident = _identifier(value, where)
    if ident is None:
        raise Unprocessable(f"{where}: expected a non-empty id, got {_show(value)}")
    return ident


def _identifier(value: Any, where: str, *, limit: int = _MAX_ID) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Unprocessable(f"{where}: expected a string, got {_show(value)}")
    value = _clean(value).strip()
    if len(value) > limit:
        raise Unprocessable(f"{where}: longer than {limit} characters")
    return value or None


def _count(value: Any, where: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _MAX_INT:
        return value
    raise Unprocessable(f"{where}: expected a whole number of tokens >= 0, got {_show(value)}")


def _cost(value: Any, where: str) -> int | None:
    """A client-given cost in USD (number or decimal string) as pico-dollars."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            amount = Decimal("NaN")
        if amount.is_finite() and 0 <= amount < Decimal(10) ** 6:
            return usd_to_pico(amount)
    raise Unprocessable(
        f"{where}: expected a cost in USD, a number from 0 to 1e6, got {_show(value)}"
    )


def text_of(value: Any, limit: int | None = None) -> str | None:
    """Text as given, or JSON text for other values; NUL removed; cut at ``limit``."""
    if value is None:
        return None
    text = _clean(value if isinstance(value, str) else json.dumps(value, default=str))
    return text[:limit] if limit is not None else text


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL.
    return text.replace("\x00", "") if "\x00" in text else text


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
