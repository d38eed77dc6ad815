"""What the SDK's and the server's settings tables share: the row type and the parsers.

A parser takes the text of an environment variable and returns the value, or raises
``ValueError`` whose message says what is accepted ("accepted: ..."); the caller names
the variable and the value it was given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Setting",
    "from_environment",
    "parse_bool",
    "parse_non_negative_int",
    "parse_optional_str",
    "parse_positive_float",
    "parse_positive_int",
    "parse_str",
]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class Setting:
    """One row of a settings table: name, environment variable, default, parser, doc.

    ``secret``: the value may hold credentials, so messages about it never show it.
    """

    name: str
    env: str
    default: Any
    parse: Callable[[str], Any]
    doc: str
    secret: bool = False

    def shown(self, value: object) -> str:
        """``value`` as messages show it: its repr, or a placeholder for a secret."""
        return "<not shown: may hold credentials>" if self.secret else repr(value)


def from_environment(setting: Setting, env: Mapping[str, str]) -> Any:
    """The value of ``setting`` from ``env``, or its default when unset or blank.

    Raises ``ValueError`` naming the variable, the value and what is accepted.
    """
    raw = env.get(setting.env)
    if raw is None or raw.strip() == "":
        return setting.default
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise ValueError(f"{setting.env}={setting.shown(raw)} is not valid; {exc}") from None


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("accepted: true/false, 1/0, yes/no, on/off")


def _parse_int(raw: str, minimum: int, accepted: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError(accepted) from None
    if value < minimum:
        raise ValueError(accepted)
    return value


def parse_positive_int(raw: str) -> int:
    return _parse_int(raw, 1, "accepted: a positive integer")


def parse_non_negative_int(raw: str) -> int:
    return _parse_int(raw, 0, "accepted: an integer >= 0")


def parse_positive_float(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("accepted: a positive number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("accepted: a positive number of seconds")
    return value


def parse_str(raw: str) -> str:
    return raw.strip()


def parse_optional_str(raw: str) -> str | None:
    return raw.strip() or None
