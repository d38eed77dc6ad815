"""Model prices and the cost of an LLM call.

The built-in table is ``prices.json`` beside this module (USD per 1M tokens: ``input``,
``output`` and optional ``cached_input``; ``taken`` says when it was copied from the
providers' price pages). ``AGENTWATCH_PRICES_FILE`` names a JSON file of the same shape
whose ``models`` and ``aliases`` are merged over it, to add models or fix a price
without waiting for a release.

Costs are integers of **pico-dollars** (1e-12 USD): sums of integers are exact, so
session totals stay right whatever order concurrent batches land in. Prompt tokens
include cached tokens (the OpenAI convention); cached tokens are billed at
``cached_input`` when the model has one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["PICO", "ModelPrice", "PriceTable", "format_usd", "model_family", "usd_to_pico"]

PICO = 10**12
_PER_TOKEN = Decimal(PICO) / Decimal(10**6)  # pico-dollars per token for a $/1M price
_MAX_PICO = 2**63 - 1

# Bedrock-style "anthropic.claude-..." / "us.anthropic.claude-..." model ids.
_VENDOR_DOT = re.compile(r"^(?:[a-z]{2}\.)?(?:anthropic|mistral|meta|cohere|amazon|google)\.")
# Version suffixes dropped one at a time until a name matches: dates, snapshots, tags.
_SUFFIXES = (
    re.compile(r"-v\d+(?::\d+)?$"),  # bedrock "-v1:0"
    re.compile(r"@(?:\d{8}|latest|\d{3})$"),  # vertex "@20240620"
    re.compile(r"-\d{4}-\d{2}-\d{2}$"),  # openai "-2024-07-18"
    re.compile(r"-\d{8}$"),  # anthropic "-20241022"
    re.compile(r"-(?:preview|exp)(?:-\d{2}-\d{2}|-\d{4})?$"),  # google previews
    re.compile(r"-latest$"),
    re.compile(r"-\d{4}$"),  # "gpt-4-0613", "mistral-large-2411"
    re.compile(r"-\d{3}$"),  # "gemini-1.5-pro-002"
)


@dataclass(frozen=True)
class ModelPrice:
    """USD per 1M tokens."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None


def usd_to_pico(value: float | int | str | Decimal) -> int:
    """Round a USD amount to whole pico-dollars."""
    return int((Decimal(str(value)) * PICO).to_integral_value(ROUND_HALF_EVEN))


def format_usd(pico: int) -> str:
    """A pico-dollar amount as a plain decimal string, e.g. ``"0.000412"`` (zero: ``"0.00"``)."""
    if pico == 0:
        return "0.00"
    text = format((Decimal(pico) / PICO).normalize(), "f")
    return text


class PriceTable:
    """Looks up model prices by name, tolerating dated variants and provider prefixes."""

    def __init__(self, models: dict[str, ModelPrice], aliases: dict[str, str], taken: str) -> None:
        self.models = models
        self.aliases = aliases
        self.taken = taken
        self._cache: dict[str, ModelPrice | None] = {}

    @classmethod
    def load(cls, override: Path | None = None) -> PriceTable:
        """The built-in table, with ``override`` (a JSON file path) merged over it.

        Raises ``ValueError`` naming the file when the override cannot be read or parsed.
        """
        raw = json.loads(resources.files(__package__).joinpath("prices.json").read_text())
        models, aliases = _parse_models(raw, "prices.json"), dict(raw.get("aliases", {}))
        taken = str(raw.get("taken", "unknown"))
        if override is not None:
            try:
                extra = json.loads(override.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"cannot read prices file {override}: {exc}") from None
            models.update(_parse_models(extra, str(override)))
            aliases.update({k.lower(): v.lower() for k, v in extra.get("aliases", {}).items()})
            taken = str(extra.get("taken", taken))
        return cls(models, aliases, taken)

    def lookup(self, model: str) -> ModelPrice | None:
        """The price of ``model``, or ``None`` when no entry matches."""
        key = model.strip().lower()
        if key not in self._cache:
            self._cache[key] = self._match(key)
        return self._cache[key]

    def cost(
        self,
        model: str | None,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        cached_tokens: int | None = None,
    ) -> int | None:
        """Cost of one call in pico-dollars; ``None`` when the model or token counts are unknown."""
        if not model or (prompt_tokens is None and completion_tokens is None):
            return None
        price = self.lookup(model)
        if price is None:
            return None
        prompt, completion = prompt_tokens or 0, completion_tokens or 0
        cached = min(cached_tokens or 0, prompt)
        cached_price = price.cached_input if price.cached_input is not None else price.input
        usd_e6 = (prompt - cached) * price.input + cached * cached_price + completion * price.output
        # Held within BIGINT: token counts near 2**62 would otherwise cost more than the
        # column holds, and the event could not be stored at all.
        return min(int((usd_e6 * _PER_TOKEN).to_integral_value(ROUND_HALF_EVEN)), _MAX_PICO)

    def _match(self, name: str) -> ModelPrice | None:
        for candidate in _candidates(name):
            while True:
                found = self._exact(candidate)
                if found is not None:
                    return found
                stripped = _strip_suffix(candidate)
                if stripped == candidate:
                    break
                candidate = stripped
        return None

    def _exact(self, name: str) -> ModelPrice | None:
        return self.models.get(self.aliases.get(name, name))


def _candidates(name: str) -> list[str]:
    # "openai/gpt-4o", "models/gemini-1.5-flash", "openrouter/anthropic/claude-3-haiku".
    base = name.rsplit("/", 1)[-1]
    names = [name, base]
    dotted = _VENDOR_DOT.sub("", base)
    if dotted != base:
        names.append(dotted)
    return names


def model_family(name: str) -> str:
    """The model a versioned name is a version of, for grouping: trailing dates, snapshot
    numbers and tags stripped one after the other (``gpt-4o-2024-07-18`` -> ``gpt-4o``,
    ``claude-3-5-sonnet-20241022`` -> ``claude-3-5-sonnet``, ``anthropic.claude-3-haiku-
    20240307-v1:0`` -> ``anthropic.claude-3-haiku``); the name itself when none matches.
    Case and provider prefixes are kept: the name stays the one the agent sent."""
    while True:
        stripped = _strip_suffix(name, _FAMILY_SUFFIXES)
        if stripped == name or not stripped:
            return name
        name = stripped


# As for prices, but a bare "-v3" names a model (deepseek-v3), only bedrock's "-v1:0" a version.
_FAMILY_SUFFIXES = (re.compile(r"-v\d+:\d+$"), *_SUFFIXES[1:])


def _strip_suffix(name: str, suffixes: tuple[re.Pattern[str], ...] = _SUFFIXES) -> str:
    for pattern in suffixes:
        stripped = pattern.sub("", name)
        if stripped != name:
            return stripped
    return name


def _parse_models(raw: Any, source: str) -> dict[str, ModelPrice]:
    if not isinstance(raw, dict) or not isinstance(raw.get("models", {}), dict):
        raise ValueError(f"{source}: expected an object with a 'models' object")
    models: dict[str, ModelPrice] = {}
    for name, entry in raw.get("models", {}).items():
        try:
            cached = entry.get("cached_input")
            models[name.lower()] = ModelPrice(
                Decimal(str(entry["input"])),
                Decimal(str(entry["output"])),
                None if cached is None else Decimal(str(cached)),
            )
        except (KeyError, AttributeError, ArithmeticError) as exc:
            raise ValueError(
                f"{source}: model {name!r} needs numeric 'input' and 'output' ({exc})"
            ) from None
    return models
