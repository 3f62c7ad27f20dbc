"""Comparing an answer with the expected one, dispatched on the expected answer's shape.

:func:`compare_shapes` picks one small function per expected shape
(:mod:`~evalkit.latex.shapes`); each looks at the answer's shape and returns
a :class:`Verdict`: ``equal`` is True, False (with what differs) or None
(cannot be decided: the check reports ``unscored``, never a guess). A
relation never equals a bare value unless it pins it (``x = 5`` vs ``5``);
direction and strictness always matter; an expected equation is compared as
its solution set, never as one of its sides.

:func:`compare_sides` compares two values under the check's policies:
decimals within ``tolerance``; ``percent`` (``ratio``: ``28\\%`` is ``0.28``;
``points``: a bare number is in percent, ``28`` is ``28\\%``; ``either``);
``units`` (``auto``: a unit on both sides must agree, after conversion;
``require``: the answer must carry the expected unit; ``ignore``); degrees
(``30^\\circ`` equals ``30`` and ``\\pi/6``); and non-finite values
(``\\infty`` equals only ``\\infty``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sympy

from evalkit.latex.brackets import tuple_of
from evalkit.latex.chain import ParsedSide
from evalkit.latex.equivalence import Comparison, compare_values
from evalkit.latex.nodes import Ratio, show
from evalkit.latex.sets import Undecidable, constraint_set, same_equation, same_set, solutions
from evalkit.latex.shapes import Shape, value_kind
from evalkit.latex.units import NON_FINITE_WORDS, unit_factor

__all__ = ["Policy", "Verdict", "compare_shapes", "compare_sides", "is_non_finite"]

_NON_FINITE = (sympy.oo, -sympy.oo, sympy.zoo, sympy.nan)


@dataclass(frozen=True)
class Verdict:
    """``equal`` is True, False or None (undecided); ``note`` says why, for a person.

    ``reason`` tags an undecided verdict: ``undecided`` or ``answer_parse_error``;
    ``compared`` holds the two scalar values a comparison was made on (after
    substitutions, unit conversion and the percent or degree reading).
    """

    equal: bool | None
    note: str = ""
    comparison: Comparison | None = None
    reason: str = "undecided"
    compared: tuple[Any, Any] | None = None


@dataclass(frozen=True)
class Policy:
    """How values are compared: the check's tolerance, percent and unit policies, and substitutions."""

    tolerance: float | None = 1e-6
    percent: str = "ratio"
    units: str = "auto"
    substitute: Callable[[Any], Any] = field(default=lambda value: value)
    # grades an answer chain against an expected scalar (the formula check's own path)
    scalar: Callable[[Shape, Shape], Verdict] | None = None


def is_non_finite(value: Any) -> bool:
    return isinstance(value, sympy.Basic) and not isinstance(value, sympy.Set) and value.has(*_NON_FINITE)


def _all(verdicts: list[Verdict]) -> Verdict:
    """True when all are; otherwise the first False, else the first undecided."""
    for wanted in (False, None):
        for v in verdicts:
            if v.equal is wanted:
                return v
    return verdicts[0] if verdicts else Verdict(True)


def _readings(a: ParsedSide, e: ParsedSide, av: Any, ev: Any, policy: Policy) -> list[tuple[Any, Any, str]]:
    """The (answer, expected) value pairs the percent and degree policies allow."""
    pairs = [(av, ev, "")]
    if a.percent != e.percent:
        points = (av * 100 if a.percent else av, ev * 100 if e.percent else ev, " (read in percent)")
        pairs = {"ratio": pairs, "points": [points], "either": [*pairs, points]}[policy.percent]
    if a.degrees != e.degrees:
        # a degree sign on one side only: the same angle in radians, or the same number of degrees
        radians = [
            (x * sympy.pi / 180 if a.degrees else x, y * sympy.pi / 180 if e.degrees else y, " (in radians)")
            for x, y, _ in pairs
        ]
        pairs = radians + pairs
    return pairs


