"""Prices per million tokens, per model, and the cost of a call.

The built-in table covers common models; override or extend it in a YAML file
named by ``EVALKIT_PRICES`` (default ``~/.config/evalkit/prices.yaml``)::

    anthropic:claude-opus-4-5: {input: 5.0, output: 25.0}
    openai:my-finetune: {input: 1.0, output: 2.0, cache_read: 0.25}

Keys match a model name exactly or as a prefix (``anthropic:claude-opus-4``).
Replays, scripted and local models cost nothing.

Prompt caching: input tokens read from a provider's prompt cache
(:attr:`Usage.cache_read_tokens`) cost ``cache_read`` per million, tokens written
to it (:attr:`Usage.cache_write_tokens`) ``cache_write``. Left out, they follow the
provider's rule: Anthropic charges 0.1x the input price for a read and 1.25x for a
(5-minute) write; OpenAI charges a per-model discounted read price and, before the
GPT-5.6 family, nothing extra for a write (the input price).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import SpecError
from evalkit.spec.loading import read_yaml, validation_to_spec_error

__all__ = ["BATCH_DISCOUNT", "Price", "Tokens", "cost_usd", "price_for"]


class Tokens(Protocol):
    """The token counts a price applies to (:class:`~evalkit.models.base.Usage` has them)."""

    @property
    def uncached_input_tokens(self) -> int: ...
    @property
    def cache_read_tokens(self) -> int: ...
    @property
    def cache_write_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...


# What a provider charges for prompt-cache reads and writes, as multiples of the input price,
# when a price names no cache rates of its own.
_CACHE_READ_FACTOR = {"anthropic": 0.1, "openai": 0.5}
_CACHE_WRITE_FACTOR = {"anthropic": 1.25, "openai": 1.0}


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens: input, output, and prompt-cache reads and writes (None: the provider's rule)."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None

    def for_provider(self, provider: str) -> Price:
        """This price with the cache rates filled in by ``provider``'s rule (the input price if unknown)."""
        read = self.cache_read
        if read is None:
            read = self.input * _CACHE_READ_FACTOR.get(provider, 1.0)
        write = self.cache_write
        if write is None:
            write = self.input * _CACHE_WRITE_FACTOR.get(provider, 1.0)
        return Price(self.input, self.output, read, write)


_BUILTIN: dict[str, Price] = {
    "anthropic:claude-opus-4-5": Price(5.0, 25.0),
    "anthropic:claude-opus-4-1": Price(15.0, 75.0),
    "anthropic:claude-opus-4": Price(15.0, 75.0),
    "anthropic:claude-opus": Price(5.0, 25.0),
    "anthropic:claude-sonnet": Price(3.0, 15.0),
    "anthropic:claude-haiku": Price(1.0, 5.0),
    "openai:gpt-4o-mini": Price(0.15, 0.6, cache_read=0.075),
    "openai:gpt-4o": Price(2.5, 10.0, cache_read=1.25),
    "openai:gpt-4.1": Price(2.0, 8.0, cache_read=0.5),
    "openai:gpt-5": Price(1.25, 10.0, cache_read=0.125),
    "openai:o3": Price(2.0, 8.0, cache_read=0.5),
}

_FREE_PROVIDERS = ("replay:", "scripted:", "journal:", "transcript:", "local:")


class _PriceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)


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
            table[name] = Price(entry.input, entry.output, entry.cache_read, entry.cache_write)
    return table


def price_for(model: str) -> Price | None:
    """The price of ``model`` (``provider:id``): exact match, else the longest matching prefix.

    Its cache rates are filled in by the provider's rule where the table names none.
    """
    table = _table()  # loaded (and an override file validated) even for free models
    if model.startswith(_FREE_PROVIDERS):
        return Price(0.0, 0.0, 0.0, 0.0)
    provider = model.partition(":")[0]
    if model in table:
        return table[model].for_provider(provider)
    matches = [k for k in table if model.startswith(k)]
    return table[max(matches, key=len)].for_provider(provider) if matches else None


BATCH_DISCOUNT = 0.5  # both Anthropic's Message Batches and OpenAI's Batch API charge half


def cost_usd(model: str, usage: Tokens, *, batch: bool = False) -> float:
    """Dollars for one call (at batch prices with ``batch``); 0 for unknown models.

    Cache reads and writes are priced at the cache rates, the rest of the input at the input price.
    """
    price = price_for(model)
    if price is None:
        return 0.0
    dollars = (
        usage.uncached_input_tokens * price.input
        + usage.cache_read_tokens * (price.cache_read if price.cache_read is not None else price.input)
        + usage.cache_write_tokens * (price.cache_write if price.cache_write is not None else price.input)
        + usage.output_tokens * price.output
    ) / 1_000_000
    return dollars * BATCH_DISCOUNT if batch else dollars
