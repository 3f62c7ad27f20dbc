"""The ``formula`` check, and the machinery all math checks share.

A math check finds the final answer in a part's section
(:func:`evalkit.extract.final_answers`), then parses and compares it in a
bounded worker process (:mod:`evalkit.bounded`): a timeout or a parse
failure is ``unscored`` with a reason (``answer_timeout``,
``answer_parse_error``), never ``correct`` and never silently ``incorrect``.

Chains (``E[q^T k] = \\sum_i \\mu_i^2 = d\\mu^2``): the *last* side is the
answer. A first side that names the quantity (a lone symbol such as ``s``,
``E[.]``, ``Var(.)``, ``sim(q, k)``, or the expected answer's own left side)
is skipped, and so is such a side written last (``d\\mu^2 = E[q^T k]``).
Every other side joined to the answer by ``=`` that can be read must agree
with it, or the answer is incorrect ("the chain contradicts itself"); sides
that cannot be read (``\\sum_i``) are skipped; of ``A \\approx 3.14`` the exact side is graded.

Beyond a value, the expected answer's *shape* decides the comparison
(:mod:`evalkit.latex.compare`): a relation (``0 < \\eta < 2/L``) is compared
as the set it allows, with direction and strictness; an equation
(``2x + 4y - 3 = 0``) by its solutions, never by one side; ``name = value`` by
the value (a different name is incorrect); intervals, sets and lists of points
order-free, tuples in order; several answers (``k = 45, n = 2``) name by name;
``\\pm`` as both values; ratios up to a factor; words by spelling. Sibling
answers (several boxes) are graded as one set when the expected answer is
several values, otherwise each must be right. The part's givens
(``values: {mu: 0, sigma: 1}``) are substituted like assumptions.

``expected`` and each ``accept`` alternative may be a chain too; their last
side is the value. ``tolerance`` is relative (absolute below 1) and applies
only when a side is written with decimals; otherwise equality must be proven.

Rubric example (``formula``)::

    - kind: formula
      expected: 'd\\mu^2'
      accept: ['\\|\\mu\\|_2^2']         # alternatives, any one may match
      assumptions: ['k = d/h']          # added to the problem's assumptions
      symbols: {mu: scalar}             # added to the problem's symbols
      tolerance: 1e-6                   # only for answers written with decimals
      percent: ratio                    # 28% = 0.28 (points: 28 = 28%; either: both)
      units: auto                       # units on both sides must agree (require: the answer
                                        # must carry the expected unit; ignore)
      anchor: 'variance'                # optional: grade the first answer after this regex
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sympy
from sympy.core.function import AppliedUndef

from evalkit.checks.base import Answer, CheckContext, CheckResult, bounded_check, register_checker
from evalkit.checks.math_kinds import FormulaParams, MathParams
from evalkit.errors import SpecError
from evalkit.extract import asked_quantities, expected_names, final_answers
from evalkit.latex import LatexSyntaxError, ParsedMath, ParsedSide, SymbolSpec, SymbolTable, parse_math, show
from evalkit.latex.answers import Reading, read_answer
from evalkit.latex.assumptions import Assumptions, parse_assumptions
from evalkit.latex.compare import compare_shapes
from evalkit.latex.equivalence import compare_values, explain_difference, opaque_atoms
from evalkit.latex.nodes import ASYMPTOTIC_CLASSES, OPAQUE_OPERATORS
from evalkit.latex.shapes import Shape, shape_of, solved_for, value_kind
from evalkit.latex.values import Policy, Verdict, compare_sides

__all__ = [
    "FormulaChecker",
    "FormulaParams",
    "MathParams",
    "MathRequest",
    "combine_results",
    "grade_formula",
    "grade_request",
    "run_math_check",
]

_EQUAL_RELATIONS = ("=", "~", "≈")
_BIG_O = r"\\mathcal\s*\{?\s*O|\bO\s*\\?(?:left)?\s*\(|\\Theta|Θ|\\Omega|Ω"  # what a big-O answer looks like


@dataclass(frozen=True)
class MathRequest:
    """Everything a worker needs to grade one check: plain, picklable data."""

    kind: str
    answers: tuple[str, ...]
    expected: tuple[str, ...]
    symbols: tuple[SymbolSpec, ...]
    assumptions: tuple[str, ...]
    params: MathParams
    bindings: tuple[str, ...] = ()  # vectors the problem's givens name: 'v_2 = \\begin{bmatrix}...'


def problem_symbols(problem: Any, params: MathParams) -> tuple[SymbolSpec, ...]:
    """The problem's declared symbols plus the check's own, as plain specs.

    A check that re-declares a problem's symbol changes its kind but keeps the
    problem's spelling and sign (``positive: true`` is not lost).
    """
    specs = {}
    for name, sym in (getattr(problem, "symbols", None) or {}).items():
        specs[name] = SymbolSpec(name, sym.kind, sym.latex, sym.positive)
    for name, kind in params.symbols.items():
        known = specs.get(name)
        specs[name] = SymbolSpec(
            name, kind, known.latex if known else None, known.positive if known else None
        )
    return tuple(specs.values())


_BINDING = re.compile(
    r"(?<![\\\w])([A-Za-z](?:_\{?\w+\}?)?)\s*=\s*(\\begin\{([bpv]?matrix)\}.*?\\end\{\3\}|\[[^\[\]\n]*\])",
    re.DOTALL,
)


def given_bindings(problem: Any) -> tuple[str, ...]:
    """The vectors and matrices the problem's givens name (``v_2 = \\begin{bmatrix} 1 \\\\ 4 \\\\ 3 \\end{bmatrix}``),
    so an answer that names one ('the layer returns v₂') is read as its value."""
    out = []
    for given in getattr(problem, "givens", None) or ():
        if given.kind in ("matrix", "vector") and given.content:
            out += [m.group(0) for m in _BINDING.finditer(given.content)]
    return tuple(out)


def given_values(part: Any) -> tuple[str, ...]:
    """The part's declared givens (``values: {mu: 0, sigma: 1}``) as substitutions ``mu = 0``."""
    values = getattr(part, "values", None) or {}
    return tuple(f"{name} = {value}" for name, value in values.items())


