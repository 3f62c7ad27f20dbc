"""The ``condition`` check: answers that are relations, such as ``\\text{sim}(q,k) > 0``.

Both the answer and the expected condition are normalised to
``expr REL 0`` with ``REL`` one of ``>``, ``>=``, ``!=``, ``=`` (``a < b``
becomes ``b - a > 0``). They match when the relations are the same and the
two ``expr`` differ by a positive constant factor (any non-zero factor for
``!=`` and ``=``). Trailing quantifiers and prose are ignored
(``> 0 \\quad \\forall q, k``). List other acceptable conditions in
``accept`` (a staff answer of ``\\neq 0`` next to ``> 0``).

Rubric example::

    - kind: condition
      expected: '\\text{sim}(q, k) > 0'
      accept: ['\\text{sim}(q, k) \\neq 0']
"""

from __future__ import annotations

from typing import Any

import sympy

from evalkit.checks.base import Answer, CheckContext, CheckResult, register_checker
from evalkit.checks.formula import (
    MathRequest,
    combine_results,
    read_expected,
    read_spec,
    run_math_check,
)
from evalkit.checks.math_kinds import ConditionParams
from evalkit.errors import SpecError
from evalkit.latex import LatexSyntaxError, ParsedMath, SymbolTable, parse_math, show
from evalkit.latex.assumptions import Assumptions
from evalkit.latex.equivalence import compare_values

__all__ = ["ConditionChecker", "ConditionParams", "normalize_condition"]

_FLIP = {"<": ">", "<=": ">="}
_WORDS = {">": "> 0", ">=": ">= 0", "!=": "!= 0", "=": "= 0"}


def normalize_condition(parsed: ParsedMath) -> tuple[Any, str]:
    """``(expr, rel)`` for the last relation of a parsed chain; raises ValueError without one."""
    if not parsed.relations:
        raise ValueError("no relation (such as > 0 or != 0) in the answer")
    lhs, rhs, rel = parsed.sides[-2], parsed.sides[-1], parsed.relations[-1]
    for side in (lhs, rhs):
        if not side.ok:
            raise LatexSyntaxError(f"could not read '{side.source}': {side.error}")
    if rel in _FLIP:
        return rhs.value - lhs.value, _FLIP[rel]
    if rel not in _WORDS:
        raise ValueError(f"relation {rel!r} is not a condition this check understands")
    return lhs.value - rhs.value, rel


def _same_expression(a: Any, e: Any, rel: str) -> bool | None:
    if e == 0 or a == 0:
        return a == e
    ratio = sympy.cancel(sympy.together(a / e))
    if ratio.is_number:
        return bool(ratio > 0) if rel in (">", ">=") else ratio != 0
    return compare_values(a, e).equal


def _grade_condition(request: MathRequest) -> CheckResult:
    table, assumptions = read_spec(request)
    expected = []
    for parsed in read_expected(request, table):
        try:
            expected.append((parsed, normalize_condition(parsed)))
        except (ValueError, LatexSyntaxError) as err:
            raise SpecError(f"condition: expected answer {parsed.source!r}: {err}") from None
    return combine_results([_condition_one(t, table, assumptions, expected) for t in request.answers])


def _condition_one(
    text: str,
    table: SymbolTable,
    assumptions: Assumptions,
    expected: list[tuple[ParsedMath, tuple[Any, str]]],
) -> CheckResult:
    try:
        parsed = parse_math(text, table)
        expr, rel = normalize_condition(parsed)
    except LatexSyntaxError as err:
        return CheckResult.unscored("answer_parse_error", f"could not read the answer: {err}")
    except ValueError as err:
        return CheckResult.unscored("answer_parse_error", str(err))
    expr = assumptions.substitute(expr)
    details = {"parsed": f"{show(expr)} {_WORDS[rel]}"}
    for k, (exp_parsed, (want, want_rel)) in enumerate(expected):
        want = assumptions.substitute(want)
        if rel == want_rel and _same_expression(expr, want, rel):
            which = "the expected condition" if k == 0 else f"the accepted alternative {exp_parsed.source!r}"
            return CheckResult.correct(f"{show(expr)} {_WORDS[rel]} matches {which}", **details)
    want, want_rel = expected[0][1]
    want = assumptions.substitute(want)
    if _same_expression(expr, want, want_rel):
        extra = " (>= allows zero)" if rel == ">=" and want_rel == ">" else ""
        why = f"the answer requires {show(expr)} {_WORDS[rel]}, but the expected condition is {show(want)} {_WORDS[want_rel]}{extra}"
    else:
        why = f"the answer constrains {show(expr)}, but the expected condition is about {show(want)} {_WORDS[want_rel]}"
    return CheckResult.incorrect(why[0].upper() + why[1:], 0.0, **details)


@register_checker
class ConditionChecker:
    """A relation (``> 0``, ``!= 0`` ...) on the same quantity as the expected condition."""

    kind = "condition"
    params_model = ConditionParams

    def check(self, params: ConditionParams, answer: Answer, ctx: CheckContext) -> CheckResult:
        return run_math_check(self.kind, _grade_condition, params, answer, ctx)
