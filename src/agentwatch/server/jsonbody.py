"""JSON request bodies, bounded: parsed at any depth, checked once before anything stores them.

Python's parser lets in what no database column or JSON reader takes back: lone surrogates
(``"\\ud800"``, which ``json.dumps`` writes for such a string; neither SQLite nor PostgreSQL
can store one), NaN and the infinities, and nesting too deep to encode again (orjson and
pydantic stop at 255 levels, the interpreter's recursion sooner or later). This module is
the one place that knows:

* :func:`loads` parses a body of any depth. The C parser reads all but hostile bodies; one
  it gives up on (``RecursionError``) is parsed again without recursion, every container
  deeper than :data:`MAX_DEPTH` replaced by :data:`TOO_DEEP`, so that nothing downstream
  can recurse into it.
* :func:`problem` walks a parsed value iteratively and names the first thing wrong with it
  (``params.x: a lone surrogate ...``), or answers None.
* :func:`check_items` applies :func:`problem` to a whole v2 request: a bad element of its
  ``events`` array is replaced by a :class:`Refused` (the route refuses that event and
  stores the others); anything else wrong refuses the request (422).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from agentwatch.server.errors import BadRequest, Unprocessable

__all__ = [
    "MAX_DEPTH",
    "TOO_DEEP",
    "NonFinite",
    "Refused",
    "TooDeep",
    "check_items",
    "item_id",
    "loads",
    "problem",
]

#: Containers nested inside one another, counted from the body's top level. Our SDK cuts
#: its values at 64 levels; readers of stored JSON (orjson, pydantic) stop at 255.
MAX_DEPTH: Final = 100


class NonFinite(float):
    """NaN or an infinity from a request body: Python's JSON parser lets them in, JSON has none.

    A float subclass, so everything treats it as the float it is, while storage can tell it
    from the finite floats it writes with orjson (which would write it as null).
    """


class TooDeep:
    """Where a container nested past :data:`MAX_DEPTH` was in a body parsed by :func:`loads`."""

    def __repr__(self) -> str:
        return "TOO_DEEP"


TOO_DEEP: Final = TooDeep()


@dataclass(frozen=True)
class Refused:
    """An item of a request that :func:`check_items` refused, in the item's place."""

    item_id: str | None  # the item's own "id", when it has a readable one
    message: str  # "events[3].params.x: holds a lone surrogate ..."


