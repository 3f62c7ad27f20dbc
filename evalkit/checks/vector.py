"""The ``vector`` check: vectors and matrices, entry by entry, with a tolerance.

Answers may be written ``\\begin{bmatrix}1\\\\4\\\\3\\end{bmatrix}``,
``pmatrix``, ``[1, 4, 3]``, ``(1, 4, 3)^\\top`` or ``\\text{output} = ...``.
A row and a column vector with the same entries match unless
``orientation: strict``; matrices must have the expected shape. Numeric
entries match when ``|a - e| <= tolerance * max(1, |e|)``; symbolic entries
must be equivalent (as in the ``formula`` check).

Rubric example::

    - kind: vector
      expected: '[1, 4, 3]'
      tolerance: 1e-6
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
    value_chain,
)
from evalkit.checks.math_kinds import VectorParams
from evalkit.errors import SpecError
from evalkit.latex import LatexSyntaxError, ParsedMath, SymbolTable, parse_math, show
from evalkit.latex.assumptions import Assumptions
from evalkit.latex.equivalence import compare_values

__all__ = ["VectorChecker", "VectorParams"]


def _entries_close(a: Any, e: Any, tolerance: float) -> bool | None:
    if a.is_number and e.is_number:
        a, e = sympy.N(a, 30), sympy.N(e, 30)
        return bool(abs(a - e) <= tolerance * max(1, abs(e)))
    return compare_values(a, e).equal


def _shape(m: sympy.MatrixBase) -> str:
    if 1 in m.shape:
        return f"a vector of {len(m)} entries"
    return f"a {m.rows}x{m.cols} matrix"


def compare_arrays(
    got: sympy.MatrixBase, want: sympy.MatrixBase, tolerance: float, strict: bool
) -> str | None:
    """None when equal, else what differs: "entry 2 is 5, expected 4"."""
    vectors = 1 in got.shape and 1 in want.shape and not strict
    if vectors:
        if len(got) != len(want):
            return f"the answer has {len(got)} entries, expected {len(want)}"
        pairs = [(str(k + 1), a, e) for k, (a, e) in enumerate(zip(got, want, strict=True))]
    else:
        if got.shape != want.shape:
            return f"the answer is {_shape(got)} ({got.rows}x{got.cols}), expected {want.rows}x{want.cols}"
        pairs = [
            (f"({i + 1},{j + 1})", got[i, j], want[i, j]) for i in range(got.rows) for j in range(got.cols)
        ]
    for label, a, e in pairs:
        same = _entries_close(a, e, tolerance)
        if same is None:
            return f"could not decide whether entry {label} ({show(a)}) equals {show(e)}"
        if not same:
            return f"entry {label} is {show(a)}, expected {show(e)}"
    return None


def _grade_vector(request: MathRequest) -> CheckResult:
    table, assumptions = read_spec(request)
    expected = read_expected(request, table)
    for parsed in expected:
        if not isinstance(parsed.last.value, sympy.MatrixBase):
            raise SpecError(f"vector: expected answer {parsed.source!r} is not a vector or matrix")
    return combine_results([_vector_one(t, table, assumptions, expected, request) for t in request.answers])


def _named_vectors(request: MathRequest, table: SymbolTable) -> dict[Any, Any]:
    """The vectors the problem's givens name, by symbol (a binding that cannot be read is left out)."""
    out: dict[Any, Any] = {}
    for binding in request.bindings:
        try:
            sides = parse_math(binding, table).sides
        except LatexSyntaxError:
            continue
        if len(sides) == 2 and sides[0].ok and sides[1].ok and isinstance(sides[1].value, sympy.MatrixBase):
            out.setdefault(sides[0].value, sides[1].value)
    return out


def _vector_one(
    text: str, table: SymbolTable, assumptions: Assumptions, expected: list[ParsedMath], request: MathRequest
) -> CheckResult:
    params: VectorParams = request.params  # type: ignore[assignment]
    try:
        parsed = parse_math(text, table)
    except LatexSyntaxError as err:
        return CheckResult.unscored("answer_parse_error", f"could not read the answer: {err}")
    sides, relations = value_chain(parsed, expected)
    last = sides[-1]
    if not last.ok:
        return CheckResult.unscored("answer_parse_error", f"could not read '{last.source}': {last.error}")
    got = assumptions.substitute(last.value)
    if isinstance(got, sympy.Symbol):  # 'the layer returns v₂': a vector the problem names
        got = _named_vectors(request, table).get(got, got)
    details = {"parsed": show(got)}
    want0 = assumptions.substitute(expected[0].last.value)
    if not isinstance(got, sympy.MatrixBase):
        return CheckResult.incorrect(
            f"the answer {show(got)} is a scalar; expected {_shape(want0)}", 0.0, **details
        )
    strict = params.orientation == "strict"
    first_problem = None
    for exp in expected:
        want = assumptions.substitute(exp.last.value)
        problem = compare_arrays(got, want, params.tolerance, strict)
        if problem is None:

            def same(a: Any, b: Any) -> bool | None:
                if isinstance(a, sympy.MatrixBase) and isinstance(b, sympy.MatrixBase):
                    return compare_arrays(a, b, params.tolerance, strict) is None
                return None

            conflict = chain_conflict(sides, relations, same)
            if conflict:
                return CheckResult.incorrect(conflict, 0.0, **details)
            return CheckResult.correct(f"{show(got)} matches {show(want)}", **details)
        first_problem = first_problem or problem
    if first_problem and first_problem.startswith("could not decide"):
        return CheckResult.unscored("undecided", first_problem, **details)
    return CheckResult.incorrect(f"{first_problem} (got {show(got)})", 0.0, **details)


@register_checker
class VectorChecker:
    """A vector or matrix equal to the expected one, entry by entry."""

    kind = "vector"
    params_model = VectorParams

    def check(self, params: VectorParams, answer: Answer, ctx: CheckContext) -> CheckResult:
        return run_math_check(self.kind, _grade_vector, params, answer, ctx)
