"""Relations, equations and sets, compared exactly with sympy's sets and solvers.

* :func:`constraint_set` turns a relation chain about one variable into the
  set of values it allows: ``-793 < a < 10`` is ``(-793, 10)``, ``x \\neq 1``
  is ``R \\ {1}``, ``0 < \\eta L < 2`` with ``L > 0`` is ``(0, 2/L)``, and
  ``x^2 < 4`` is ``(-2, 2)`` (linear relations are solved by hand when the
  coefficient's sign is known; others by sympy's
  ``solve_univariate_inequality``). Direction and strictness are kept.
* :func:`same_equation` decides whether two equations have the same
  solutions: a constant non-zero ratio of ``lhs - rhs`` proves it; otherwise
  both are solved for each variable (polynomials up to degree 4) and the
  solutions compared, so ``2x + 4y - 3 = 0`` equals ``y = -x/2 + 3/4`` and
  ``xy = 0`` does not equal ``x = 0``.
* :func:`same_set` compares intervals (ends and openness), unions, finite
  sets (element by element, order-free) and anything else through sympy's
  symmetric difference.

Each returns ``True``/``False`` or ``None`` (cannot decide), never a guess;
they run inside the bounded math worker like every comparison.
"""

from __future__ import annotations

from typing import Any

import sympy
from sympy.solvers.inequalities import solve_univariate_inequality

from evalkit.latex.equivalence import compare_values

__all__ = ["Undecidable", "constraint_set", "intersect", "same_equation", "same_set", "solutions"]

_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
_RELATIONALS = {
    "<": sympy.StrictLessThan,
    ">": sympy.StrictGreaterThan,
    "<=": sympy.LessThan,
    ">=": sympy.GreaterThan,
}
_MAX_DEGREE = 4
_MAX_VARIABLES = 4


class Undecidable(ValueError):
    """The relation or equation is outside what can be solved exactly here."""


def _domain(var: sympy.Symbol) -> sympy.Set:
    return sympy.Interval.open(0, sympy.oo) if var.is_positive else sympy.Reals


def _ray(rel: str, bound: Any) -> sympy.Set:
    if rel == "<":
        return sympy.Interval.open(-sympy.oo, bound)
    if rel == "<=":
        return sympy.Interval(-sympy.oo, bound)
    if rel == ">":
        return sympy.Interval.open(bound, sympy.oo)
    return sympy.Interval(bound, sympy.oo)


def _inequality_set(f: sympy.Expr, rel: str, var: sympy.Symbol) -> sympy.Set:
    """The values of ``var`` with ``f REL 0``."""
    f = sympy.expand(f)
    if f.is_polynomial(var) and sympy.degree(f, var) == 1:
        coeff = f.coeff(var, 1)
        bound = sympy.simplify(-(f - coeff * var) / coeff)
        if coeff.is_positive:
            return _ray(rel, bound)
        if coeff.is_negative:
            return _ray(_FLIP[rel], bound)
    if f.free_symbols <= {var}:
        try:
            return solve_univariate_inequality(_RELATIONALS[rel](f, 0), var, relational=False)
        except (NotImplementedError, ValueError, TypeError) as err:
            raise Undecidable(f"cannot solve {f} {rel} 0 for {var}: {err}") from None
    raise Undecidable(f"cannot solve {sympy.sstr(f)} {rel} 0 for {var} without knowing the signs involved")


def _relation_set(lhs: Any, rel: str, rhs: Any, var: sympy.Symbol) -> sympy.Set:
    if rel in ("in", "notin"):
        if lhs != var or not isinstance(rhs, sympy.Set):
            raise Undecidable(f"a membership must state '{var} \\in' a set or interval")
        return rhs if rel == "in" else sympy.Reals - rhs
    if isinstance(lhs, sympy.Set | sympy.MatrixBase) or isinstance(rhs, sympy.Set | sympy.MatrixBase):
        raise Undecidable("a relation between sets or vectors is not a constraint on one value")
    f = lhs - rhs
    if rel in ("=", "!="):
        roots = solutions(f, var)
        return roots if rel == "=" else sympy.Reals - roots
    if rel not in _FLIP:
        raise Undecidable(f"relation {rel!r} does not constrain a value")
    return _inequality_set(f, rel, var)


def _order(a: Any, b: Any) -> int | None:
    """-1, 0 or 1 as ``a`` is below, equal to or above ``b``; None when the signs are unknown."""
    if a == b:
        return 0
    difference = sympy.simplify(a - b)
    if difference.is_zero:
        return 0
    if difference.is_extended_positive:
        return 1
    if difference.is_extended_negative:
        return -1
    return None


def intersect(a: sympy.Set, b: sympy.Set) -> sympy.Set:
    """``a ∩ b``, deciding symbolic interval ends from the symbols' signs (``(0, oo) ∩ (-oo, 2/L)``)."""
    if not (isinstance(a, sympy.Interval) and isinstance(b, sympy.Interval)):
        return a.intersect(b)
    low, high = _order(a.start, b.start), _order(a.end, b.end)
    if low is None or high is None:
        return a.intersect(b)
    start, left_open = (a.start, a.left_open) if low > 0 else (b.start, b.left_open)
    if low == 0:
        left_open = a.left_open or b.left_open
    end, right_open = (a.end, a.right_open) if high < 0 else (b.end, b.right_open)
    if high == 0:
        right_open = a.right_open or b.right_open
    if _order(start, end) is None:
        return a.intersect(b)
    return sympy.Interval(start, end, left_open, right_open)


