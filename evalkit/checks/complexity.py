"""The ``complexity`` check: big-O / Θ / Ω answers as asymptotic classes.

Both the answer and the expected bound are read as growth classes over
positive dimensions (:mod:`evalkit.latex.growth`): constants and dominated
terms drop out, so ``O(bd^2 + bnd)`` equals ``O(bnd + bd^2)`` and
``O(3N^2 + N)`` equals ``O(N^2)``. The problem's substitutions apply first
(``k = d/h`` makes ``O(bnk)`` equal ``O(bnd/h)``), then its regimes
(``M = Theta(D)`` makes ``O(N^2 M)`` equal ``O(N^2 D)``).

``O`` and ``Θ`` are interchangeable (homework writes ``O`` for tight
bounds); ``Ω`` only matches ``Ω``, and with ``strict_notation: true`` the
letters must match exactly. An answer without any ``O(...)`` (``N^2 D``)
is graded as its class unless ``require_notation: true``. Chains such as
``O(ND^2M) = O(ND^3)`` are graded like formulas: the last side is the
answer and every side must be the same class.

Rubric example::

    - kind: complexity
      expected: 'O(N^2 D + N^2 M)'
      assumptions: ['M = Theta(D)']
      anchor: 'total time complexity'
"""

from __future__ import annotations

from typing import Any

import sympy

from evalkit.checks.base import Answer, CheckContext, CheckResult, register_checker
from evalkit.checks.formula import (
    MathRequest,
    chain_conflict,
    combine_results,
    read_expected,
    read_spec,
    run_math_check,
)
from evalkit.checks.math_kinds import ComplexityParams
from evalkit.errors import SpecError
from evalkit.latex import LatexSyntaxError, ParsedMath, ParsedSide, SymbolTable, parse_math, show
from evalkit.latex.assumptions import Assumptions
from evalkit.latex.growth import GrowthError, Term, dominated, growth_terms, terms_expr
from evalkit.latex.nodes import BigO, BigOmega, BigTheta, LittleO

__all__ = ["ComplexityChecker", "ComplexityParams", "GrowthClass", "growth_class"]

_LETTER: dict[type[sympy.Function], str] = {BigO: "O", BigTheta: "Θ", BigOmega: "Ω", LittleO: "o"}
_KIND_WORDS = {
    "O": "an upper bound O(.)",
    "Θ": "a tight bound Θ(.)",
    "Ω": "a lower bound Ω(.)",
    "o": "a strict upper bound o(.)",
}


class GrowthClass:
    """A bound's letter (``O``, ``Θ``, ``Ω``; ``None`` when written bare) and its dominant terms."""

    def __init__(self, letter: str | None, expr: sympy.Expr, terms: list[Term]) -> None:
        self.letter = letter
        self.expr = expr
        self.terms = terms

    def describe(self) -> str:
        return f"{self.letter or 'Θ'}({show(terms_expr(self.terms))})"


def _split_bound(value: Any) -> tuple[str | None, sympy.Expr]:
    """``O(f) + O(g)`` -> ('O', f + g); ``c * O(f)`` -> ('O', f); a bare ``f`` -> (None, f)."""
    for cls, letter in _LETTER.items():
        if isinstance(value, cls):
            return letter, value.args[0]
    if isinstance(value, sympy.Add | sympy.Mul) and value.has(*_LETTER):
        parts = [_split_bound(arg) for arg in value.args]
        letters = {p[0] for p in parts if p[0] is not None}
        if len(letters) > 1:
            raise GrowthError(f"the answer mixes {' and '.join(sorted(letters))} bounds")
        op = sympy.Add if isinstance(value, sympy.Add) else sympy.Mul
        return letters.pop(), op(*[p[1] for p in parts])
    if isinstance(value, sympy.Basic) and value.has(*_LETTER):
        raise GrowthError(f"cannot read {show(value)} as one bound")
    return None, value


def growth_class(value: Any, assumptions: Assumptions) -> GrowthClass:
    """The growth class of a parsed side, with substitutions and regimes applied."""
    if isinstance(value, sympy.MatrixBase):
        raise GrowthError("a complexity cannot be a vector")
    letter, expr = _split_bound(assumptions.substitute(value))
    expr = assumptions.apply_regimes(expr)
    return GrowthClass(letter, expr, growth_terms(expr))


def _same_class(a: GrowthClass, b: GrowthClass) -> bool:
    return all(dominated(t, b.terms) for t in a.terms) and all(dominated(t, a.terms) for t in b.terms)


