"""Are two values equal, and if not, why not.

:func:`compare_values` decides in two steps. First it evaluates both sides
exactly at a few random points (positive values for dimensions, random
values for opaque atoms such as ``q^T k`` or ``||mu||``; only values a
symbol's declared kind allows, so a counterexample is one a person accepts):
one point where they differ proves them different. If they agree everywhere it asks sympy for
a proof (``expand``, ``cancel``, then ``simplify``); only a proof makes them
equal. Agreement without a proof is *undecided*, never equal, except when an
answer is written with decimals and a tolerance is given, where agreement
within the tolerance is the intended test.

:func:`explain_difference` words the difference for a person: "ratio to
expected is h", "missing term 2 q^T k", "the sign is flipped".
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from typing import Any

import sympy
from sympy.core.function import AppliedUndef

from evalkit.latex.nodes import ASYMPTOTIC_CLASSES, OPAQUE_OPERATORS, Dot, Norm, show

__all__ = ["Comparison", "compare_values", "explain_difference", "opaque_atoms"]

_POINTS = 4
_EXACT_TOL = sympy.Float("1e-20", 40)
_OPAQUE = (Dot, Norm, *OPAQUE_OPERATORS, *ASYMPTOTIC_CLASSES)


@dataclass(frozen=True)
class Comparison:
    """``equal`` is True (proven), False (a point where they differ) or None (undecided)."""

    equal: bool | None
    note: str = ""
    witness: tuple[tuple[str, str], ...] = ()


def opaque_atoms(expr: sympy.Basic) -> set[sympy.Basic]:
    """Sub-expressions evalkit cannot evaluate: ``q^T k``, ``||x||``, ``E[.]``, ``sim(q, k)`` ..."""
    found: set[sympy.Basic] = set()
    for atom in expr.atoms(sympy.Function):
        if isinstance(atom, _OPAQUE) or isinstance(atom, AppliedUndef):
            found.add(atom)
    found |= {s for s in expr.free_symbols if not s.is_commutative}
    return found


def _random_value(rng: random.Random, positive: bool, integer: bool = False) -> sympy.Rational:
    """A value the symbol's declared kind allows: integers for integers, at least 1 for positive
    quantities (a dimension is at least 1), either sign for other reals."""
    if integer:
        return sympy.Integer(rng.randint(2, 11))
    if positive:
        return sympy.Rational(rng.randint(89, 997), rng.randint(7, 89))
    value = sympy.Rational(rng.randint(13, 997), rng.randint(7, 89))
    return value if rng.random() < 0.5 else -value


def _points(exprs: list[sympy.Basic], seed: int, count: int = _POINTS) -> list[dict[sympy.Basic, Any]]:
    atoms: set[sympy.Basic] = set()
    symbols: set[sympy.Basic] = set()
    for expr in exprs:
        atoms |= opaque_atoms(expr)
        symbols |= expr.free_symbols
    # Outer atoms hide inner ones from xreplace, so the inner ones need no value of their own.
    ordered_atoms = sorted(atoms, key=sympy.default_sort_key)
    ordered_symbols = sorted(symbols, key=sympy.default_sort_key)
    rng = random.Random(seed)
    points = []
    for _ in range(count):
        point: dict[sympy.Basic, Any] = {}
        for atom in ordered_atoms:
            point[atom] = _random_value(rng, positive=isinstance(atom, Norm))
        for sym in ordered_symbols:
            point[sym] = _random_value(rng, bool(sym.is_positive or sym.is_nonnegative), bool(sym.is_integer))
        points.append(point)
    return points


def _evaluate(expr: sympy.Basic, point: dict[sympy.Basic, Any]) -> sympy.Basic | None:
    value = expr.xreplace(point)
    if not value.is_number:
        value = value.subs(point)
    if not value.is_number or value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        return None
    return sympy.N(value, 30)


def _close(a: sympy.Basic, b: sympy.Basic, tolerance: float | None) -> bool:
    scale = max(sympy.Abs(a), sympy.Abs(b), sympy.Integer(1))
    tol = _EXACT_TOL if tolerance is None else sympy.Float(tolerance, 30)
    return bool(sympy.Abs(a - b) <= tol * scale)


def _proven_zero(diff: sympy.Basic) -> bool:
    if diff == 0:
        return True
    for step in (sympy.expand, lambda e: sympy.cancel(sympy.together(e)), sympy.simplify):
        try:
            if step(diff) == 0:
                return True
        except (TypeError, ValueError, NotImplementedError, sympy.PolynomialError):
            continue
    return False


def compare_values(answer: Any, expected: Any, *, tolerance: float | None = None) -> Comparison:
    """Compare two scalar values (see the module docstring); ``tolerance`` is relative."""
    if isinstance(answer, sympy.MatrixBase) or isinstance(expected, sympy.MatrixBase):
        return Comparison(False, "one side is a vector or matrix and the other is not")
    if answer == expected:
        return Comparison(True, "identical")
    seed = zlib.crc32(f"{sympy.srepr(answer)}|{sympy.srepr(expected)}".encode())
    evaluated = 0
    for point in _points([answer, expected], seed):
        a, e = _evaluate(answer, point), _evaluate(expected, point)
        if a is None or e is None:
            continue
        evaluated += 1
        if not _close(a, e, tolerance):
            witness = tuple((show(k), f"{float(v):.4g}") for k, v in point.items() if k.is_Symbol)
            return Comparison(False, f"answer {_num(a)} vs expected {_num(e)}", witness)
    if tolerance is not None and evaluated:
        return Comparison(True, f"equal within tolerance {tolerance:g} at {evaluated} points")
    if _proven_zero(answer - expected):
        return Comparison(True, "proven equal")
    if evaluated:
        return Comparison(None, f"equal at {evaluated} random points but sympy could not prove it")
    return Comparison(None, "could not evaluate either side at any point")


def _num(value: sympy.Basic) -> str:
    if value.is_real:
        return f"{float(value):.6g}"
    return show(sympy.N(value, 6))


def _terms(expr: sympy.Basic) -> list[sympy.Basic]:
    return list(sympy.Add.make_args(sympy.expand(expr)))


def explain_difference(
    answer: sympy.Basic, expected: sympy.Basic, comparison: Comparison | None = None
) -> str:
    """One or two sentences on how ``answer`` differs from ``expected``."""
    notes = []
    extra = sorted(s.name for s in answer.free_symbols - expected.free_symbols)
    lacking = sorted(s.name for s in expected.free_symbols - answer.free_symbols)
    if extra:
        notes.append(f"the answer uses {', '.join(extra)}, which the expected answer does not")
    if lacking:
        notes.append(f"the answer has no {', '.join(lacking)}")
    detail = _shape_of_difference(answer, expected)
    if detail is None and comparison is not None and comparison.note:
        where = ", ".join(f"{k} = {v}" for k, v in comparison.witness[:4])
        detail = f"they differ at {where}: {comparison.note}" if where else comparison.note
    if detail:
        notes.append(detail)
    text = "; ".join(notes) if notes else "not equivalent to the expected answer"
    return text[0].upper() + text[1:]


def _small_difference(
    answer_terms: list[sympy.Basic], expected_terms: list[sympy.Basic]
) -> tuple[list[sympy.Basic], list[sympy.Basic]] | None:
    missing = [t for t in expected_terms if t not in answer_terms]
    extra = [t for t in answer_terms if t not in expected_terms]
    shared = len(expected_terms) - len(missing)
    if 0 < len(missing) + len(extra) <= 4 and (shared > 0 or len(missing) + len(extra) == 1):
        return missing, extra
    return None


def _shape_of_difference(answer: sympy.Basic, expected: sympy.Basic) -> str | None:
    if expected != 0:
        ratio = sympy.cancel(sympy.together(answer / expected))
        if ratio.is_number:
            if ratio == -1:
                return "the sign is flipped"
            return f"the answer is {show(ratio)} times the expected value"
        _, denominator = sympy.fraction(ratio)
        if sympy.count_ops(ratio) <= 6 and not denominator.has(sympy.Add):
            if not ratio.has(sympy.Add) or sympy.count_ops(ratio) <= 2:
                return f"ratio to expected is {show(ratio)}"
    found = _small_difference(list(sympy.Add.make_args(answer)), list(sympy.Add.make_args(expected)))
    if found is None:
        found = _small_difference(_terms(answer), _terms(expected))
    if found is None:
        return None
    missing, extra = found
    parts = []
    if missing:
        parts.append(f"missing term{'s' if len(missing) > 1 else ''} {', '.join(show(t) for t in missing)}")
    if extra:
        parts.append(f"extra term{'s' if len(extra) > 1 else ''} {', '.join(show(t) for t in extra)}")
    if missing and extra:
        diff = sympy.expand(answer - expected)
        if len(sympy.Add.make_args(diff)) <= 3:
            parts.append(f"answer - expected = {show(diff)}")
    return "; ".join(parts)
