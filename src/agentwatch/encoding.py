"""JSON encoding of whatever users put into events, faithfully and without raising.

Values that JSON cannot hold natively are converted to what they mean, not to ``""``
(AgentOps' ``filter_unjsonable`` replaced them with empty strings, which lost OpenAI
responses): pydantic models through ``model_dump``, objects with ``to_dict``/``dict``,
dataclasses, datetimes, UUIDs, enums, sets, bytes, Decimals, paths and exceptions.
Anything else falls back to its ``repr``. Encoding never raises.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import math
import sys
import uuid
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import orjson

__all__ = ["dumps", "to_jsonable"]

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_MAX_DEPTH = 64


def dumps(value: Any) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON. Never raises.

    The fast path is orjson with :func:`_default` for foreign types; values orjson
    refuses outright (integers beyond 64 bits, cycles, very deep nesting, NaN keys)
    take the slow path through :func:`to_jsonable`.
    """
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        return orjson.dumps(to_jsonable(value), option=_OPTIONS)


def _default(obj: Any) -> Any:
    """orjson's hook for types it does not know; returning must make progress."""
    converted = _convert(obj)
    if converted is obj:
        raise TypeError
    return converted


def _convert(obj: Any) -> Any:
    """One step towards JSON for a non-native value."""
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump) and not isinstance(obj, type):
        try:
            return model_dump(mode="json")
        except Exception:
            pass
    for name in ("to_dict", "dict", "_asdict"):
        method = getattr(obj, name, None)
        if callable(method) and not isinstance(obj, type):
            try:
                result = method()
            except Exception:
                continue
            if isinstance(result, Mapping):
                return dict(result)
    return _convert_plain(obj)


def _convert_plain(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    decimal = sys.modules.get("decimal")  # not imported: obj cannot be a Decimal
    if decimal is not None and isinstance(obj, decimal.Decimal):
        return str(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(data).decode("ascii")}
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, BaseException):
        return {"type": type(obj).__name__, "message": str(obj)}
    if isinstance(obj, dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, complex):
        return [obj.real, obj.imag]
    return _repr(obj)


def _repr(obj: Any) -> str:
    try:
        return repr(obj)
    except Exception:
        return f"<unrepresentable {type(obj).__name__}>"


def to_jsonable(value: Any, _depth: int = 0, _seen: frozenset[int] = frozenset()) -> Any:
    """A JSON-safe copy of ``value``: cycles and excess depth become markers, big ints strings."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if _depth >= _MAX_DEPTH:
        return "<too deep>"
    if id(value) in _seen:
        return "<cycle>"
    seen = _seen | {id(value)}
    if isinstance(value, Mapping):
        return {_key(k): to_jsonable(v, _depth + 1, seen) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, _depth + 1, seen) for v in value]
    native = _native(value)
    if native is not None:
        return native
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return to_jsonable(fields, _depth + 1, seen)
    converted = _convert(value)
    if isinstance(converted, str):
        return converted
    return to_jsonable(converted, _depth + 1, seen)


def _native(value: Any) -> Any:
    """Types orjson encodes by itself, in the form it would use."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    return None


def _key(key: Any) -> str:
    return key if isinstance(key, str) else str(key)
