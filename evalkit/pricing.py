"""Prices per million tokens, per model, and the cost of a call.

The built-in table covers common models; override or extend it in a YAML file
named by ``EVALKIT_PRICES`` (default ``~/.config/evalkit/prices.yaml``)::

    anthropic:claude-opus-4-5: {input: 5.0, output: 25.0}
    openai:my-finetune: {input: 1.0, output: 2.0}

Keys match a model name exactly or as a prefix (``anthropic:claude-opus-4``).
Replays, scripted and local models cost nothing.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import SpecError
from evalkit.models.base import Usage
from evalkit.spec.loading import read_yaml, validation_to_spec_error

__all__ = ["BATCH_DISCOUNT", "Price", "cost_usd", "price_for"]


@dataclass(frozen=True)
class Price:
    input: float  # dollars per million input tokens
    output: float  # dollars per million output tokens


_BUILTIN: dict[str, Price] = {
    "anthropic:claude-opus-4-5": Price(5.0, 25.0),
    "anthropic:claude-opus-4-1": Price(15.0, 75.0),
    "anthropic:claude-opus-4": Price(15.0, 75.0),
    "anthropic:claude-opus": Price(5.0, 25.0),
    "anthropic:claude-sonnet": Price(3.0, 15.0),
    "anthropic:claude-haiku": Price(1.0, 5.0),
    "openai:gpt-4o-mini": Price(0.15, 0.6),
    "openai:gpt-4o": Price(2.5, 10.0),
    "openai:gpt-4.1": Price(2.0, 8.0),
    "openai:gpt-5": Price(1.25, 10.0),
    "openai:o3": Price(2.0, 8.0),
}

_FREE_PROVIDERS = ("replay:", "scripted:", "journal:", "transcript:")


class _PriceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    input: float = Field(ge=0)
    output: float = Field(ge=0)


class _PriceFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    prices: dict[str, _PriceEntry] = Field(default_factory=dict)


@functools.cache
def _table() -> dict[str, Price]:
    table = dict(_BUILTIN)
    path = Path(os.environ.get("EVALKIT_PRICES") or Path.home() / ".config" / "evalkit" / "prices.yaml")
    if path.is_file():
        data, lines = read_yaml(path)
        try:
            entries = _PriceFile.model_validate({"prices": data}).prices
        except ValidationError as err:
            shifted = {("prices", *loc): line for loc, line in lines.items()}
            spec = validation_to_spec_error(err, path, shifted)
            field = (spec.field or "").removeprefix("prices.") or None
            raise SpecError(spec.message, path=path, line=spec.line, field=field) from None
        for name, entry in entries.items():
            table[name] = Price(entry.input, entry.output)
    return table


def price_for(model: str) -> Price | None:
    """The price of ``model`` (``provider:id``): exact match, else the longest matching prefix."""
    table = _table()  # loaded (and an override file validated) even for free models
    if model.startswith(_FREE_PROVIDERS):
        return Price(0.0, 0.0)
    if model in table:
        return table[model]
    matches = [k for k in table if model.startswith(k)]
    return table[max(matches, key=len)] if matches else None


BATCH_DISCOUNT = 0.5  # both Anthropic's Message Batches and OpenAI's Batch API charge half


def cost_usd(model: str, usage: Usage, *, batch: bool = False) -> float:
    """Dollars for one call (at batch prices with ``batch``); 0 for unknown models."""
    price = price_for(model)
    if price is None:
        return 0.0
    dollars = (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1_000_000
    return dollars * BATCH_DISCOUNT if batch else dollars