def compare_sides(a: ParsedSide, e: ParsedSide, policy: Policy) -> Verdict:
    """Compare two scalar sides under the policies (see the module docstring)."""
    av, ev = policy.substitute(a.value), policy.substitute(e.value)
    if is_non_finite(av) or is_non_finite(ev):
        if av == ev:
            return Verdict(True, "identical")
        if is_non_finite(av):
            return Verdict(False, f"the answer {show(av)} is not a finite value")
        return Verdict(False, f"the expected value is {show(ev)}; the answer {show(av)} is finite")
    converted = ""
    if a.unit and e.unit and policy.units != "ignore":
        factor = unit_factor(a.unit, e.unit)
        if factor is None:
            return Verdict(None, f"cannot convert {a.unit} to {e.unit}")
        if factor is False:
            return Verdict(False, f"the answer is in {a.unit}, the expected answer in {e.unit} (a different unit)")
        if factor != 1:
            converted = f"{show(av)} {a.unit} is {show(av * factor)} {e.unit} in the expected unit"
        av = av * factor
    elif e.unit and not a.unit and policy.units == "require":
        return Verdict(False, f"the answer gives no unit; the expected answer is in {e.unit}")
    tolerance = policy.tolerance if (a.has_decimal or e.has_decimal) else None
    first: Verdict | None = None
    for x, y, how in _readings(a, e, av, ev, policy):
        comparison = compare_values(x, y, tolerance=tolerance)
        note = comparison.note + (how if comparison.equal else "")
        if converted:
            note = f"{converted}, {'which is' if comparison.equal else 'not'} the expected {show(ev)} {e.unit}"
        verdict = Verdict(comparison.equal, note, comparison if not converted else None, compared=(x, y))
        if comparison.equal:
            return verdict
        first = first or verdict
    assert first is not None
    return first


def _side(value: Any, like: ParsedSide | None = None) -> ParsedSide:
    if like is None:
        return ParsedSide(show(value), value)
    return ParsedSide(
        like.source,
        value,
        has_decimal=like.has_decimal,
        percent=like.percent,
        degrees=like.degrees,
        unit=like.unit,
    )


# -- answers as sets of values -------------------------------------------------------------------


def _values(value: Any) -> list[Any]:
    """A value as the values it lists: a ±-set or finite set, a bare list, or itself."""
    if isinstance(value, sympy.FiniteSet):
        return list(value.args)
    if isinstance(value, sympy.MatrixBase):
        return list(value)
    return [value]


def _named_values(shape: Shape) -> dict[Any, list[Any]] | None:
    """``k = 45, n = 2`` as ``{k: [45], n: [2]}``; unnamed values under ``None``; None if not values."""
    items = shape.items if shape.kind == "several" else (shape,)
    out: dict[Any, list[Any]] = {}
    for item in items:
        if item.side is None or not item.side.ok or item.kind not in ("value", "assignment", "named"):
            return None
        value = item.value
        kind = value_kind(value, item.side)
        if (kind == "set" and not isinstance(value, sympy.FiniteSet)) or kind in ("ratio",):
            return None
        name = item.name if item.kind == "assignment" else None
        if isinstance(name, sympy.MatrixBase):
            return None
        spread = kind == "list" or isinstance(value, sympy.FiniteSet)
        out.setdefault(name, []).extend(_values(value) if spread else [tuple_of(value)])
    return out


def _as_set(
    shape: Shape, var: sympy.Symbol | None, policy: Policy, *, intervals: bool = True
) -> sympy.Set | None:
    """The set of values an answer allows for ``var``, or None if it is not one.

    With ``intervals``, a bracketed pair such as ``(0, 1)`` is read as an interval.
    """
    if shape.kind == "constraint":
        return _constraint(shape, policy, var)[1]
    if shape.kind == "several" and all(item.kind == "constraint" for item in shape.items):
        parts = [_constraint(item, policy, var) for item in shape.items]  # x < 1 or x > 2
        if any(p[1] is None for p in parts) or len({p[0] for p in parts}) != 1:
            return None
        return sympy.Union(*[p[1] for p in parts])
    if shape.kind == "value" and shape.side is not None and shape.side.ok:
        value = policy.substitute(shape.value)
        if isinstance(value, sympy.Set):
            return value
        pair = isinstance(value, sympy.MatrixBase) and len(value) == 2
        if intervals and pair and shape.side.brackets in ("()", "[]"):
            return sympy.Interval(*value, left_open=shape.side.brackets == "()", right_open=shape.side.brackets == "()")
    named = _named_values(shape)
    if named is None or len(named) != 1:
        return None
    (name, values), = named.items()
    if name is not None and var is not None and name != var:
        return None
    return sympy.FiniteSet(*[policy.substitute(v) for v in values])


