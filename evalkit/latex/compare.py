"""Comparing an answer with the expected one, dispatched on the expected answer's shape.

:func:`compare_shapes` picks one small function per expected shape
(:mod:`~evalkit.latex.shapes`); each looks at the answer's shape and returns
a :class:`~evalkit.latex.values.Verdict`: ``equal`` is True, False (with what
differs) or None (cannot be decided: the check reports ``unscored``, never a
guess). A relation never equals a bare value unless it pins it (``x = 5`` vs
``5``); direction and strictness always matter; an expected equation is
compared as its solution set, never as one of its sides. Values themselves
are compared under the check's policies by :func:`~evalkit.latex.values.compare_sides`.
"""

from __future__ import annotations

from typing import Any

import sympy

from evalkit.latex.chain import ParsedSide
from evalkit.latex.equivalence import compare_values
from evalkit.latex.nodes import Ratio, show
from evalkit.latex.sets import Undecidable, same_equation, same_set, solutions
from evalkit.latex.shapes import Shape, as_set, constraint_of, named_values, value_before_bound, value_kind
from evalkit.latex.units import NON_FINITE_WORDS
from evalkit.latex.values import Policy, Verdict, all_hold, compare_sides, side_of

__all__ = ["compare_shapes"]


# -- one function per expected shape ---------------------------------------------------------------


