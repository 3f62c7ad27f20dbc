"""Simple check kinds: exact and normalized text, regex, choice and numeric answers.

Rubric examples::

    - {kind: exact, expected: "d_model"}
    - {kind: normalized, expected: "self.num_heads"}      # case, space, markup-insensitive
    - {kind: regex, pattern: "split_heads", must_match: true}
    - {kind: choice, options: [A, B, C, D], expected: B}
    - {kind: numeric, expected: 11, tolerance: 1e-6}

``exact`` and ``normalized`` compare against the part's final answer: the
content of the last ``\\boxed{...}`` or inline code span if there is one, else
the whole section.
"""

from __future__ import annotations

import math
import re

from pydantic import Field, field_validator

from evalkit.checks.base import Answer, CheckContext, CheckParams, CheckResult, register_checker
from evalkit.errors import SpecError

_MAX_INPUT = 100_000
_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_HEADING = re.compile(r"^[\s#>*_]*(?:part|blank)?\s*(?:\([^)\n]{1,8}\)\s*)+[*_:.\s]*", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _expected(given: str | None, ctx: CheckContext) -> str | None:
    return given if given is not None else ctx.part.expected


def _final_span(text: str) -> tuple[str, str]:
    """The final answer of a section and where it was found."""
    boxed = _BOXED.findall(text)
    if boxed:
        return boxed[-1], "boxed"
    code = _INLINE_CODE.findall(text)
    if code:
        return code[-1], "inline code"
    return _HEADING.sub("", text, count=1).strip(), "whole section"


def normalize_text(text: str) -> str:
    """Lower-case, drop markup (`*_$\\text{}`) and collapse whitespace."""
    text = re.sub(r"\\(?:text|mathrm|texttt)\{([^{}]*)\}", r"\1", text)
    text = re.sub(r"[`*$]", "", text)
    text = re.sub(r"\s+", " ", text).strip().lower()
    return text.rstrip(".")


class ExactParams(CheckParams):
    expected: str | None = None
    accept: list[str] = Field(default_factory=list)


@register_checker
class ExactChecker:
    """The final answer equals the expected string exactly (after trimming whitespace)."""

    kind = "exact"
    params_model = ExactParams

    def _compare(self, got: str, want: str) -> bool:
        return got.strip() == want.strip()

    def check(self, params: ExactParams, answer: Answer, ctx: CheckContext) -> CheckResult:
        expected = _expected(params.expected, ctx)
        if expected is None:
            return CheckResult.unscored("no_expected", "the part has no expected answer")
        if not answer.text.strip():
            return CheckResult.unscored("no_answer", "no answer found for this part")
        got, where = _final_span(answer.text[:_MAX_INPUT])
        for want in [expected, *params.accept]:
            if self._compare(got, want):
                return CheckResult.correct(f"answer {got.strip()!r} matches", answer=got, found_in=where)
        return CheckResult.incorrect(
            f"answer {got.strip()[:200]!r} (from {where}) does not match expected {expected!r}",
            answer=got,
            found_in=where,
        )


@register_checker
class NormalizedChecker(ExactChecker):
    """Like ``exact``, ignoring case, whitespace, trailing periods and simple markup."""

    kind = "normalized"
    params_model = ExactParams

    def _compare(self, got: str, want: str) -> bool:
        return normalize_text(got) == normalize_text(want)


class RegexParams(CheckParams):
    pattern: str
    must_match: bool = True
    ignore_case: bool = True

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"invalid regular expression: {err}") from None
        return pattern


@register_checker
class RegexChecker:
    """The section matches (or, with ``must_match: false``, does not match) a pattern."""

    kind = "regex"
    params_model = RegexParams

    def check(self, params: RegexParams, answer: Answer, ctx: CheckContext) -> CheckResult:
        if not answer.text.strip():
            return CheckResult.unscored("no_answer", "no answer found for this part")
        flags = re.IGNORECASE if params.ignore_case else 0
        match = re.search(params.pattern, answer.text[:_MAX_INPUT], flags)
        if params.must_match:
            if match:
                return CheckResult.correct(f"found {match.group(0)!r}", match=match.group(0))
            return CheckResult.incorrect(f"the answer never matches /{params.pattern}/")
        if match:
            return CheckResult.incorrect(f"the answer contains {match.group(0)!r}, which it must not")
        return CheckResult.correct(f"the answer avoids /{params.pattern}/")


