"""Asymptotic classes: term extraction, domination (single and convex), the exact LP, regimes."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy

from evalkit.errors import SpecError
from evalkit.latex import SymbolTable, parse_math
from evalkit.latex.assumptions import parse_assumptions
from evalkit.latex.growth import GrowthError, Term, _feasible, dominated, growth_terms, terms_expr

N, D, M = sympy.symbols("N D M", positive=True)


def _growth(text: str) -> sympy.Expr:
    value = parse_math(text, SymbolTable(default_positive=True)).last.value
    return terms_expr(growth_terms(value))


@pytest.mark.parametrize(
    ("text", "dominant"),
    [
        ("3N^2 + 5N + 7", "N**2"),
        ("N^2 D + N D + N^2", "D*N**2"),
        ("N^2 + N D + D^2", "D**2 + N**2"),  # N D <= (N^2 + D^2)/2
        ("(N + D)^2", "D**2 + N**2"),
        ("\\sqrt{N + D}", "sqrt(D) + sqrt(N)"),
        ("N^2 - N", "N**2"),
        ("N \\log N + N", "N*log(N)"),
        ("\\log(N^2 D)", "log(D) + log(N)"),
        ("\\max(N, D) M", "D*M + M*N"),
        ("\\frac{bnd}{h} + bd", "b*d + b*d*n/h"),
        ("7", "1"),
    ],
)
def test_dominant_terms(text, dominant):
    assert str(_growth(text)) == dominant


@pytest.mark.parametrize("text", ["2^N", "N - D", "\\frac{N}{N + D}", "-N", "\\exp(N)"])
def test_unreadable_growth_is_an_error_not_a_guess(text):
    with pytest.raises(GrowthError):
        _growth(text)


def _term(**powers: int) -> Term:
    return Term(tuple(sorted((v, Fraction(p)) for v, p in powers.items())))


def test_convex_domination_needs_a_combination():
    nd = _term(N=1, D=1)
    assert dominated(nd, [_term(N=2), _term(D=2)])
    assert not dominated(nd, [_term(N=2)])
    assert not dominated(_term(N=1, D=2), [_term(N=2), _term(D=2)])
    assert dominated(_term(N=1, D=1, M=1), [_term(N=3), _term(D=3), _term(M=3)])


def test_feasibility_lp_is_exact():
    one = Fraction(1)
    assert _feasible([[one, one], [one, -one]], [one, Fraction(0)])  # x = y = 1/2
    assert not _feasible([[one, one], [one, one]], [one, Fraction(2)])
    assert _feasible([[one, Fraction(0)], [Fraction(0), one]], [Fraction(-1) * 0, Fraction(3)])


def test_regimes_and_substitutions():
    table = SymbolTable(default_positive=True)
    assumptions = parse_assumptions(["k = d/h", "M = Theta(D)", "D << N", "h = O(1)"], table)
    assert [s.name for s, _ in assumptions.substitutions] == ["k"]
    n, m, h = (table.symbol(x) for x in "N M h".split())
    applied = assumptions.apply_regimes(n * m + h)
    assert str(applied) == "(N/D)*D**2 + 1"


@pytest.mark.parametrize(
    "text",
    ["d > h", "N + M = Theta(D + N)", "d^5 + d = h^5 + h", "x = \\frac{", "a = b = c"],
)
def test_malformed_assumptions_are_spec_errors(text):
    with pytest.raises(SpecError, match="assumption"):
        parse_assumptions([text], SymbolTable())


def test_substitutions_compose_in_order():
    table = SymbolTable()
    assumptions = parse_assumptions(["k = d/h", "h v = d"], table)
    k, v = table.symbol("k"), table.symbol("v")
    assert assumptions.substitute(k) == v
