"""Asymptotic growth classes of expressions in positive dimensions.

An expression such as ``b*d**2 + b*n*d + 3*d`` is read as a set of terms
(monomials ``prod v^p * prod log(v)^l``; constants and signs dropped) and
reduced to the terms no others dominate. All variables range over
``[1, inf)`` independently, so:

* ``x^b`` is dominated by one term ``x^a`` when, variable by variable,
  ``(a_v, la_v) >= (b_v, lb_v)`` (powers first, then log powers);
* ``x^b`` is dominated by several terms when ``b`` is below a convex
  combination of their exponents (``N*D <= (N^2 + D^2)/2``), decided by an
  exact linear program (terms with logs use the first rule only, which can
  only miss a domination, never invent one).

Two classes are equal when every dominant term of each is dominated by the
other. ``(sum)^p`` with ``p > 0`` grows like ``sum of term^p``, ``log`` of a
posynomial like the sum of the logs of its variables, ``max`` like a sum.
Anything else (``2^N``, ``1/(N + D)``, a negative term that no positive term
outgrows) raises :class:`GrowthError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import sympy

__all__ = ["GrowthError", "Term", "dominant_terms", "dominated", "growth_terms", "terms_expr"]


class GrowthError(ValueError):
    """The expression's growth cannot be read as a sum of monomials."""


@dataclass(frozen=True, order=True)
class Term:
    """``prod v^powers[v] * prod log(v)^logs[v]``, stored as sorted tuples."""

    powers: tuple[tuple[str, Fraction], ...] = ()
    logs: tuple[tuple[str, Fraction], ...] = ()

    def power(self, var: str) -> Fraction:
        return dict(self.powers).get(var, Fraction(0))

    def log(self, var: str) -> Fraction:
        return dict(self.logs).get(var, Fraction(0))

    def variables(self) -> set[str]:
        return {v for v, _ in self.powers} | {v for v, _ in self.logs}

    def times(self, other: Term) -> Term:
        return Term(_merge(self.powers, other.powers), _merge(self.logs, other.logs))

    def raised(self, p: Fraction) -> Term:
        return Term(_scale(self.powers, p), _scale(self.logs, p))

    def expr(self) -> sympy.Expr:
        out: sympy.Expr = sympy.Integer(1)
        for var, p in self.powers:
            out *= sympy.Symbol(var, positive=True) ** sympy.Rational(p.numerator, p.denominator)
        for var, p in self.logs:
            out *= sympy.log(sympy.Symbol(var, positive=True)) ** sympy.Rational(p.numerator, p.denominator)
        return out


def _merge(a: tuple[tuple[str, Fraction], ...], b: tuple[tuple[str, Fraction], ...]) -> tuple:
    out = dict(a)
    for var, p in b:
        out[var] = out.get(var, Fraction(0)) + p
    return tuple(sorted((v, p) for v, p in out.items() if p != 0))


def _scale(a: tuple[tuple[str, Fraction], ...], p: Fraction) -> tuple:
    return tuple(sorted((v, q * p) for v, q in a if q * p != 0))


ONE = Term()


def _fraction(value: sympy.Basic) -> Fraction:
    if not value.is_Rational:
        raise GrowthError(f"exponent {value} is not a rational number")
    return Fraction(int(value.p), int(value.q))


def growth_terms(expr: sympy.Basic) -> list[Term]:
    """The dominant terms of ``expr`` (see the module docstring); raises :class:`GrowthError`."""
    return dominant_terms(_terms(expr, allow_expand=True))


def _terms(expr: sympy.Basic, allow_expand: bool) -> list[Term]:
    if expr.is_Number:
        if expr.is_zero:
            return []
        if expr.is_positive:
            return [ONE]
        raise GrowthError(f"a complexity cannot be negative ({expr})")
    if expr.is_Symbol:
        if not expr.is_positive:
            raise GrowthError(f"{expr} is not a positive quantity")
        return [Term(((expr.name, Fraction(1)),))]
    if isinstance(expr, sympy.Add):
        return _sum_terms(expr, allow_expand)
    if isinstance(expr, sympy.Mul):
        coeff, rest = expr.as_coeff_Mul()
        if coeff.is_negative:
            raise GrowthError(f"a complexity cannot be negative ({expr})")
        result = [ONE]
        for factor in sympy.Mul.make_args(rest):
            result = dominant_terms([a.times(b) for a in result for b in _terms(factor, allow_expand)])
        return result
    if isinstance(expr, sympy.Pow):
        base, exp = expr.args
        if not exp.is_Rational:
            raise GrowthError(f"cannot compare the growth of {expr} (only powers with constant exponents)")
        p = _fraction(exp)
        inner = dominant_terms(_terms(base, allow_expand))
        if p < 0 and len(inner) != 1:
            raise GrowthError(f"cannot compare the growth of {expr} (1 over a sum)")
        return [t.raised(p) for t in inner]
    if isinstance(expr, sympy.log):
        inner = dominant_terms(_terms(expr.args[0], allow_expand))
        if any(p < 0 for t in inner for _, p in t.powers) or any(t.logs for t in inner):
            raise GrowthError(f"cannot compare the growth of {expr}")
        variables = sorted({v for t in inner for v, _ in t.powers})
        return [Term((), ((v, Fraction(1)),)) for v in variables] or [ONE]
    if isinstance(expr, sympy.Max):
        return dominant_terms([t for arg in expr.args for t in _terms(arg, allow_expand)])
    raise GrowthError(f"cannot compare the growth of {expr}")


