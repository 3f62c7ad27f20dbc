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
      misconceptions:                     # an answer that claims one of these is incorrect
        - claim: the keys still learn through argmax
          patterns: ['\\bkeys?\\b[^.]*\\b(can|still)\\s+(be trained|learn)\\b']

Patterns are matched case-insensitively against the answer with Markdown
emphasis (``**word**``, ``*word*``) removed and whitespace collapsed, so a
pattern may span a line break but should stay within a sentence (``[^.]*``).
A ``*`` between operands (``(xc ** 2).mean(-1)``) and code spans stay as
written. A phrasing that occurs only to be denied ("some say argmax is not
differentiable, but that is a myth", "it is a misconception that ...") does
not make the claim; the explanation names it.

**Judge.** Inside ``with use_judge(model):`` the claims are graded by a judge
:class:`~evalkit.models.base.Model` instead of the patterns: it gets the part,
the expected answer and the claims as instructions and must reply with JSON
``{"claims": [{"index": 1, "met": true, "quote": "..."}]}``. A judge reply that
cannot be parsed, a judge error or timeout make the check ``unscored`` (reasons
``judge_parse_error``, ``judge_error``, ``judge_timeout``), never ``correct``.
Inside ``with metering(meter):`` each judge reply's tokens are told to ``meter``
(a run counts them in its totals and its ``--max-cost``).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.checks.base import Answer, CheckContext, CheckParams, CheckResult, register_checker
from evalkit.checks.claims import Criterion, Misconception
from evalkit.extract.words import language

if TYPE_CHECKING:
    from evalkit.models.base import Usage

__all__ = [
    "CriteriaParams",
    "Criterion",
    "JudgeMeter",
    "JudgeSession",
    "claim_matches",
    "current_judge",
    "judge_claims",
    "judging",
    "keyword_claims",
    "metering",
    "use_judge",
]

_MAX_INPUT = 100_000
_MAX_JUDGE_REPLY = 50_000
T = TypeVar("T")


class CriteriaParams(CheckParams):
    criteria: list[Criterion] = Field(min_length=1)
    pass_threshold: float = Field(default=1.0, ge=0, le=1)
    misconceptions: list[Misconception] = Field(default_factory=list)


_PROTECT = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`", re.DOTALL)
_EMPHASIS = re.compile(r"(?<![\w*\\])(?:\*{1,3}|_{2,3})(?=[^\s*_])|(?<=[^\s*_\\])(?:\*{1,3}|_{2,3})(?![\w*])")


def _normalize(text: str) -> str:
    """Drop Markdown emphasis (``**word**``, ``*word*``, ``__word__``) and collapse whitespace.

    Only emphasis markers go: a ``*`` between operands (``x ** 2``, ``x**2``, ``2 * d``) and
    everything inside code spans and fences stays as written, so patterns match what the author wrote.
    Math written in Unicode or plain text is spelled in LaTeX (``φ``, ``phi(`` → ``\\phi``).
    """
    text = text[:_MAX_INPUT]
    pieces, last = [], 0
    for m in _PROTECT.finditer(text):
        pieces.append(_latex_spelling(_EMPHASIS.sub("", text[last : m.start()])))
        pieces.append(m.group(0))
        last = m.end()
    pieces.append(_latex_spelling(_EMPHASIS.sub("", text[last:])))
    return re.sub(r"\s+", " ", "".join(pieces))


# math a reply writes in Unicode or plain text, spelled as the LaTeX rubric patterns are written
_UNICODE_MATH = {"φ": "\\phi ", "ϕ": "\\phi ", "Σ": "\\sum ", "∑": "\\sum ", "√": "\\sqrt ", "ᵀ": "^T",
                 "≠": "\\neq ", "≤": "\\le ", "≥": "\\ge ", "·": "\\cdot ", "∞": "\\infty ", "μ": "\\mu ",
                 "σ": "\\sigma ", "∀": "\\forall ", "∈": "\\in "}  # fmt: skip
_PLAIN_COMMANDS = re.compile(r"(?<![\\\w.])(phi|sqrt|sum|exp|sigma|mu)(?=[(_^{])")


def _latex_spelling(text: str) -> str:
    """``φ(Q_i)``, ``phi(Q_i)`` → ``\\phi (Q_i)``; ``Σ_j``, ``sum_j`` → ``\\sum _j`` (so one pattern reads all three);
    ``\\dfrac`` → ``\\frac``; spacing commands (``\\,``, ``\\quad``) are spaces."""
    if not text.isascii():
        text = re.sub(
            r"√\s*\(([^()]*)\)|√\s*([A-Za-z0-9]+)",
            lambda m: "\\sqrt{" + (m.group(1) or m.group(2)) + "}",
            text,
        )
        text = "".join(_UNICODE_MATH.get(ch, ch) for ch in text)
    text = re.sub(r"\\[dtc]frac(?![a-zA-Z])", r"\\frac", text)  # \dfrac, \tfrac, \cfrac are \frac
    text = re.sub(r"(?<!\\)\\[,;:! ]|\\q?quad(?![a-zA-Z])", " ", text)  # '\sqrt{2}\, x_1': spacing is no math
    return _PLAIN_COMMANDS.sub(r"\\\1", text)


# A claim stated only to be denied ("some say argmax is not differentiable, but that is a myth") is not made.
_DENIAL_BEFORE = re.compile(
    r"\b(?:(?:it is|it's|that is|that's|this is)\s+(?:a\s+)?(?:common\s+)?(?:myth|misconception|false|not true|"
    r"untrue|wrong|incorrect|a mistake)\s+(?:to say\s+)?that|contrary to|some (?:people|say|claim|think|argue|"
    r"believe|sources)|(?:it is|it's) (?:often|commonly|sometimes|widely) (?:said|claimed|believed|thought|stated)|"
    r"(?:a|one) (?:common )?(?:misconception|myth|mistake) (?:is|would be)|one might (?:think|say|argue)|"
    r"you (?:might|may) (?:think|expect|hear|read)|people (?:often )?(?:say|think|claim)|"
    r"(?:is|are|isn't|aren't) not (?:really )?(?:true|the case|correct) that|it is not the case that|"
    r"(?:don't|do not|never) (?:believe|accept) (?:that|the claim))\b",
    re.IGNORECASE,
)
_DENIAL_AFTER = re.compile(
    r"^\W*(?:but\s+|however,?\s+|yet\s+|and\s+)?(?:that|this|which|it|such a claim|this claim|the claim)(?:'s|\s+is|\s+was|\s+would be)?\s+"
    r"(?:just\s+|simply\s+|actually\s+|really\s+)?(?:a\s+)?(?:common\s+)?(?:myth|misconception|false|not true|untrue|wrong|incorrect|"
    r"not the case|not correct|a mistake|mistaken|nonsense)\b|^\W*(?:—|-|–)\s*(?:a\s+)?(?:myth|misconception)\b"
    r"|^\W*(?:that|this) (?:is|'s) not (?:how|why|what)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")


def _sentences(body: str) -> list[tuple[int, int]]:
    out, start = [], 0
    for m in _SENTENCE_END.finditer(body):
        out.append((start, m.start()))
        start = m.end()
    out.append((start, len(body)))
    return out


def _denied(body: str, sentences: list[tuple[int, int]], match: re.Match[str]) -> bool:
    """Whether the sentence holding ``match`` states it only to deny it."""
    k = next((i for i, (a, b) in enumerate(sentences) if a <= match.start() < b + 1), len(sentences) - 1)
    a, b = sentences[k]
    before = body[a : match.start()]
    after_in = body[match.end() : b]
    following = body[sentences[k + 1][0] : sentences[k + 1][1]] if k + 1 < len(sentences) else ""
    if _DENIAL_BEFORE.search(before):
        return True
    tail = re.split(r"[,;]\s*|\s+but\s+", after_in)
    return any(_DENIAL_AFTER.match(piece) for piece in tail[1:]) or bool(_DENIAL_AFTER.match(following))


def _about_something_else(
    body: str, sentences: list[tuple[int, int]], match: re.Match[str], unless: Any
) -> bool:
    """Whether the sentence holding ``match`` has one of ``unless`` before it ('Softmax ... so the keys can be trained')."""
    if not unless:
        return False
    start = next((a for a, b in sentences if a <= match.start() < b + 1), 0)
    before = body[start : match.start()]
    return any(re.search(p, before, re.IGNORECASE) for p in unless)


def claim_matches(
    params: CriteriaParams | None, text: str, claims: Sequence[Any] | None = None
) -> list[tuple[bool, bool]]:
    """For each criterion of ``params`` (or each of ``claims``: anything with ``patterns`` and
    optionally ``unless``): (stated, denied) — a pattern occurs as a claim; a pattern occurs only
    to be denied."""
    body = _normalize(text)
    sentences = _sentences(body)
    out = []
    items = claims if claims is not None else params.criteria if params is not None else ()
    for c in items:
        affirmed = denied = False
        for pattern in c.patterns:
            regex = re.compile(pattern, re.IGNORECASE)
            # a match may start in any sentence: search from each sentence's start, not only after the last match
            found = {m.start(): m for m in regex.finditer(body)}
            for start, end in sentences:
                m = regex.search(body, start)
                if m and m.start() <= end:
                    found.setdefault(m.start(), m)
            for m in found.values():
                if _about_something_else(body, sentences, m, getattr(c, "unless", ())):
                    continue
                if _denied(body, sentences, m):
                    denied = True
                else:
                    affirmed = True
        out.append((affirmed, denied and not affirmed))
    return out


def keyword_claims(params: CriteriaParams, text: str) -> list[bool]:
    """For each criterion, whether one of its patterns occurs in ``text`` as a claim (not denied)."""
    return [stated for stated, _ in claim_matches(params, text)]


def _verdict(
    params: CriteriaParams, met: list[bool], source: str, wrong: list[str] | None = None, **details: Any
) -> CheckResult:
    total = sum(c.points for c in params.criteria)
    earned = sum(c.points for c, ok in zip(params.criteria, met, strict=True) if ok)
    score = earned / total if total else float(all(met))
    missed_required = [c.claim for c, ok in zip(params.criteria, met, strict=True) if c.required and not ok]
    lines = [
        ("✓ " if ok else "✗ ") + c.claim + (" (required)" if c.required and not ok else "")
        for c, ok in zip(params.criteria, met, strict=True)
    ]
    summary = f"{source}: {sum(met)}/{len(met)} claims, {earned:g}/{total:g} points — " + "; ".join(lines)
    denied = list(details.pop("denied", []))
    details = {
        "met": [c.claim for c, ok in zip(params.criteria, met, strict=True) if ok],
        "missed": [c.claim for c, ok in zip(params.criteria, met, strict=True) if not ok],
        "graded_by": source,
        **({"denied": denied} if denied else {}),
        **details,
    }
    if denied:
        summary += " — stated only to be denied: " + ", ".join(denied)
    if wrong:
        details["misconceptions"] = list(wrong)
        summary += " — but it also claims what is wrong: " + "; ".join(wrong)
        return CheckResult("incorrect", summary, 0.0, None, details)
    if not missed_required and score >= params.pass_threshold - 1e-9:
        return CheckResult("correct", summary, round(score, 6), None, details)
    if missed_required:
        summary += f" — missing required: {', '.join(missed_required)}"
    else:
        summary += f" — below the pass threshold {params.pass_threshold:g}"
    return CheckResult("incorrect", summary, round(score, 6), None, details)


def _keyword_verdict(params: CriteriaParams, text: str) -> CheckResult:
    found = claim_matches(params, text)
    denied = [c.claim for c, (_, d) in zip(params.criteria, found, strict=True) if d]
    stated_wrong = claim_matches(params, text, list(params.misconceptions))
    wrong = [m.claim for m, (stated, _) in zip(params.misconceptions, stated_wrong, strict=True) if stated]
    verdict = _verdict(params, [stated for stated, _ in found], "keywords", wrong, denied=denied)
    written_in = language(text)
    if verdict.status == "incorrect" and not wrong and written_in != "English":
        # the patterns are English: a claim made in other words cannot be told from a claim left out
        return CheckResult.unscored(
            "other_language",
            f"the answer is written in {written_in} and the rubric's claim patterns are English, so a missing "
            f"claim cannot be told from one stated in {written_in}: grade it with a judge (--judge MODEL) "
            f"({verdict.explanation})",
            **verdict.details,
        )
    return verdict


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


class JudgeMeter(Protocol):
    """Counts what a run's judge calls cost (the runner's: they go into its totals and ``--max-cost``)."""

    def judged(self, judge: str, usage: Usage) -> None: ...


_METER: ContextVar[JudgeMeter | None] = ContextVar("evalkit_judge_meter", default=None)


@contextmanager
def metering(meter: JudgeMeter) -> Iterator[None]:
    """Tell ``meter`` of every judge reply in this context (the tasks and grading threads it starts, too)."""
    token = _METER.set(meter)
    try:
        yield
    finally:
        _METER.reset(token)


@contextmanager
def judging(
    judge: Any, settings: Any = None, wrap: Callable[[Any], Any] | None = None
) -> Iterator[str | None]:
    """Grade ``criteria`` checks with ``judge`` inside the block: a model name, a Model, or None (patterns).

    A judge named here is created here and closed on the way out; yields the judge's name.
    ``wrap`` puts the judge behind something, e.g. the response cache, so that a resumed run
    or a transcript graded again does not pay for the same verdicts twice.
    """
    if judge is None:
        yield None
        return
    from evalkit.models.registry import resolve_model

    model = resolve_model(judge, settings) if isinstance(judge, str) else judge
    if wrap is not None:
        model = wrap(model)
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
    start = len(params.criteria) + 1
    claims += "".join(
        f"\n{i}. (a misconception: met means the answer asserts it) {m.claim}"
        for i, m in enumerate(params.misconceptions, start)
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
    meter = _METER.get()
    if meter is not None:  # a reply is paid for, whether or not it can be read
        meter.judged(session.name, response.usage)
    parsed = _parse_judge(response.text, len(params.criteria) + len(params.misconceptions))
    if isinstance(parsed, str):
        return CheckResult.unscored(
            "judge_parse_error", f"judge {session.name}: {parsed}", judge_reply=response.text[:2000]
        )
    n = len(params.criteria)
    wrong = [m.claim for m, met in zip(params.misconceptions, parsed[n:], strict=True) if met]
    return _verdict(params, parsed[:n], f"judge {session.name}", wrong, judge_reply=response.text[:2000])


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
        return _keyword_verdict(params, answer.text)
