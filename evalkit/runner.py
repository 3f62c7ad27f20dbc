"""Orchestration: every (model, sample, problem) conversation of a run, concurrently.

Per model, one run directory. Each conversation is an asyncio task; model calls
go through, outermost first: the journal (resume: replies already stored are
served from the run's own journal), the response cache (a reply seen before is
not paid for again), a wait until the replies the call is built on are on disk
(:meth:`~evalkit.store.RunStore.synced`), the call limits (connections, requests
per minute, cost), and the provider adapter (with its own retries). In batch mode
(``--batch``) the adapter is reached through :class:`~evalkit.models.batch.BatchingModel`,
which sends each wave of turns as one provider batch, and only the cost cap applies.

A judge (``--judge``) grading a model run's explanations is counted in its
:class:`JudgeTally`: its calls, tokens and dollars, which count toward the cost cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from evalkit.cache import ResponseCache, cached, request_key
from evalkit.conversation import ConversationResult, Opening, run_conversation, run_opening
from evalkit.models.base import GenerationOptions, Model, ModelRequest, ModelResponse, Usage
from evalkit.models.batch import BatchingModel, BatchPolling, budget_only
from evalkit.models.journal import JournalModel, stored_turns
from evalkit.models.limits import CallLimits, LimitedModel, Spend
from evalkit.pricing import cost_usd
from evalkit.probes import ProbeSetting
from evalkit.results import JudgeSpend, counting_opening
from evalkit.spec.prompts import PromptSet
from evalkit.spec.suite import Suite
from evalkit.store import RunStore, conv_id

__all__ = ["JudgeTally", "Listener", "ModelRun", "execute"]

Listener = Callable[[str, dict[str, Any]], None]
# counts a run's judge calls in the context it opens (the grading threads of its tasks included)
JudgeMetering = Callable[["JudgeTally"], AbstractContextManager[object]]
T = TypeVar("T")


class _Tee:
    """Sends each event to the store and to the progress listener."""

    def __init__(self, store: RunStore, listener: Listener | None, model: str) -> None:
        self.store, self.listener, self.model = store, listener, model

    def event(self, type: str, **data: Any) -> None:
        self.store.event(type, **data)
        if self.listener is not None:
            self.listener(type, {"model": self.model, **data})


class JudgeTally:
    """What the judge cost one model run: calls, tokens, dollars; the dollars count toward ``--max-cost``.

    Judge replies arrive on the grading threads; their dollars are added to the run's
    :class:`~evalkit.models.limits.Spend` on the event loop, the one thread that writes it, before
    the conversation that was graded asks its next turn (whose cost check then includes them).
    """

    def __init__(self, spend: Spend | None = None, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """With no ``spend`` (a transcript's grading: no budget), the judge is counted, not charged."""
        self._spend, self._loop = spend, loop
        self._lock = threading.Lock()
        self._judge, self._calls, self._usage, self._cost = "", 0, Usage(), 0.0

    def judged(self, judge: str, usage: Usage) -> None:
        cost = cost_usd(judge, usage)
        with self._lock:
            self._judge, self._calls = judge, self._calls + 1
            self._usage, self._cost = self._usage + usage, self._cost + cost
        if self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._charge, cost)
        except RuntimeError:  # the loop has closed: the run is over and there is nothing left to cap
            pass

    def _charge(self, cost: float) -> None:
        if self._spend is not None:
            self._spend.cost_usd += cost

    def spent(self) -> JudgeSpend | None:
        """The judge's calls, tokens and dollars so far; None if no judge was asked."""
        with self._lock:
            return JudgeSpend(self._judge, self._calls, self._usage, self._cost) if self._calls else None


@dataclass
class ModelRun:
    """One model's share of a run: its client, its run directory, and its results."""

    model: Model
    store: RunStore
    stored_events: list[dict[str, Any]] = field(default_factory=list)
    options: GenerationOptions | None = None  # this model's generation options, if not the run's
    conversations: list[ConversationResult] = field(default_factory=list)
    client: Model | None = None  # the wrapped model actually used
    waves: BatchingModel | None = None  # batch mode: collects each wave of turns into one batch
    judge: JudgeTally | None = None  # what the judge (--judge) cost, once the run has started


class Journal(Protocol):
    async def synced(self, *convs: str) -> None: ...