def grade_request(
    grade: Callable[[MathRequest], CheckResult], request: MathRequest, time_limit_s: float
) -> CheckResult:
    """Run ``grade(request)`` in a bounded worker, turning timeouts and crashes into ``unscored``."""
    try:
        return bounded_check(grade, request, time_limit_s=time_limit_s)
    except (LatexSyntaxError, RecursionError, MemoryError) as err:
        return CheckResult.unscored("answer_parse_error", f"could not read the answer: {err}")
    except SpecError:
        raise
    except Exception as err:  # a sympy corner case must not crash a run: report it, never guess
        return CheckResult.unscored(
            "grader_error", f"the grader failed on this answer: {type(err).__name__}: {err}"
        )


def run_math_check(
    kind: str,
    grade: Callable[[MathRequest], CheckResult],
    params: MathParams,
    answer: Answer,
    ctx: CheckContext,
) -> CheckResult:
    """Extract the final answer(s) from ``answer.text`` and grade them (the body of every math check)."""
    expected = params.expected if params.expected is not None else ctx.part.expected
    if expected is None:
        return CheckResult.unscored("no_expected", "the part has no expected answer")
    asks = asked_quantities(ctx.part.prompt)
    asks += tuple(n for n in expected_names(expected, *params.accept) if n not in asks)
    want = _BIG_O if kind == "complexity" else None
    found = final_answers(answer.text, anchor=params.anchor, asks=asks, named_only=answer.shared, want=want)
    if not found:
        where = f" after /{params.anchor}/" if params.anchor else ""
        return CheckResult.unscored("no_answer", f"no answer found in this part{where}")
    targets = (expected, *params.accept)
    asked = _asked_symbol(asks, ctx.problem) if kind == "formula" else None
    if asked is not None:  # 'What should s be?': an answer s^2 = d is solved for s, not read as d
        mentioned = re.compile(rf"(?<![A-Za-z\\]){re.escape(asked)}(?![A-Za-z])")
        targets = tuple(
            t if _RELATION_IN.search(t) or mentioned.search(t) else f"{asked} = {t}" for t in targets
        )
    request = MathRequest(
        kind,
        tuple(f.text for f in found),
        targets,
        problem_symbols(ctx.problem, params),
        (*ctx.problem.assumptions, *params.assumptions, *given_values(ctx.part)),
        params,
        given_bindings(ctx.problem),
    )
    result = grade_request(grade, request, params.time_limit_s or ctx.time_limit_s)
    last = found[-1]
    details = {
        **dict(result.details),
        "answer": " | ".join(f.text for f in found),
        "found_in": last.where,
        "line": last.line,
    }
    return CheckResult(result.status, result.explanation, result.score, result.reason, details)


_RELATION_IN = re.compile(r"=|<|>|\\(?:le|ge|leq|geq|neq|ne|lt|gt|in|approx|sim)(?![A-Za-z])|[≤≥≠∈≈]")