class ChoiceParams(CheckParams):
    options: list[str] = Field(min_length=2)
    expected: str

    @field_validator("expected")
    @classmethod
    def _strip(cls, expected: str) -> str:
        return expected.strip()


@register_checker
class ChoiceChecker:
    """A multiple-choice answer: exactly one option is chosen, and it is the expected one."""

    kind = "choice"
    params_model = ChoiceParams

    def check(self, params: ChoiceParams, answer: Answer, ctx: CheckContext) -> CheckResult:
        if params.expected not in params.options:
            raise SpecError(
                f"choice: expected {params.expected!r} is not one of the options {params.options}"
            )
        got, where = _final_span(answer.text[:_MAX_INPUT])
        chosen = [
            o for o in params.options if re.search(rf"(?<![\w]){re.escape(o)}(?![\w])", got, re.IGNORECASE)
        ]
        if not chosen:
            return CheckResult.unscored("no_answer", f"none of the options {params.options} was chosen")
        if len(chosen) > 1:
            return CheckResult.unscored("ambiguous_answer", f"several options were named: {chosen}")
        ok = chosen[0].lower() == params.expected.lower()
        return CheckResult.from_bool(
            ok,
            f"chose {chosen[0]!r}" + ("" if ok else f", expected {params.expected!r}"),
            answer=chosen[0],
            found_in=where,
        )


# a value written as arithmetic: a function, or an operator between numbers ('\log 2 - 0.25', '3/8 + 1')
_EXPRESSION = re.compile(
    r"\\(?:log|ln|exp|sqrt|frac|dfrac|tfrac|pi|cdot|times)(?![a-zA-Z])|\b(?:log|ln|exp|sqrt)\s*\("
    r"|\d\s*[-+*/^×·]\s*[\d(\\]|\)\s*[-+*/^]\s*[\d(\\]"
)


class NumericParams(CheckParams):
    expected: float | None = None
    tolerance: float = Field(default=1e-6, ge=0)
    relative: bool = False


@register_checker
class NumericChecker:
    """The last number in the final answer is within tolerance of the expected value."""

    kind = "numeric"
    params_model = NumericParams

    def check(self, params: NumericParams, answer: Answer, ctx: CheckContext) -> CheckResult:
        expected = params.expected
        if expected is None:
            if ctx.part.expected is None:
                return CheckResult.unscored("no_expected", "the part has no expected answer")
            try:
                expected = float(ctx.part.expected)
            except ValueError:
                raise SpecError(f"numeric: part expected {ctx.part.expected!r} is not a number") from None
        got_text, where = _final_span(answer.text[:_MAX_INPUT])
        value_side = re.split(r"=|\\approx|≈|\\simeq", got_text)[-1]
        if _EXPRESSION.search(value_side):  # 'KL = \log 2 - 0.25': its last number is not its value
            return CheckResult.unscored(
                "answer_parse_error",
                f"the answer is an expression, not a number: {value_side.strip()[:120]!r} "
                "(a numeric check reads a number; grade expressions with kind: formula)",
            )
        numbers = _NUMBER.findall(value_side) or _NUMBER.findall(got_text)
        if not numbers:
            return CheckResult.unscored("answer_parse_error", "no number found in the answer")
        got = float(numbers[-1])
        if not math.isfinite(got):
            return CheckResult.incorrect(f"answer {got} is not finite")
        bound = params.tolerance * (abs(expected) if params.relative else 1.0)
        error = abs(got - expected)
        return CheckResult.from_bool(
            error <= bound,
            f"answer {got:g} vs expected {expected:g} (error {error:.3g}, tolerance {bound:.3g})",
            answer=got,
            found_in=where,
        )
