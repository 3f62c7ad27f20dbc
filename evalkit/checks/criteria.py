"""The ``criteria`` check kind: a conceptual answer graded claim by claim.

A rubric lists the key claims a good answer makes; each claim has accepted
phrasings (regular expressions, any of which counts), points, and whether it
is required. The answer is ``correct`` when every required claim is met and
the points earned reach ``pass_threshold`` (a fraction of all points);
otherwise ``incorrect`` with the fraction earned as a partial score. The
explanation lists the claims met and missed.

Rubric example::

    - kind: criteria
      pass_threshold: 0.6
      criteria:
        - claim: argmax has zero (or undefined) gradient
          patterns: ['not differentiable', 'gradient[^.]*\\bzero']
          points: 2
          required: true
        - claim: the selected value still receives a gradient
          patterns: ['gradients?[^.]*(flow|reach)[^.]*value']
          points: 1

Patterns are matched case-insensitively against the answer with emphasis
markers (``*``, ``**``) removed and whitespace collapsed, so a pattern may
span a line break but should stay within a sentence (``[^.]*``).

**Judge.** Inside ``with use_judge(model):`` the claims are graded by a judge
:class:`~evalkit.models.base.Model` instead of the patterns: it gets the part,
the expected answer and the claims as instructions and must reply with JSON
``{"claims": [{"index": 1, "met": true, "quote": "..."}]}``. A judge reply that
cannot be parsed, a judge error or timeout make the check ``unscored`` (reasons
``judge_parse_error``, ``judge_error``, ``judge_timeout``), never ``correct``.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evalkit.checks.base import Answer, CheckContext, CheckParams, CheckResult, register_checker

__all__ = [
    "CriteriaParams",
    "Criterion",
    "JudgeSession",
    "current_judge",
    "judge_claims",
    "judging",
    "keyword_claims",
    "use_judge",
]

_MAX_INPUT = 100_000
_MAX_JUDGE_REPLY = 50_000
T = TypeVar("T")


class Criterion(CheckParams):
    """One key claim: accepted phrasings, points, and whether the answer must make it."""

    claim: str = Field(min_length=1)
    patterns: list[str] = Field(min_length=1)
    points: float = Field(default=1.0, ge=0)
    required: bool = False

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"invalid regular expression {pattern!r}: {err}") from None
        return patterns


class CriteriaParams(CheckParams):
    criteria: list[Criterion] = Field(min_length=1)
    pass_threshold: float = Field(default=1.0, ge=0, le=1)


def _normalize(text: str) -> str:
    """Drop emphasis markers and collapse whitespace, so phrasings match across markup and lines."""
    text = re.sub(r"\*+", "", text[:_MAX_INPUT])
    return re.sub(r"\s+", " ", text)


def keyword_claims(params: CriteriaParams, text: str) -> list[bool]:
    """For each criterion, whether one of its patterns occurs in ``text``."""
    body = _normalize(text)
    return [any(re.search(p, body, re.IGNORECASE) for p in c.patterns) for c in params.criteria]


def _verdict(params: CriteriaParams, met: list[bool], source: str, **details: Any) -> CheckResult:
    total = sum(c.points for c in params.criteria)
    earned = sum(c.points for c, ok in zip(params.criteria, met, strict=True) if ok)
    score = earned / total if total else float(all(met))
    missed_required = [c.claim for c, ok in zip(params.criteria, met, strict=True) if c.required and not ok]
    lines = [
        ("✓ " if ok else "✗ ") + c.claim + (" (required)" if c.required and not ok else "")
        for c, ok in zip(params.criteria, met, strict=True)
    ]
    summary = f"{source}: {sum(met)}/{len(met)} claims, {earned:g}/{total:g} points — " + "; ".join(lines)
    details = {
        "met": [c.claim for c, ok in zip(params.criteria, met, strict=True) if ok],
        "missed": [c.claim for c, ok in zip(params.criteria, met, strict=True) if not ok],
        "graded_by": source,
        **details,
    }
    if not missed_required and score >= params.pass_threshold - 1e-9:
        return CheckResult("correct", summary, round(score, 6), None, details)
    if missed_required:
        summary += f" — missing required: {', '.join(missed_required)}"
    else:
        summary += f" — below the pass threshold {params.pass_threshold:g}"
    return CheckResult("incorrect", summary, round(score, 6), None, details)


# --- the judge --------------------------------------------------------------------------------------


class _ClaimVerdict(BaseModel):
    model_config = ConfigDict(extra="ignore")

    index: int
    met: bool
    quote: str | None = None


class _JudgeVerdict(BaseModel):
    model_config = ConfigDict(extra="ignore")

    claims: list[_ClaimVerdict]


class JudgeSession:
    """A judge model and the event loop its calls run on (one thread, so async clients stay on one loop)."""

    def __init__(self, model: Any, timeout_s: float = 600.0) -> None:
        self.model = model
        self.timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="evalkit-judge", daemon=True)
        self._thread.start()

    @property
    def name(self) -> str:
        return str(getattr(self.model, "name", "judge"))

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the judge loop and wait at most ``timeout_s``."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            future.cancel()
            raise

    def close(self) -> None:
        if self._loop.is_closed():
            return

        async def cancel_pending() -> None:  # e.g. a judge call that timed out
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(cancel_pending(), self._loop).result(timeout=10)
        except FutureTimeout:  # pragma: no cover - a judge that ignores cancellation
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


_JUDGE: ContextVar[JudgeSession | None] = ContextVar("evalkit_judge", default=None)


def current_judge() -> JudgeSession | None:
    """The judge in effect for ``criteria`` checks in this context, if any."""
    return _JUDGE.get()


@contextmanager
def use_judge(model: Any, timeout_s: float = 600.0) -> Iterator[JudgeSession]:
    """Grade ``criteria`` checks with ``model`` (a :class:`~evalkit.models.base.Model`) inside the block.

    Example::

        with use_judge(resolve_model("claude")):
            grade = grade_part(problem, part, rubric, answer)
    """
    session = JudgeSession(model, timeout_s)
    token = _JUDGE.set(session)
    try:
        yield session
    finally:
        _JUDGE.reset(token)
        session.close()


@contextmanager
def judging(judge: Any, settings: Any = None) -> Iterator[str | None]:
    """Grade ``criteria`` checks with ``judge`` inside the block: a model name, a Model, or None (patterns).

    A judge named here is created here and closed on the way out; yields the judge's name.
    """
    if judge is None:
        yield None
        return
    from evalkit.models.registry import resolve_model

    model = resolve_model(judge, settings) if isinstance(judge, str) else judge
    with use_judge(model) as session:
        try:
            yield session.name
        finally:
            if isinstance(judge, str):
                session.call(model.aclose())


_JUDGE_SYSTEM = (
    "You grade one part of a student's (or a model's) homework answer against a rubric. "
    "For each numbered claim, decide whether the answer makes that claim, in any wording. "
    "Do not reward claims the answer does not make; do not penalize extra correct material. "
    'Reply with JSON only: {"claims": [{"index": 1, "met": true, "quote": "<short quote or empty>"}, ...]} '
    "with one entry per claim."
)


def judge_prompt(params: CriteriaParams, text: str, ctx: CheckContext) -> str:
    """The judge's instructions: the part, the expected answer and the rubric's claims, then the answer."""
    claims = "\n".join(
        f"{i}. {c.claim} ({c.points:g} point{'s' if c.points != 1 else ''}{', required' if c.required else ''})"
        for i, c in enumerate(params.criteria, 1)
    )
    expected = f"\nExpected answer (for reference): {ctx.part.expected}\n" if ctx.part.expected else "\n"
    return (
        f"Problem: {ctx.problem.title}\nPart {ctx.part.heading}: {ctx.part.prompt}\n{expected}\n"
        f"Rubric claims:\n{claims}\n\nAnswer to grade:\n<answer>\n{text[:_MAX_INPUT]}\n</answer>\n\n"
        "Reply with the JSON object only."
    )


def _parse_judge(reply: str, n: int) -> list[bool] | str:
    """The per-claim verdicts in a judge reply, or a reason it cannot be parsed."""
    body = reply[:_MAX_JUDGE_REPLY].strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", body, re.DOTALL)
    if fenced:
        body = fenced.group(1).strip()
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        return "the judge reply holds no JSON object"
    try:
        verdict = _JudgeVerdict.model_validate(json.loads(body[start : end + 1]))
    except json.JSONDecodeError as err:
        return f"the judge reply is not valid JSON ({err.msg})"
    except ValidationError as err:
        return f"the judge JSON has the wrong shape ({err.errors()[0]['msg']})"
    by_index = {c.index: c.met for c in verdict.claims}
    missing = [i for i in range(1, n + 1) if i not in by_index]
    if missing:
        return f"the judge gave no verdict for claim(s) {', '.join(map(str, missing))}"
    return [by_index[i] for i in range(1, n + 1)]


def judge_claims(
    session: JudgeSession, params: CriteriaParams, answer: Answer, ctx: CheckContext
) -> CheckResult:
    """Ask the judge for per-claim verdicts and score them like keyword matches."""
    from evalkit.errors import EvalkitError
    from evalkit.models.base import GenerationOptions, Message, ModelRequest, Turn

    request = ModelRequest(
        messages=(Message("user", judge_prompt(params, answer.text, ctx)),),
        turn=Turn("question", ctx.problem.id),
        system=_JUDGE_SYSTEM,
        # no temperature: newer Anthropic APIs reject it, and the verdict is parsed, not sampled twice
        options=GenerationOptions(max_tokens=2048, timeout_s=session.timeout_s),
    )
    try:
        response = session.call(session.model.generate(request))
    except FutureTimeout:
        return CheckResult.unscored(
            "judge_timeout", f"judge {session.name} gave no verdict in {session.timeout_s:g}s"
        )
    except EvalkitError as err:
        return CheckResult.unscored("judge_error", f"judge {session.name} failed: {err}")
    parsed = _parse_judge(response.text, len(params.criteria))
    if isinstance(parsed, str):
        return CheckResult.unscored(
            "judge_parse_error", f"judge {session.name}: {parsed}", judge_reply=response.text[:2000]
        )
    return _verdict(params, parsed, f"judge {session.name}", judge_reply=response.text[:2000])


@register_checker
class CriteriaChecker:
    """Key claims with accepted phrasings; a judge model decides instead when one is in effect."""

    kind = "criteria"
    params_model = CriteriaParams

    def check(self, params: CriteriaParams, answer: Answer, ctx: CheckContext) -> CheckResult:
        if not answer.text.strip():
            return CheckResult.unscored("no_answer", "no answer found for this part")
        session = current_judge()
        if session is not None:
            return judge_claims(session, params, answer, ctx)
        return _verdict(params, keyword_claims(params, answer.text), "keywords")