def _sum_terms(expr: sympy.Add, allow_expand: bool) -> list[Term]:
    positive: list[Term] = []
    negative: list[Term] = []
    for arg in expr.args:
        coeff, _ = arg.as_coeff_Mul()
        if coeff.is_negative:
            negative.extend(_terms(-arg, allow_expand))
        else:
            positive.extend(_terms(arg, allow_expand))
    if negative:
        if allow_expand:
            expanded = sympy.expand(expr)
            if expanded != expr:
                return _terms(expanded, allow_expand=False)
        for term in negative:
            if not any(_strictly_above(p, term) for p in positive):
                raise GrowthError(f"cannot bound the negative term {terms_expr([term])} in {expr}")
    return positive


def _above(a: Term, b: Term) -> bool:
    """``b <= C a`` on [1, inf)^n: per variable, (power, log power) of a is at least b's."""
    for var in a.variables() | b.variables():
        if (a.power(var), a.log(var)) < (b.power(var), b.log(var)):
            return False
    return True


def _strictly_above(a: Term, b: Term) -> bool:
    return a != b and _above(a, b)


def dominated(term: Term, others: list[Term]) -> bool:
    """Whether ``term`` grows no faster than the sum of ``others``."""
    if any(_above(o, term) for o in others):
        return True
    if term.logs or any(o.logs for o in others) or len(others) < 2:
        return False
    variables = sorted(set().union(term.variables(), *(o.variables() for o in others)))
    # lambda_i >= 0, sum lambda_i = 1, sum lambda_i a_i - s = b, s >= 0
    k, n = len(others), len(variables)
    rows = [[Fraction(1)] * k + [Fraction(0)] * n]
    rhs = [Fraction(1)]
    for j, var in enumerate(variables):
        row = [o.power(var) for o in others] + [Fraction(-1) if i == j else Fraction(0) for i in range(n)]
        rows.append(row)
        rhs.append(term.power(var))
    return _feasible(rows, rhs)


def dominant_terms(terms: list[Term]) -> list[Term]:
    """``terms`` without duplicates and without terms the rest dominate."""
    kept = sorted(set(terms))
    k = 0
    while k < len(kept):
        rest = kept[:k] + kept[k + 1 :]
        if rest and dominated(kept[k], rest):
            kept = rest
        else:
            k += 1
    return kept


def terms_expr(terms: list[Term]) -> sympy.Expr:
    """The sum of ``terms`` as a sympy expression (for messages)."""
    return sympy.Add(*[t.expr() for t in terms]) if terms else sympy.Integer(0)


def _feasible(rows: list[list[Fraction]], rhs: list[Fraction]) -> bool:
    """Is there ``x >= 0`` with ``rows @ x == rhs``? Phase one of the simplex method, exact, Bland's rule."""
    m, n = len(rows), len(rows[0])
    table = []
    for i, (coefficients, b) in enumerate(zip(rows, rhs, strict=True)):
        sign = -1 if b < 0 else 1
        table.append(
            [sign * v for v in coefficients] + [Fraction(int(i == r)) for r in range(m)] + [sign * b]
        )
    basis = [n + i for i in range(m)]
    width = n + m
    # Reduced costs of the phase-one objective (sum of artificials), expressed in the non-basic columns.
    cost = [
        -sum((table[i][j] for i in range(m)), Fraction(0)) if j < n else Fraction(0) for j in range(width)
    ]
    value = -sum((table[i][-1] for i in range(m)), Fraction(0))
    for _ in range(1000):
        entering = next((j for j in range(width) if cost[j] < 0), None)
        if entering is None:
            break
        candidates = [
            (table[i][-1] / table[i][entering], basis[i], i) for i in range(m) if table[i][entering] > 0
        ]
        if not candidates:
            break
        _, _, row = min(candidates)
        pivot = table[row][entering]
        table[row] = [v / pivot for v in table[row]]
        for i in range(m):
            if i != row and table[i][entering] != 0:
                factor = table[i][entering]
                table[i] = [a - factor * b for a, b in zip(table[i], table[row], strict=True)]
        factor = cost[entering]
        cost = [a - factor * b for a, b in zip(cost, table[row][:-1], strict=True)]
        value -= factor * table[row][-1]
        basis[row] = entering
    return value == 0