def _variable(shape: Shape) -> sympy.Symbol | None:
    """What a constraint is about: its one lone-symbol side that no other side uses, else its only symbol."""
    assert shape.chain is not None
    sides = shape.chain.sides
    lone = [s.value for s in sides if s.ok and isinstance(s.value, sympy.Symbol)]
    for var in lone:
        others = [s for s in sides if s.value != var]
        if all(not (isinstance(s.value, sympy.Basic) and s.value.has(var)) for s in others if s.ok):
            return var
    symbols: set[sympy.Basic] = set()
    for s in sides:
        if s.ok and isinstance(s.value, sympy.Basic) and not isinstance(s.value, sympy.Set):
            symbols |= s.value.free_symbols
    return symbols.pop() if len(symbols) == 1 else None


def _constraint(shape: Shape, policy: Policy, var: sympy.Symbol | None = None) -> tuple[Any, sympy.Set | None]:
    assert shape.chain is not None
    bad = [s for s in shape.chain.sides if not s.ok]
    if bad:
        raise Undecidable(f"could not read '{bad[0].source}': {bad[0].error}")
    var = var or _variable(shape)
    if var is None:
        return None, None
    relations = list(shape.chain.relations)
    values = []
    for k, side in enumerate(shape.chain.sides):
        value = policy.substitute(side.value)
        member = k > 0 and relations[k - 1] in ("in", "notin")
        if member and side.brackets in ("()", "[]") and isinstance(value, sympy.MatrixBase) and len(value) == 2:
            open_ = side.brackets == "()"
            value = sympy.Interval(value[0], value[1], left_open=open_, right_open=open_)  # x in (0, 1)
        values.append(value)
    return var, constraint_set(values, relations, var)


# -- one function per expected shape ---------------------------------------------------------------