class _AfterTheJournal:
    """A model whose calls go out once the replies they are built on are on disk (the store's group commit).

    Nothing is asked of a provider (nor paid for) on the strength of a reply a power loss could still take.
    """

    def __init__(self, inner: Model, journal: Journal) -> None:
        self.inner, self.journal = inner, journal
        self.name, self.provider = inner.name, inner.provider

    async def generate(self, request: ModelRequest) -> ModelResponse:
        if request.conv:  # its conversation's replies, and the opening exchange it continues
            await self.journal.synced(request.conv, conv_id(request.sample, None))
        else:
            await self.journal.synced()
        return await self.inner.generate(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def wrap_model(
    model: Model,
    *,
    limits: CallLimits,
    cache: ResponseCache | None,
    base_url: str | None,
    stored_events: list[dict[str, Any]],
    journal: Journal,
    waves: BatchingModel | None = None,
) -> Model:
    client: Model = LimitedModel(model, limits) if waves is None else LimitedModel(waves, budget_only(limits))
    client = _AfterTheJournal(client, journal)
    # a local model's replies are keyed by its weights' hash, not by where its server listened
    client = cached(client, cache, getattr(model, "cache_scope", None) or base_url)
    if stored_events:
        client = JournalModel(model.name, stored_turns(stored_events), fallback=client)
    return client


async def _tracked(waves: BatchingModel | None, conversation: Awaitable[T], successors: int = 0) -> T:
    """Await one conversation; in batch mode, then tell the waves it asks nothing more."""
    try:
        result = await conversation
    except BaseException:
        if waves is not None:
            waves.conversation_ended()
        raise
    if waves is not None:
        waves.conversation_ended(successors)
    return result


async def _one_sample(
    mr: ModelRun,
    metered: AbstractContextManager[object],
    client: Model,
    suite: Suite,
    prompts: PromptSet,
    sample: int,
    options: GenerationOptions,
    listener: Listener | None,
    sandbox: Any,
    probes: ProbeSetting = "none",
) -> list[ConversationResult]:
    recorder = _Tee(mr.store, listener, mr.model.name)
    with metered:  # what the judge is asked while this sample is graded is this run's
        opening: Opening = await _tracked(
            mr.waves,
            run_opening(
                client,
                prompts,
                list(suite.problems),
                options=options,
                sample=sample,
                recorder=recorder,
                conv=conv_id(sample, None),
            ),
            successors=len(suite.problems),
        )
        tasks = [
            _tracked(
                mr.waves,
                run_conversation(
                    client,
                    prompts,
                    lp,
                    number,
                    opening,
                    options=options,
                    sample=sample,
                    sandbox=sandbox,
                    recorder=recorder,
                    conv=conv_id(sample, lp.id),
                    probes=probes,
                ),
            )
            for number, lp in enumerate(suite.problems, 1)
        ]
        results = list(await asyncio.gather(*tasks))
    return counting_opening(results, opening.usage)


async def execute(
    runs: list[ModelRun],
    suite: Suite,
    prompts: PromptSet,
    *,
    samples: int,
    options: GenerationOptions,
    probes: ProbeSetting = "none",
    limits: CallLimits,
    cache: ResponseCache | None,
    base_url: str | None,
    listener: Listener | None = None,
    sandbox: Any = None,
    batch: BatchPolling | None = None,
    judge_meter: JudgeMetering | None = None,
) -> None:
    """Run every conversation of every model run; results land in each ``ModelRun``.

    With ``batch``, each model's turns go out in waves through its provider's batch API.
    ``judge_meter`` (:func:`evalkit.checks.criteria.metering`, from the API) counts the judge's
    calls of each model run's grading in its :class:`JudgeTally`.
    """
    jobs = []
    for mr in runs:
        mr.judge = JudgeTally(limits.spend, asyncio.get_running_loop())
        if batch is not None:
            mr.waves = BatchingModel(
                mr.model,
                custom_id=functools.partial(request_key, mr.model.name, base_url),
                polling=batch,
                journal=mr.store,
                stored_events=mr.stored_events,
            )
            mr.waves.conversations_started(samples)  # each sample's opening
        mr.client = wrap_model(
            mr.model,
            limits=limits,
            cache=cache,
            base_url=base_url,
            stored_events=mr.stored_events,
            journal=mr.store,
            waves=mr.waves,
        )
        for sample in range(samples):
            mine = mr.options or options
            metered = judge_meter(mr.judge) if judge_meter is not None else contextlib.nullcontext()
            jobs.append(
                (
                    mr,
                    _one_sample(
                        mr, metered, mr.client, suite, prompts, sample, mine, listener, sandbox, probes
                    ),
                )
            )
    try:
        gathered = await asyncio.gather(*(job for _, job in jobs))
    finally:
        for mr in runs:
            await (mr.client or mr.model).aclose()
    for (mr, _), results in zip(jobs, gathered, strict=True):
        mr.conversations.extend(results)