def _asked_symbol(asks: Sequence[str], problem: Any) -> str | None:
    """The one declared symbol a part asks for ('What should $s$ be?'), spelled as the problem declares it."""
    from evalkit.extract.spans import canonical

    symbols = getattr(problem, "symbols", None) or {}
    spelled = {canonical(sym.latex or name): sym.latex or name for name, sym in symbols.items()}
    named = [spelled[a] for a in asks if a in spelled]
    return named[0] if len(named) == 1 and len(asks) == 1 else None


def combine_results(results: Sequence[CheckResult]) -> CheckResult:
    """One verdict for sibling answers (``\\boxed{A} or \\boxed{B}``): every one must be correct."""
    if len(results) == 1:
        return results[0]
    for status in ("incorrect", "unscored"):
        for k, result in enumerate(results, 1):
            if result.status == status:
                text = f"answer {k} of {len(results)}: {result.explanation}"
                return CheckResult(result.status, text, 0.0, result.reason, result.details)
    count = "both" if len(results) == 2 else f"all {len(results)}"
    text = f"{count} answers are correct: " + "; ".join(r.explanation for r in results)
    return CheckResult.correct(text, **dict(results[-1].details))


# -- reading the spec inside the worker -----------------------------------------------------------


def read_spec(request: MathRequest, *, default_positive: bool = False) -> tuple[SymbolTable, Assumptions]:
    """The symbol table and the assumptions of a request (a SpecError if they are malformed)."""
    try:
        table = SymbolTable(request.symbols, default_positive=default_positive)
    except LatexSyntaxError as err:
        raise SpecError(f"a symbol's latex spelling does not parse: {err}") from None
    return table, parse_assumptions(request.assumptions, table)


def read_expected(request: MathRequest, table: SymbolTable, *, little_o: bool = False) -> list[ParsedMath]:
    """The expected answer and its alternatives, parsed; a SpecError names one that does not parse."""
    out = []
    for text in request.expected:
        try:
            parsed = parse_math(text, table, little_o=little_o)
        except LatexSyntaxError as err:
            raise SpecError(f"{request.kind}: expected answer {text!r} does not parse: {err}") from None
        if not parsed.last.ok:
            raise SpecError(f"{request.kind}: expected answer {text!r} does not parse: {parsed.last.error}")
        out.append(parsed)
    return out


def _atoms(value: Any) -> set[sympy.Basic]:
    """The unevaluable pieces of a value (``q^T k``, ``E[.]``, ``sim(q, k)``), bounds excluded."""
    if not isinstance(value, sympy.Basic) or isinstance(value, sympy.MatrixBase):
        return set()
    return {a for a in opaque_atoms(value) if not isinstance(a, ASYMPTOTIC_CLASSES)}


def _foreign(value: Any, references: Sequence[Any]) -> bool:
    """Whether ``value`` holds unevaluable pieces that none of ``references`` has."""
    known: set[sympy.Basic] = set().union(*(_atoms(r) for r in references)) if references else set()
    return bool(_atoms(value) - known)


def is_name_side(side: ParsedSide, expected: Sequence[ParsedMath], *, operators_only: bool = False) -> bool:
    """Whether a side of a chain names the asked quantity rather than giving a value.

    With ``operators_only`` (for a last side), only a lone symbol or an
    operator such as ``E[.]`` or ``sim(q, k)`` counts, not ``q^T k`` or ``||mu||``.
    """
    if not side.ok or isinstance(side.value, sympy.MatrixBase):
        return False
    value = side.value
    for exp in expected:
        if len(exp.sides) > 1 and exp.sides[0].ok and exp.sides[0].value == value:
            return True
    symbols: set[sympy.Basic] = set()
    for exp in expected:
        if isinstance(exp.last.value, sympy.Basic):
            symbols |= exp.last.value.free_symbols
    if isinstance(value, sympy.Symbol) and value not in symbols:
        return True  # s = sqrt(d), output = [...]
    if operators_only and not value.has(*OPAQUE_OPERATORS, AppliedUndef):
        return False
    return _foreign(value, [exp.last.value for exp in expected])


def _solved_for_name(
    sides: list[ParsedSide], relations: list[str], expected: Sequence[ParsedMath]
) -> ParsedSide | None:
    """``s^2 = d`` or ``2E[q^T k] = dμ²``: a first side *built from* the asked quantity (the expected
    answer's name, or the one operator it applies) is solved for it, never dropped as a name."""
    if len(sides) < 2 or relations[0] not in _EQUAL_RELATIONS:
        return None
    names = [
        exp.sides[0].value
        for exp in expected
        if len(exp.sides) > 1 and exp.sides[0].ok and isinstance(exp.sides[0].value, sympy.Symbol)
    ]
    return solved_for(sides[0], sides[-1], names)