def _vs_word(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    if answer.kind != "word":
        return Verdict(False, f"the expected answer is the word '{expected.word}'; the answer is not a word")
    if answer.word == expected.word:
        return Verdict(True, f"'{answer.word}' is the expected word")
    return Verdict(False, f"the answer is '{answer.word}', the expected answer '{expected.word}'")


def _same_value_lists(got: list[Any], want: list[Any], policy: Policy) -> bool | None:
    return same_set(sympy.FiniteSet(*[policy.substitute(v) for v in got]),
                    sympy.FiniteSet(*[policy.substitute(v) for v in want]))


def _vs_several(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    want, got = _named_values(expected), _named_values(answer)
    if want is None:
        return Verdict(None, "the expected answers are not values this check can compare")
    if got is None:
        return Verdict(False, f"the expected answer lists {expected.source}; the answer does not")
    if set(got) != set(want):
        missing = ", ".join(show(n) for n in want if n not in got and n is not None)
        return Verdict(False, f"the answer does not give {missing or 'the same names'}")
    verdicts = []
    for name, values in want.items():
        same = _same_value_lists(got[name], values, policy)
        label = f"{show(name)}: " if name is not None else ""
        shown = ", ".join(show(v) for v in got[name])
        verdicts.append(Verdict(same, f"{label}the answer gives {shown}, expected {', '.join(show(v) for v in values)}"))
    result = _all(verdicts)
    return Verdict(True, f"{answer.source} gives the expected values") if result.equal else result


def _vs_assignment(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    name = expected.name
    if answer.kind == "assignment" and answer.name != name:
        return Verdict(False, f"the answer gives {show(answer.name)}; the question asks for {show(name)}")
    if answer.kind == "several" or isinstance(expected.value, sympy.FiniteSet):
        return _vs_several(answer, expected, policy)
    if answer.kind == "equation" and isinstance(name, sympy.Symbol):
        assert answer.chain is not None
        if all(s.ok for s in answer.chain.sides[-2:]) and answer.equation.has(name):
            try:
                roots = solutions(policy.substitute(answer.equation), name)
            except Undecidable as err:
                return Verdict(None, str(err))
            same = same_set(roots, sympy.FiniteSet(policy.substitute(expected.value)))
            return Verdict(same, f"solving the answer for {show(name)} gives {show(roots)}")
    if answer.kind == "constraint":
        return _vs_constraint(answer, expected, policy)
    as_value = Shape("value", expected.source, expected.chain, expected.side)
    return compare_shapes(answer, as_value, policy)


def _vs_equation(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    assert expected.chain is not None
    fe = policy.substitute(expected.equation)
    if answer.kind in ("equation", "assignment") and answer.chain is not None:
        sides = answer.chain.sides[-2:]
        if not all(s.ok for s in sides) or any(isinstance(s.value, sympy.Set | sympy.MatrixBase) for s in sides):
            if answer.kind == "assignment":
                return _vs_solutions(answer, fe, policy)
            bad = next((s for s in sides if not s.ok), None)
            if bad is not None:
                return Verdict(None, f"could not read '{bad.source}': {bad.error}", reason="answer_parse_error")
            return Verdict(None, "the answer's equation cannot be read as one equation")
        same = same_equation(policy.substitute(answer.equation), fe)
        note = "the equations have the same solutions" if same else "the equations have different solutions"
        return Verdict(same, note if same is not None else "could not decide whether the equations agree")
    if answer.kind in ("several", "value"):
        if answer.kind == "value" and value_kind(answer.value, answer.side) == "scalar":
            return Verdict(False, f"the expected answer is an equation ({expected.source}); the answer is not")
        return _vs_solutions(answer, fe, policy)
    return Verdict(False, f"the expected answer is an equation ({expected.source}); the answer is not")


def _vs_solutions(answer: Shape, fe: Any, policy: Policy) -> Verdict:
    variables = fe.free_symbols
    if len(variables) != 1:
        return Verdict(False, "the expected equation has several unknowns; the answer lists values")
    (var,) = variables
    got = _as_set(answer, var, policy)
    if got is None:
        return Verdict(False, f"the answer does not give the values of {show(var)}")
    want = solutions(fe, var)
    same = same_set(got, want)
    return Verdict(same, f"the answer gives {show(got)}; the solutions are {show(want)}")


def _normalized(shape: Shape, policy: Policy) -> tuple[Any, str] | None:
    """A single relation ``lhs REL rhs`` as ``(f, REL)`` with ``f REL 0`` and REL in >, >=, !=."""
    assert shape.chain is not None
    if len(shape.chain.relations) != 1 or not all(s.ok for s in shape.chain.sides):
        return None
    lhs, rhs = (policy.substitute(s.value) for s in shape.chain.sides)
    rel = shape.chain.relations[0]
    if rel in ("<", "<="):
        return rhs - lhs, {"<": ">", "<=": ">="}[rel]
    return (lhs - rhs, rel) if rel in (">", ">=", "!=", "=") else None


def _vs_constraint(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    try:
        var, want = _constraint(expected, policy)
        if want is None:
            return _vs_relation(answer, expected, policy)
        if answer.kind == "value" and value_kind(answer.value, answer.side) == "scalar":
            return Verdict(False, f"the answer is a value; the expected answer is the relation {expected.source}")
        if answer.kind == "constraint" and not _mentions(answer, var):
            return Verdict(False, f"the answer constrains {answer.source}, not {show(var)}")
        if answer.kind == "constraint":
            answer_var, got = _constraint(answer, policy, var)
        else:
            answer_var, got = var, _as_set(answer, var, policy)
    except Undecidable as err:
        return Verdict(None, str(err))
    if got is None:
        return Verdict(False, f"the answer does not constrain {show(var)} ({answer.source})")
    same = same_set(got, want)
    if same is None:
        return Verdict(None, f"could not decide whether {show(got)} equals {show(want)}")
    if same:
        return Verdict(True, f"{answer.source} allows the same values of {show(answer_var)}")
    return Verdict(False, f"{answer.source} allows {show(var)} in {show(got)}; expected {show(want)}{_strictness(got, want)}")


def _mentions(shape: Shape, var: sympy.Symbol) -> bool:
    assert shape.chain is not None
    return any(s.ok and isinstance(s.value, sympy.Basic) and s.value.has(var) for s in shape.chain.sides)


def _strictness(got: sympy.Set, want: sympy.Set) -> str:
    if isinstance(got, sympy.Interval) and isinstance(want, sympy.Interval):
        if (got.start, got.end) == (want.start, want.end):
            return " (the ends differ in strictness: < versus <=)"
    return ""


def _vs_relation(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    """Relations in several variables: the same relation up to a positive factor."""
    want = _normalized(expected, policy)
    got = _normalized(answer, policy) if answer.kind in ("constraint", "relation") else None
    if want is None:
        return Verdict(None, f"cannot compare relations such as {expected.source}")
    if got is None:
        return Verdict(False, f"the answer is not the relation {expected.source}")
    (fa, ra), (fe, re_) = got, want
    if ra != re_:
        return Verdict(False, f"the answer's relation is {ra} 0, the expected {re_} 0")
    ratio = sympy.cancel(sympy.together(fa / fe)) if fe != 0 else None
    if ratio is not None and ratio.is_number and ratio != 0 and (ratio > 0 or ra in ("!=", "=")):
        return Verdict(True, "the same relation")
    return Verdict(False, f"{answer.source} is not the relation {expected.source}")


def _vs_set(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    want = policy.substitute(expected.value)
    if answer.kind == "constraint":
        return _set_vs_constraint(answer, want, policy)
    got = _as_set(answer, None, policy, intervals=not isinstance(want, sympy.FiniteSet))
    if got is None and answer.kind == "value" and isinstance(answer.value, sympy.MatrixBase) and isinstance(want, sympy.FiniteSet):
        got = sympy.FiniteSet(sympy.Tuple(*answer.value))
    if got is None:
        return Verdict(False, f"the expected answer is the set {show(want)}; the answer is not a set")
    same = same_set(got, want)
    if same is None:
        return Verdict(None, f"could not decide whether {show(got)} equals {show(want)}")
    return Verdict(same, f"the answer is {show(got)}, expected {show(want)}")


def _set_vs_constraint(answer: Shape, want: sympy.Set, policy: Policy) -> Verdict:
    try:
        var, got = _constraint(answer, policy)
    except Undecidable as err:
        return Verdict(None, str(err))
    if got is None:
        return Verdict(None, f"cannot tell which variable {answer.source} constrains")
    same = same_set(got, want)
    if same is None:
        return Verdict(None, f"could not decide whether {show(got)} equals {show(want)}")
    return Verdict(same, f"{answer.source} allows {show(var)} in {show(got)}, expected {show(want)}")


def _vs_tuple(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    want = policy.substitute(expected.value)
    pair = expected.side is not None and expected.side.brackets in ("()", "[]") and len(want) == 2
    if pair and (answer.kind == "constraint" or isinstance(answer.value, sympy.Interval | sympy.Union)):
        closed = expected.side is not None and expected.side.brackets == "[]"
        interval = sympy.Interval(*want, left_open=not closed, right_open=not closed)
        return _vs_set(answer, Shape("value", expected.source, side=ParsedSide(expected.source, interval)), policy)
    got = policy.substitute(answer.value) if answer.kind in ("value", "assignment") else None
    if not isinstance(got, sympy.MatrixBase):
        return Verdict(False, f"the expected answer is the tuple {show(want)}; the answer is not a tuple")
    if len(got) != len(want):
        return Verdict(False, f"the answer has {len(got)} entries, expected {len(want)}")
    assert answer.side is not None and expected.side is not None
    verdicts = []
    for k, (a, e) in enumerate(zip(got, want, strict=True), 1):
        v = compare_sides(_side(a, answer.side), _side(e, expected.side), policy)
        verdicts.append(Verdict(v.equal, f"entry {k} is {show(a)}, expected {show(e)}"))
    result = _all(verdicts)
    return Verdict(True, f"{show(got)} matches {show(want)}") if result.equal else result


def _vs_ratio(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    want = [policy.substitute(p) for p in expected.value.args]
    got_value = policy.substitute(answer.value) if answer.kind == "value" else None
    if isinstance(got_value, Ratio):
        got = list(got_value.args)
        if len(got) != len(want):
            return Verdict(False, f"the answer has {len(got)} parts, the expected ratio {len(want)}")
        scale = got[0] / want[0] if want[0] != 0 else None
        if scale is None or scale == 0:
            return Verdict(None, "a ratio with a zero first part cannot be compared")
        verdicts = [Verdict(compare_values(g, scale * w).equal) for g, w in zip(got, want, strict=True)]
        same = _all(verdicts).equal
        return Verdict(same, f"{answer.source} is {'' if same else 'not '}proportional to {expected.source}")
    if len(want) == 2 and answer.kind == "value" and value_kind(got_value) == "scalar":
        assert answer.side is not None
        return compare_sides(answer.side, _side(want[0] / want[1]), policy)
    return Verdict(False, f"the expected answer is the ratio {expected.source}; the answer is not")


def _scalar_expected(expected: Shape) -> bool:
    return expected.kind in ("value", "named", "assignment") and value_kind(expected.value, expected.side) == "scalar"


def _vs_scalar(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    if answer.kind == "word":
        if answer.word in NON_FINITE_WORDS:
            return Verdict(False, f"the answer '{answer.word}' is not a finite value")
        return Verdict(None, f"the answer is the word '{answer.word}', not a formula")
    if answer.kind == "several":
        verdicts = []
        for k, item in enumerate(answer.items, 1):
            v = _vs_scalar(item, expected, policy)
            verdicts.append(Verdict(v.equal, f"answer {k} of {len(answer.items)} ({item.source}): {v.note}", v.comparison))
        result = _all(verdicts)
        return Verdict(True, "every answer given is the expected value") if result.equal else result
    if answer.kind in ("constraint", "relation"):
        assert answer.chain is not None
        rel = next(r for r in answer.chain.relations if r not in ("=",))
        return Verdict(False, f"the answer states a relation ({rel}), not a value: {answer.source}")
    kind = value_kind(answer.value, answer.side) if answer.side is not None and answer.side.ok else "scalar"
    if kind == "ratio" and len(answer.value.args) == 2:
        a, b = answer.value.args
        assert answer.side is not None
        v = compare_sides(_side(a / b, answer.side), expected.side or _side(expected.value), policy)
        if v.equal is False:
            return Verdict(False, f"the ratio {answer.source} is {show(a / b)}; expected {show(expected.value)}")
        return v
    if kind == "set":
        if answer.side is not None and answer.side.plus_minus:
            return Verdict(False, f"the answer gives two values ({answer.side.source}); expected one")
        return Verdict(False, f"the answer is a set or interval ({answer.side and answer.side.source}); expected a value")
    if kind in ("tuple", "list"):
        return Verdict(False, "the answer is a vector or matrix; expected a formula")
    assert policy.scalar is not None
    return policy.scalar(answer, expected)


def _unreadable(answer: Shape) -> Verdict | None:
    """A parse error in the answer's value: the comparison cannot be made (never "incorrect")."""
    for item in answer.items or (answer,):
        side = item.side
        if side is not None and not side.ok and item.kind != "equation":
            return Verdict(None, f"could not read '{side.source}': {side.error}", reason="answer_parse_error")
    return None


def compare_shapes(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    """Compare an answer with one expected answer, by the expected answer's shape."""
    if expected.kind == "word":
        return _vs_word(answer, expected, policy)
    unreadable = _unreadable(answer)
    if unreadable is not None:
        return unreadable
    if answer.kind == "word" and not (answer.word in NON_FINITE_WORDS and _scalar_expected(expected)):
        return Verdict(None, f"the answer is the word '{answer.word}', which this check cannot compare with {expected.source}")
    if expected.kind == "several" and all(item.kind == "constraint" for item in expected.items):
        try:
            union = _as_set(expected, None, policy)  # x <= 0 or x >= 1
        except Undecidable as err:
            return Verdict(None, str(err))
        if union is None:
            return Verdict(None, f"cannot read {expected.source} as one set of values")
        return _vs_set(answer, Shape("value", expected.source, side=ParsedSide(expected.source, union)), policy)
    if expected.kind == "several":
        return _vs_several(answer, expected, policy)
    if expected.kind == "assignment":
        return _vs_assignment(answer, expected, policy)
    if expected.kind == "equation":
        return _vs_equation(answer, expected, policy)
    if expected.kind == "constraint":
        return _vs_constraint(answer, expected, policy)
    if expected.kind == "relation":
        return _vs_relation(answer, expected, policy)
    kind = value_kind(expected.value, expected.side)
    if kind in ("set", "list"):
        if kind == "list":
            want = sympy.FiniteSet(*expected.value)
            expected = Shape("value", expected.source, expected.chain, ParsedSide(expected.source, want))
        return _vs_set(answer, expected, policy)
    if kind == "tuple":
        return _vs_tuple(answer, expected, policy)
    if kind == "ratio":
        return _vs_ratio(answer, expected, policy)
    return _vs_scalar(answer, expected, policy)