def _bound_sides(parsed: ParsedMath) -> tuple[list[ParsedSide], list[str]]:
    """Drop leading name sides ("T(N) = O(...)", "time = O(...)") when later sides are bounds."""
    sides, relations = list(parsed.sides), list(parsed.relations)
    while len(sides) > 1:
        first = sides[0]
        if not first.ok or (isinstance(first.value, sympy.Basic) and first.value.has(*_LETTER)):
            break
        if not any(s.ok and isinstance(s.value, sympy.Basic) and s.value.has(*_LETTER) for s in sides[1:]):
            break
        sides, relations = sides[1:], relations[1:]
    return sides, relations


def _grade_complexity(request: MathRequest) -> CheckResult:
    table, assumptions = read_spec(request, default_positive=True)
    expected = []
    for parsed in read_expected(request, table):
        try:
            expected.append((parsed, growth_class(parsed.last.value, assumptions)))
        except GrowthError as err:
            raise SpecError(
                f"complexity: expected answer {parsed.source!r} is not a usable bound: {err}"
            ) from None
    results = [_complexity_one(text, table, assumptions, expected, request) for text in request.answers]
    return combine_results(results)


def _complexity_one(
    text: str,
    table: SymbolTable,
    assumptions: Assumptions,
    expected: list[tuple[ParsedMath, GrowthClass]],
    request: MathRequest,
) -> CheckResult:
    params: ComplexityParams = request.params  # type: ignore[assignment]
    try:
        parsed = parse_math(text, table)
    except LatexSyntaxError as err:
        return CheckResult.unscored("answer_parse_error", f"could not read the answer: {err}")
    sides, relations = _bound_sides(parsed)
    last = sides[-1]
    if not last.ok:
        return CheckResult.unscored("answer_parse_error", f"could not read '{last.source}': {last.error}")
    try:
        got = growth_class(last.value, assumptions)
    except GrowthError as err:
        return CheckResult.unscored(
            "answer_parse_error", f"cannot compare the growth of {last.source!r}: {err}"
        )
    details = {"parsed": got.describe()}
    if got.letter is None and params.require_notation:
        return CheckResult.incorrect(
            f"the answer {last.source} is not written as O(...), Θ(...) or Ω(...)", 0.0, **details
        )
    regimes = f" (with {assumptions.describe()})" if assumptions.sources else ""
    for k, (exp_parsed, want) in enumerate(expected):
        if not _same_class(got, want):
            continue
        mismatch = _letter_mismatch(got, want, params.strict_notation)
        if mismatch:
            return CheckResult.incorrect(mismatch, 0.0, **details)
        conflict = chain_conflict(sides, relations, lambda a, b: _same_side(a, b, assumptions))
        if conflict:
            return CheckResult.incorrect(conflict, 0.0, **details)
        which = (
            f"the expected {exp_parsed.last.source}"
            if k == 0
            else f"the accepted alternative {exp_parsed.source}"
        )
        bare = " (written without O(...); graded as its growth)" if got.letter is None else ""
        return CheckResult.correct(f"{last.source} is the same class as {which}{regimes}{bare}", **details)
    want = expected[0][1]
    return CheckResult.incorrect(_explain(got, want) + regimes, 0.0, **details)


def _letter_mismatch(got: GrowthClass, want: GrowthClass, strict: bool) -> str | None:
    a, b = got.letter or "Θ", want.letter or "Θ"
    if a == b or (not strict and {a, b} <= {"O", "Θ"}):
        return None
    return f"the answer is {_KIND_WORDS[a]} but the expected answer is {_KIND_WORDS[b]}"


def _same_side(a: Any, b: Any, assumptions: Assumptions) -> bool | None:
    try:
        return _same_class(growth_class(a, assumptions), growth_class(b, assumptions))
    except GrowthError:
        return None


def _explain(got: GrowthClass, want: GrowthClass) -> str:
    missing = [t for t in want.terms if not dominated(t, got.terms)]
    extra = [t for t in got.terms if not dominated(t, want.terms)]
    parts = []
    if missing:
        parts.append(
            f"the answer lacks {show(terms_expr(missing))}, which the expected {want.describe()} has"
        )
    if extra:
        parts.append(
            f"the answer's {show(terms_expr(extra))} grows faster than the expected {want.describe()}"
        )
    text = "; ".join(parts) or f"{got.describe()} is not the class {want.describe()}"
    return f"{text[0].upper()}{text[1:]} (got {got.describe()})"


@register_checker
class ComplexityChecker:
    """A big-O/Θ/Ω bound equal, as an asymptotic class, to the expected one."""

    kind = "complexity"
    params_model = ComplexityParams

    def check(self, params: ComplexityParams, answer: Answer, ctx: CheckContext) -> CheckResult:
        return run_math_check(self.kind, _grade_complexity, params, answer, ctx)