def loads(body: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """A request body as JSON; NaN and infinities as :class:`NonFinite`, any depth (a body
    the C parser gives up on keeps containers to ``max_depth`` levels, then :data:`TOO_DEEP`).

    Raises :class:`BadRequest` naming what makes it unreadable.
    """
    try:
        return json.loads(body, parse_constant=NonFinite, parse_float=_float)
    except RecursionError:
        pass  # nested past the C parser's limit: read again, below
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, int too long, not UTF-8
        raise BadRequest(f"malformed JSON body: {exc}") from None
    try:
        text = body.decode() if isinstance(body, bytes) else body
        return _DeepParser(text, max_depth).parse()
    except (ValueError, UnicodeDecodeError, IndexError) as exc:
        raise BadRequest(f"malformed JSON body: {exc or 'unexpected end'}") from None


def _float(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else NonFinite(value)  # 1e999 overflows to inf


# The C string scanner json.loads uses (not in typeshed): strings are no recursion.
scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?|true|false|null")
_CONSTANTS = {"NaN": NonFinite("nan"), "Infinity": NonFinite("inf"), "-Infinity": NonFinite("-inf")}
_LITERALS = {"true": True, "false": False, "null": None}


class _DeepParser:
    """JSON's grammar (as ``json.loads`` reads it) with an explicit stack instead of recursion."""

    def __init__(self, text: str, max_depth: int) -> None:
        self.text = text
        self.pos = 0
        self.max_depth = max_depth

    def parse(self) -> Any:
        # Each frame: [container or TOO_DEEP, the key a dict waits to fill (or None)].
        stack: list[list[Any]] = []
        while True:
            value, opened = self._value_or_open(len(stack))
            if opened is not None:
                stack.append(opened)
                if self._closes_at_once(stack):
                    value = stack.pop()[0]
                else:
                    continue
            while True:
                if not stack:
                    self._skip()
                    if self.pos != len(self.text):
                        raise ValueError(f"extra data at character {self.pos}")
                    return value
                frame = stack[-1]
                self._add(frame, value)
                self._skip()
                char = self._char()
                if char == ",":
                    self.pos += 1
                    if frame[1] is not None:  # a dict's frame: the next key
                        self._key(frame)
                    break
                if char not in "]}":
                    raise ValueError(f"expected ',' or a closing bracket at character {self.pos}")
                self.pos += 1
                value = stack.pop()[0]

    def _value_or_open(self, depth: int) -> tuple[Any, list[Any] | None]:
        self._skip()
        char = self._char()
        if char in "[{":
            self.pos += 1
            container: Any = ({} if char == "{" else []) if depth < self.max_depth else TOO_DEEP
            # A dict frame (even TOO_DEEP's) is told apart by its pending key: "" not None.
            return None, [container, "" if char == "{" else None]
        if char == '"':
            text, self.pos = scanstring(self.text, self.pos + 1)
            return text, None
        for name, constant in _CONSTANTS.items():
            if self.text.startswith(name, self.pos):
                self.pos += len(name)
                return constant, None
        match = _SCALAR.match(self.text, self.pos)
        if match is None:
            raise ValueError(f"expected a value at character {self.pos}")
        self.pos = match.end()
        word = match.group()
        if word in _LITERALS:
            return _LITERALS[word], None
        return (_float(word) if match.group(2) or match.group(3) else int(word)), None

    def _closes_at_once(self, stack: list[list[Any]]) -> bool:
        """Whether the container just opened is empty (and consumed); else its first key is read."""
        frame = stack[-1]
        self._skip()
        if self._char() in "]}":
            self.pos += 1
            return True
        if frame[1] is not None:
            self._key(frame)
        return False

    def _key(self, frame: list[Any]) -> None:
        self._skip()
        if self._char() != '"':
            raise ValueError(f"expected a key at character {self.pos}")
        frame[1], self.pos = scanstring(self.text, self.pos + 1)
        self._skip()
        if self._char() != ":":
            raise ValueError(f"expected ':' at character {self.pos}")
        self.pos += 1

    @staticmethod
    def _add(frame: list[Any], value: Any) -> None:
        container = frame[0]
        if isinstance(container, dict):
            container[frame[1]] = value
        elif isinstance(container, list):
            container.append(value)

    def _skip(self) -> None:
        self.pos = _WHITESPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def _char(self) -> str:
        if self.pos >= len(self.text):
            raise ValueError("unexpected end of the body")
        return self.text[self.pos]


_TOO_DEEP_REASON = f"nested deeper than {MAX_DEPTH} levels (the accepted limit)"


def problem(value: Any, depth: int = 0, where: str = "") -> str | None:
    """The first thing in ``value`` (named ``where``, ``depth`` levels deep in its body) that
    cannot be stored and read back, as ``"<field path>: <what is wrong, what is accepted>"``;
    None if there is none. Iterative: any depth is safe."""
    # Frames are (value, level, parent frame, key): the path is only built for a problem.
    stack: list[tuple[Any, int, Any, Any]] = [(value, depth, None, None)]
    while stack:
        frame = stack.pop()
        item, level = frame[0], frame[1]
        if isinstance(item, str):
            if not item.isascii() and (reason := _text_problem(item)):
                return f"{_path(where, frame)}: {reason}"
        elif isinstance(item, dict | list):
            if level >= MAX_DEPTH:
                return f"{_path(where, frame)}: {_TOO_DEEP_REASON}"
            entries = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in entries:
                if isinstance(key, str) and not key.isascii() and (reason := _text_problem(key)):
                    return f"{_path(where, (None, 0, frame, key))}: the key {reason}"
                kind = type(child)
                # Most values need no look: ASCII text and plain scalars hold no problem.
                if (kind is str and child.isascii()) or kind in _PLAIN:
                    continue
                stack.append((child, level + 1, frame, key))
        elif item is TOO_DEEP:
            return f"{_path(where, frame)}: {_TOO_DEEP_REASON}"
    return None


_PLAIN = frozenset((int, float, bool, type(None)))


def _text_problem(text: str) -> str | None:
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        return (
            f"holds a lone surrogate (U+{code:04X}) at character {exc.start}, which is not "
            "text: send valid UTF-8 (surrogates only in pairs)"
        )
    return None


def _path(where: str, frame: Any) -> str:
    keys = []
    while frame is not None and frame[2] is not None:
        keys.append(frame[3])
        frame = frame[2]
    text = where
    for key in reversed(keys[-_SHOWN_KEYS:]):
        if isinstance(key, int):
            text += f"[{key}]"
        else:  # shown as text a response can carry: surrogates escaped, long keys cut
            name = key[:40].encode("utf-8", "backslashreplace").decode()
            text += f".{name}" if text else name
    if len(keys) > _SHOWN_KEYS:
        text += f"...({len(keys) - _SHOWN_KEYS} levels more)"
    return text or "body"


_SHOWN_KEYS = 8


def check_items(body: Any, items: str = "events") -> Any:
    """``body`` with each bad element of its ``items`` array replaced by a :class:`Refused`.

    Raises :class:`Unprocessable` for anything wrong outside that array.
    """
    if isinstance(body, dict) and isinstance(body.get(items), list):
        elements = body[items]
        for index, element in enumerate(elements):
            reason = problem(element, 2, f"{items}[{index}]")
            if reason is not None:
                elements[index] = Refused(item_id(element), reason)
        rest = {key: value for key, value in body.items() if key != items}
        reason = problem(rest)
    else:
        reason = problem(body)
    if reason is not None:
        raise Unprocessable(reason)
    return body


def item_id(element: Any) -> str | None:
    """The ``id`` an item of a request names itself by, when it is a readable one."""
    if isinstance(element, Refused):
        return element.item_id
    ident = element.get("id") if isinstance(element, Mapping) else None
    if isinstance(ident, int) and not isinstance(ident, bool):
        ident = str(ident)
    if isinstance(ident, str) and len(ident) <= 128 and problem(ident) is None:
        return ident
    return None
