"""Bounds on model calls: concurrent connections, requests per minute, and a run's cost.

``LimitedModel`` wraps a model so at most ``max_connections`` requests are in
flight, requests start no faster than ``rpm`` per minute, and the run stops
with :class:`~evalkit.errors.BudgetExceeded` once ``max_cost`` dollars are spent.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from evalkit.errors import BudgetExceeded
from evalkit.models.base import Model, ModelRequest, ModelResponse
from evalkit.pricing import cost_usd

__all__ = ["CallLimits", "LimitedModel", "Spend"]


@dataclass
class Spend:
    """Money and tokens spent so far in a run (shared by every conversation)."""

    cost_usd: float = 0.0
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class CallLimits:
    max_connections: int = 8
    rpm: float | None = None
    max_cost: float | None = None
    batch: bool = False  # calls are priced at the batch discount
    spend: Spend = field(default_factory=Spend)
    _semaphore: asyncio.Semaphore | None = None
    _next_start: float = 0.0
    _lock: asyncio.Lock | None = None

    def semaphore(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(max(1, self.max_connections))
        return self._semaphore

    async def pace(self) -> None:
        """Wait until a request may start under the requests-per-minute limit."""
        if not self.rpm:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            now = time.monotonic()
            wait = self._next_start - now
            self._next_start = max(now, self._next_start) + 60.0 / self.rpm
        if wait > 0:
            await asyncio.sleep(wait)


class LimitedModel:
    """A model whose calls respect :class:`CallLimits` and are priced as they complete."""

    def __init__(self, inner: Model, limits: CallLimits) -> None:
        self.inner = inner
        self.limits = limits
        self.name = inner.name
        self.provider = inner.provider

    async def generate(self, request: ModelRequest) -> ModelResponse:
        limits = self.limits
        await limits.pace()
        async with limits.semaphore():
            # checked once a connection is free, so at most max_connections calls overshoot the budget
            if limits.max_cost is not None and limits.spend.cost_usd >= limits.max_cost:
                raise BudgetExceeded(
                    f"the run reached its --max-cost of ${limits.max_cost:.2f} "
                    f"(spent ${limits.spend.cost_usd:.2f}); raise it and continue with 'evalkit run --resume RUN'"
                )
            response = await self.inner.generate(request)
        spend = limits.spend
        spend.calls += 1
        spend.input_tokens += response.usage.input_tokens
        spend.output_tokens += response.usage.output_tokens
        spend.cost_usd += cost_usd(self.name, response.usage, batch=limits.batch)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