def value_chain(parsed: ParsedMath, expected: Sequence[ParsedMath]) -> tuple[list[ParsedSide], list[str]]:
    """The sides that give values (a leading name side dropped) and the relations between them."""
    sides, relations = list(parsed.sides), list(parsed.relations)
    solved = _solved_for_name(sides, relations, expected)
    if solved is not None:
        return [solved], []
    if len(sides) >= 2 and is_name_side(sides[0], expected):
        sides, relations = sides[1:], relations[1:]
    elif len(sides) >= 2 and is_name_side(sides[-1], expected, operators_only=True):  # d mu^2 = E[q^T k]
        sides, relations = sides[:-1], relations[:-1]
    return sides, relations


def _new_names(value: Any, last: Any) -> bool:
    """Whether ``value`` uses a symbol the final side does not (a name the derivation introduced)."""
    if not isinstance(value, sympy.Basic) or not isinstance(last, sympy.Basic):
        return False
    return bool({s.name for s in value.free_symbols} - {s.name for s in last.free_symbols})


def chain_conflict(
    sides: list[ParsedSide], relations: list[str], same: Callable[[Any, Any], bool | None]
) -> str | None:
    """The first readable side joined to the last by '=' that ``same`` says differs from it."""
    last = sides[-1].value
    for k in range(len(sides) - 2, -1, -1):
        if relations[k] not in _EQUAL_RELATIONS:
            break
        side = sides[k]
        if not side.ok or _foreign(side.value, [last]) or _new_names(side.value, last):
            continue  # a derivation step such as E[q^T k] / s, or O(NCM) with C defined on the way
        if same(side.value, last) is False:
            return f"the chain contradicts itself: {side.source} is not equal to {sides[-1].source}"
    return None


# -- the formula kind ------------------------------------------------------------------------------


def _expected_shapes(request: MathRequest, table: SymbolTable) -> list[Shape]:
    """The expected answer and its alternatives by shape; a SpecError names one that does not parse."""
    out = []
    for text in request.expected:
        try:
            reading = read_answer(text, table)
        except LatexSyntaxError as err:
            raise SpecError(f"{request.kind}: expected answer {text!r} does not parse: {err}") from None
        bad = [side for chain in reading.chains for side in chain.sides if not side.ok]
        if bad:
            raise SpecError(f"{request.kind}: expected answer {text!r} does not parse: {bad[0].error}")
        out.append(shape_of(reading))
    return out


def _set_like(shape: Shape) -> bool:
    """Whether the expected answer is several values, so that sibling boxes are graded as one set."""
    if shape.kind in ("several", "equation", "constraint"):
        return True
    return shape.kind in ("value", "assignment") and value_kind(shape.value, shape.side) in ("set", "list")


def _answer_readings(request: MathRequest, table: SymbolTable, targets: list[Shape]) -> list[Reading | str]:
    """Each answer read (or its parse error); sibling boxes become one reading when a set is expected."""
    words = any(t.kind == "word" for t in targets)
    readings: list[Reading | str] = []
    for text in request.answers:
        try:
            readings.append(read_answer(text, table, words=words))
        except LatexSyntaxError as err:
            readings.append(f"could not read the answer: {err}")
    read = [r for r in readings if isinstance(r, Reading)]
    if len(readings) > 1 and len(read) == len(readings) and any(_set_like(t) for t in targets):
        if all(r.word is None for r in read):
            chains = tuple(c for r in read for c in r.chains)
            return [Reading(" | ".join(r.source for r in read), chains)]
    return readings


def grade_formula(request: MathRequest) -> CheckResult:
    """Grade a formula request in this process (run it through :func:`grade_request` for a bound)."""
    table, assumptions = read_spec(request)
    targets = _expected_shapes(request, table)
    results = []
    for reading in _answer_readings(request, table, targets):
        if isinstance(reading, str):
            results.append(CheckResult.unscored("answer_parse_error", reading))
        else:
            results.append(_formula_one(shape_of(reading), targets, assumptions, request))
    return combine_results(results)