def _vs_word(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    if answer.kind != "word":
        return Verdict(False, f"the expected answer is the word '{expected.word}'; the answer is not a word")
    if answer.word == expected.word:
        return Verdict(True, f"'{answer.word}' is the expected word")
    return Verdict(False, f"the answer is '{answer.word}', the expected answer '{expected.word}'")


def _same_value_lists(got: list[Any], want: list[Any], policy: Policy) -> bool | None:
    return same_set(
        sympy.FiniteSet(*[policy.substitute(v) for v in got]),
        sympy.FiniteSet(*[policy.substitute(v) for v in want]),
    )


def _vs_several(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    want, got = named_values(expected), named_values(answer)
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
        verdicts.append(
            Verdict(same, f"{label}the answer gives {shown}, expected {', '.join(show(v) for v in values)}")
        )
    result = all_hold(verdicts)
    return Verdict(True, f"{answer.source} gives the expected values") if result.equal else result


def _vs_assignment(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    name = expected.name
    if answer.kind == "assignment" and answer.name != name:
        if _scalar_sides(answer) and _scalar_sides(expected):
            fa, fe = (policy.substitute(s.equation) for s in (answer, expected))
            if same_equation(fa, fe):  # a = b for b = a
                return Verdict(True, "the equations have the same solutions")
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


def _scalar_sides(shape: Shape) -> bool:
    """Whether the last two sides of a shape's chain are readable scalars (an equation)."""
    sides = shape.chain.sides[-2:] if shape.chain is not None else ()
    return len(sides) == 2 and all(s.ok and value_kind(s.value, s) == "scalar" for s in sides)


def _vs_equation(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    assert expected.chain is not None
    fe = policy.substitute(expected.equation)
    if answer.kind in ("equation", "assignment") and answer.chain is not None:
        sides = answer.chain.sides[-2:]
        if not all(s.ok for s in sides) or any(
            isinstance(s.value, sympy.Set | sympy.MatrixBase) for s in sides
        ):
            if answer.kind == "assignment":
                return _vs_solutions(answer, fe, policy)
            bad = next((s for s in sides if not s.ok), None)
            if bad is not None:
                return Verdict(
                    None, f"could not read '{bad.source}': {bad.error}", reason="answer_parse_error"
                )
            return Verdict(None, "the answer's equation cannot be read as one equation")
        same = same_equation(policy.substitute(answer.equation), fe)
        note = "the equations have the same solutions" if same else "the equations have different solutions"
        return Verdict(same, note if same is not None else "could not decide whether the equations agree")
    if answer.kind in ("several", "value"):
        if answer.kind == "value" and value_kind(answer.value, answer.side) == "scalar":
            return Verdict(
                False, f"the expected answer is an equation ({expected.source}); the answer is not"
            )
        return _vs_solutions(answer, fe, policy)
    return Verdict(False, f"the expected answer is an equation ({expected.source}); the answer is not")


def _vs_solutions(answer: Shape, fe: Any, policy: Policy) -> Verdict:
    variables = fe.free_symbols
    if len(variables) != 1:
        return Verdict(False, "the expected equation has several unknowns; the answer lists values")
    (var,) = variables
    got = as_set(answer, var, policy)
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
        var, want = constraint_of(expected, policy)
        if want is None:
            return _vs_relation(answer, expected, policy)
        if answer.kind == "value" and value_kind(answer.value, answer.side) == "scalar":
            return Verdict(
                False, f"the answer is a value; the expected answer is the relation {expected.source}"
            )
        if answer.kind == "constraint" and not _mentions(answer, var):
            return Verdict(False, f"the answer constrains {answer.source}, not {show(var)}")
        if answer.kind == "constraint":
            answer_var, got = constraint_of(answer, policy, var)
        else:
            answer_var, got = var, as_set(answer, var, policy)
    except Undecidable as err:
        return Verdict(None, str(err))
    if got is None:
        return Verdict(False, f"the answer does not constrain {show(var)} ({answer.source})")
    return _judge_sets(
        got,
        want,
        f"{answer.source} allows the same values of {show(answer_var)}",
        f"{answer.source} allows {show(var)} in {show(got)}; expected {show(want)}{_strictness(got, want)}",
    )


def _judge_sets(got: sympy.Set, want: sympy.Set, same_note: str, differ_note: str) -> Verdict:
    same = same_set(got, want)
    if same is None:
        return Verdict(None, f"could not decide whether {show(got)} equals {show(want)}")
    return Verdict(same, same_note if same else differ_note)


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
    if (
        answer.kind == "several"
        and answer.joiner == "mixed"
        and any(i.kind == "constraint" for i in answer.items)
    ):
        return Verdict(
            None, f"{answer.source} joins relations with both 'and' and 'or'; cannot tell how they group"
        )
    got = as_set(answer, None, policy, intervals=not isinstance(want, sympy.FiniteSet))
    if (
        got is None
        and answer.kind == "value"
        and isinstance(answer.value, sympy.MatrixBase)
        and isinstance(want, sympy.FiniteSet)
    ):
        got = sympy.FiniteSet(sympy.Tuple(*answer.value))
    if got is None:
        return Verdict(False, f"the expected answer is the set {show(want)}; the answer is not a set")
    note = f"the answer is {show(got)}, expected {show(want)}"
    return _judge_sets(got, want, note, note)


def _set_vs_constraint(answer: Shape, want: sympy.Set, policy: Policy) -> Verdict:
    try:
        var, got = constraint_of(answer, policy)
    except Undecidable as err:
        return Verdict(None, str(err))
    if got is None:
        return Verdict(None, f"cannot tell which variable {answer.source} constrains")
    note = f"{answer.source} allows {show(var)} in {show(got)}, expected {show(want)}"
    return _judge_sets(got, want, note, note)


def _vs_tuple(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    want = policy.substitute(expected.value)
    pair = expected.side is not None and expected.side.brackets in ("()", "[]") and len(want) == 2
    if pair and (answer.kind == "constraint" or isinstance(answer.value, sympy.Interval | sympy.Union)):
        closed = expected.side is not None and expected.side.brackets == "[]"
        interval = sympy.Interval(*want, left_open=not closed, right_open=not closed)
        return _vs_set(
            answer, Shape("value", expected.source, side=ParsedSide(expected.source, interval)), policy
        )
    if answer.kind == "several" and all(item.kind == "assignment" for item in answer.items):
        return Verdict(
            None, "the answer names its values; the expected tuple does not say which entry is which"
        )
    got = policy.substitute(answer.value) if answer.kind in ("value", "assignment") else None
    if not isinstance(got, sympy.MatrixBase):
        return Verdict(False, f"the expected answer is the tuple {show(want)}; the answer is not a tuple")
    if len(got) != len(want):
        return Verdict(False, f"the answer has {len(got)} entries, expected {len(want)}")
    assert answer.side is not None and expected.side is not None
    verdicts = []
    for k, (a, e) in enumerate(zip(got, want, strict=True), 1):
        v = compare_sides(side_of(a, answer.side), side_of(e, expected.side), policy)
        verdicts.append(Verdict(v.equal, f"entry {k} is {show(a)}, expected {show(e)}"))
    result = all_hold(verdicts)
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
        same = all_hold(verdicts).equal
        return Verdict(same, f"{answer.source} is {'' if same else 'not '}proportional to {expected.source}")
    if len(want) == 2 and answer.kind == "value" and value_kind(got_value) == "scalar":
        assert answer.side is not None
        return compare_sides(answer.side, side_of(want[0] / want[1]), policy)
    return Verdict(False, f"the expected answer is the ratio {expected.source}; the answer is not")


def _scalar_expected(expected: Shape) -> bool:
    return (
        expected.kind in ("value", "named", "assignment")
        and value_kind(expected.value, expected.side) == "scalar"
    )


def _vs_scalar(answer: Shape, expected: Shape, policy: Policy) -> Verdict:
    if answer.kind == "word":
        if answer.word in NON_FINITE_WORDS:
            return Verdict(False, f"the answer '{answer.word}' is not a finite value")
        return Verdict(None, f"the answer is the word '{answer.word}', not a formula")
    if answer.kind == "several":
        items = list(answer.items)
        while len(items) > 1 and items[-1].kind == "constraint" and items[0].kind != "constraint":
            items.pop()  # d^{1/2}, d > 0: a qualifier after the value
        if len(items) == 1:
            return _vs_scalar(items[0], expected, policy)
        verdicts = []
        for k, item in enumerate(items, 1):
            v = _vs_scalar(item, expected, policy)
            verdicts.append(
                Verdict(v.equal, f"answer {k} of {len(items)} ({item.source}): {v.note}", v.comparison)
            )
        result = all_hold(verdicts)
        return Verdict(True, "every answer given is the expected value") if result.equal else result
    valued = value_before_bound(answer)
    if valued is not None:  # p - 1 ≤ 0: the value, and a remark on its sign
        return _vs_scalar(valued, expected, policy)
    if answer.kind in ("constraint", "relation"):
        assert answer.chain is not None
        rel = next(r for r in answer.chain.relations if r not in ("=",))
        return Verdict(False, f"the answer states a relation ({rel}), not a value: {answer.source}")
    kind = value_kind(answer.value, answer.side) if answer.side is not None and answer.side.ok else "scalar"
    if kind == "ratio" and len(answer.value.args) == 2:
        a, b = answer.value.args
        assert answer.side is not None
        v = compare_sides(side_of(a / b, answer.side), expected.side or side_of(expected.value), policy)
        if v.equal is False:
            return Verdict(
                False, f"the ratio {answer.source} is {show(a / b)}; expected {show(expected.value)}"
            )
        return v
    if kind == "set":
        if answer.side is not None and answer.side.plus_minus:
            return Verdict(False, f"the answer gives two values ({answer.side.source}); expected one")
        return Verdict(
            False, f"the answer is a set or interval ({answer.side and answer.side.source}); expected a value"
        )
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
        return Verdict(
            None,
            f"the answer is the word '{answer.word}', which this check cannot compare with {expected.source}",
        )
    if expected.kind == "several" and all(item.kind == "constraint" for item in expected.items):
        try:
            union = as_set(expected, None, policy)  # x <= 0 or x >= 1
        except Undecidable as err:
            return Verdict(None, str(err))
        if union is None:
            return Verdict(None, f"cannot read {expected.source} as one set of values")
        return _vs_set(
            answer, Shape("value", expected.source, side=ParsedSide(expected.source, union)), policy
        )
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