def constraint_set(values: list[Any], relations: list[str], var: sympy.Symbol) -> sympy.Set:
    """The set of ``var`` allowed by the chain ``values[0] rel[0] values[1] ...`` (each link must hold)."""
    allowed = _domain(var)
    for k, rel in enumerate(relations):
        allowed = intersect(allowed, _relation_set(values[k], rel, values[k + 1], var))
    return allowed


def solutions(f: Any, var: sympy.Symbol) -> sympy.Set:
    """The solutions of ``f = 0`` for ``var`` in its domain (an exact sympy set)."""
    try:
        found = sympy.solveset(f, var, domain=_domain(var) if var.is_real else sympy.Complexes)
    except (NotImplementedError, ValueError, TypeError) as err:
        raise Undecidable(f"cannot solve {f} = 0 for {var}: {err}") from None
    if isinstance(found, sympy.ConditionSet):
        raise Undecidable(f"sympy cannot solve {sympy.sstr(f)} = 0 for {var}")
    return found


def _same_elements(a: sympy.FiniteSet, b: sympy.FiniteSet) -> bool | None:
    """Order-free equality of finite sets whose elements may need sympy to compare."""
    undecided = False
    for left, right in ((a, b), (b, a)):
        for x in left.args:
            found: bool | None = False
            for y in right.args:
                same = _same_element(x, y)
                if same:
                    found = True
                    break
                if same is None:
                    found = None
            if found is False:
                return False
            undecided |= found is None
    return None if undecided else True


def _same_element(x: Any, y: Any) -> bool | None:
    if isinstance(x, sympy.Tuple) or isinstance(y, sympy.Tuple):
        if not (isinstance(x, sympy.Tuple) and isinstance(y, sympy.Tuple)) or len(x) != len(y):
            return False
        results = [_same_element(a, b) for a, b in zip(x, y, strict=True)]
        return False if False in results else None if None in results else True
    return compare_values(x, y).equal


def _same_end(a: Any, b: Any) -> bool | None:
    if a == b:
        return True
    if a in (sympy.oo, -sympy.oo) or b in (sympy.oo, -sympy.oo):
        return False
    return compare_values(a, b).equal


def _same_interval(a: sympy.Interval, b: sympy.Interval) -> bool | None:
    ends = [_same_end(a.start, b.start), _same_end(a.end, b.end)]
    if False in ends:
        return False
    if (a.left_open, a.right_open) != (b.left_open, b.right_open):
        return False
    return None if None in ends else True


def same_set(a: sympy.Set, b: sympy.Set) -> bool | None:
    """Whether two sympy sets are equal; None when it cannot be decided."""
    if a == b:
        return True
    if isinstance(a, sympy.FiniteSet) and isinstance(b, sympy.FiniteSet):
        return _same_elements(a, b)
    if isinstance(a, sympy.Interval) and isinstance(b, sympy.Interval):
        return _same_interval(a, b)
    if isinstance(a, sympy.Union) and isinstance(b, sympy.Union) and len(a.args) == len(b.args):
        matched = [any(same_set(x, y) for y in b.args) for x in a.args]
        if all(matched):
            return True
    try:
        difference = a.symmetric_difference(b)
        empty = difference.is_empty
    except (TypeError, ValueError, NotImplementedError, AttributeError):
        return None
    if empty is None and a.is_empty is not None and b.is_empty is not None and a.is_empty != b.is_empty:
        return False
    return None if empty is None else bool(empty)


def _variable_solutions(f: sympy.Expr, var: sympy.Symbol) -> sympy.FiniteSet | None:
    if not f.is_polynomial(var) or sympy.degree(f, var) > _MAX_DEGREE:
        return None
    try:
        return sympy.FiniteSet(*sympy.solve(f, var))
    except (NotImplementedError, ValueError, TypeError):
        return None


def _excludes_nothing(numerator: sympy.Expr, denominator: sympy.Expr) -> bool | None:
    """Whether ``denominator = 0`` removes no solution of ``numerator = 0`` (``y = 1/x`` vs ``xy = 1``)."""
    if denominator.is_number:
        return True
    try:
        common = sympy.solve(
            [numerator, denominator], list(numerator.free_symbols | denominator.free_symbols)
        )
    except (NotImplementedError, ValueError, TypeError):
        return None
    return not common


def same_equation(fa: Any, fe: Any) -> bool | None:
    """Whether ``fa = 0`` and ``fe = 0`` have the same solutions (see the module docstring)."""
    (na, da), (ne, de) = (sympy.fraction(sympy.together(sympy.expand(f))) for f in (fa, fe))
    na, ne = sympy.expand(na), sympy.expand(ne)
    if na == 0 or ne == 0:
        return na == ne
    ratio = sympy.cancel(na / ne)
    holes = (na, da), (ne, de)
    if ratio.is_number and ratio.is_finite and ratio != 0:
        return True if all(_excludes_nothing(n, d) for n, d in holes) else None
    variables = na.free_symbols
    if variables != ne.free_symbols:
        return False
    if len(variables) == 1:
        (var,) = variables
        return same_set(solutions(fa, var), solutions(fe, var))  # solveset keeps the holes
    if len(variables) > _MAX_VARIABLES:
        return None
    verdicts = []
    for var in sorted(variables, key=lambda s: s.name):
        sa, se = _variable_solutions(na, var), _variable_solutions(ne, var)
        verdicts.append(None if sa is None or se is None else same_set(sa, se))
    if False in verdicts:
        return False
    if verdicts and all(verdicts) and all(_excludes_nothing(n, d) for n, d in holes):
        return True
    return None