def _formula_one(
    answer: Shape, targets: list[Shape], assumptions: Assumptions, request: MathRequest
) -> CheckResult:
    params = request.params
    chains = [t.chain for t in targets if t.chain is not None]

    def scalar(got: Shape, want: Shape) -> Verdict:
        return _scalar_verdict(got, want, chains, assumptions, policy)

    policy = Policy(
        tolerance=getattr(params, "tolerance", 1e-6),
        percent=getattr(params, "percent", "ratio"),
        units=getattr(params, "units", "auto"),
        substitute=assumptions.substitute,
        scalar=scalar,
    )
    verdicts = [compare_shapes(answer, target, policy) for target in targets]
    details = {"parsed": answer.source}
    for k, (target, verdict) in enumerate(zip(targets, verdicts, strict=True)):
        if verdict.equal:
            which = "the expected answer" if k == 0 else f"the accepted alternative {target.source!r}"
            if "{which}" in verdict.note:
                return CheckResult.correct(verdict.note.replace("{which}", which), **details)
            return CheckResult.correct(
                f"{verdict.note} ({which})" if verdict.note else f"equal to {which}", **details
            )
    for verdict in verdicts:
        if verdict.equal is None:
            prefix = "" if verdict.reason == "answer_parse_error" else "could not decide equivalence: "
            return CheckResult.unscored(verdict.reason, f"{prefix}{verdict.note}", **details)
    return CheckResult.incorrect(verdicts[0].note, 0.0, **details)


def _exact_sides(sides: list[ParsedSide], relations: list[str]) -> tuple[list[ParsedSide], list[str]]:
    """Grade the exact side of an approximation: ``22/7 \\approx 3.14`` is 22/7, ``\\approx 3.14`` is 3.14."""
    if len(sides) > 1 and relations[0] == "≈" and not sides[0].source:
        sides, relations = sides[1:], relations[1:]
    while len(sides) > 1 and relations[-1] == "≈" and sides[-1].has_decimal and not sides[-2].has_decimal:
        sides, relations = sides[:-1], relations[:-1]
    while len(sides) > 1 and relations[0] == "≈" and sides[0].has_decimal and not sides[1].has_decimal:
        sides, relations = sides[1:], relations[1:]
    return sides, relations


def _scalar_verdict(
    answer: Shape, target: Shape, chains: list[ParsedMath], assumptions: Assumptions, policy: Policy
) -> Verdict:
    """An answer chain against an expected scalar: the homework's chain rules, then the value."""
    assert answer.chain is not None and target.side is not None
    sides, relations = _exact_sides(*value_chain(answer.chain, chains))
    last = sides[-1]
    if not last.ok:
        return Verdict(None, f"could not read '{last.source}': {last.error}", reason="answer_parse_error")
    if isinstance(last.value, sympy.MatrixBase | sympy.Set):
        return Verdict(False, "the answer is a vector, matrix or set; expected a formula")
    verdict = compare_sides(last, target.side, policy)
    value, want = assumptions.substitute(last.value), assumptions.substitute(target.value)
    if verdict.equal:
        conflict = chain_conflict(sides, relations, lambda a, b: _same(a, b, assumptions))
        if conflict:
            return Verdict(False, conflict)
        used = value != last.value or want != target.value
        note = f" (using {assumptions.describe()})" if used else ""
        return Verdict(True, f"{show(last.value)} is equivalent to {{which}}{note}")
    if verdict.equal is None:
        return verdict
    if last.unit and target.side.unit:
        return verdict  # says what the answer is in the expected unit
    if verdict.compared is not None:
        value, want = verdict.compared
    reading = "" if (last.percent, last.degrees) == (target.side.percent, target.side.degrees) else " (read "
    if reading:
        reading += "in percent)" if last.percent != target.side.percent else "in radians)"
    if verdict.comparison is None or not isinstance(value, sympy.Expr) or not isinstance(want, sympy.Expr):
        return Verdict(False, f"{verdict.note} (expected {show(want)}, got {show(value)})")
    why = explain_difference(value, want, verdict.comparison)
    return Verdict(False, f"{why} (expected {show(want)}, got {show(value)}){reading}")


def _same(a: Any, b: Any, assumptions: Assumptions) -> bool | None:
    if isinstance(a, sympy.MatrixBase) or isinstance(b, sympy.MatrixBase):
        return a == b
    return compare_values(assumptions.substitute(a), assumptions.substitute(b)).equal


@register_checker
class FormulaChecker:
    """A formula equivalent to the expected one under the problem's symbols and assumptions."""

    kind = "formula"
    params_model = FormulaParams

    def check(self, params: FormulaParams, answer: Answer, ctx: CheckContext) -> CheckResult:
        return run_math_check(self.kind, grade_formula, params, answer, ctx)
