"""Equality of values: the random points respect declared kinds, and proofs decide."""

from __future__ import annotations

import sympy

from evalkit.latex import SymbolSpec, SymbolTable, parse_math
from evalkit.latex.equivalence import _points, compare_values


def test_sample_points_are_values_the_declared_kinds_allow():
    d, n, x = (
        sympy.Symbol("d", positive=True),
        sympy.Symbol("n", positive=True, integer=True),
        sympy.Symbol("x", real=True),
    )
    signs = set()
    for seed in range(300):
        for point in _points([d + n + x], seed):
            assert point[d] >= 1  # a dimension (or any positive quantity) is at least 1
            assert point[n].is_Integer and point[n] >= 1
            signs.add(point[x] > 0)
    assert signs == {True, False}  # a plain real takes both signs


def test_witness_of_a_difference_names_allowed_values():
    table = SymbolTable([SymbolSpec("eps", "scalar", "\\epsilon", True), SymbolSpec("d", "dimension")])
    for k in range(2, 30):
        a = parse_math(f"\\frac{{\\epsilon}}{{d + {k}}}", table).last.value
        e = parse_math("\\frac{\\epsilon}{d + 1}", table).last.value
        comparison = compare_values(a, e)
        assert comparison.equal is False
        values = {name: float(v) for name, v in comparison.witness}
        assert values["eps"] > 0 and values["d"] >= 1


def test_agreement_without_proof_is_undecided_and_a_proof_is_equal():
    x = sympy.Symbol("x", real=True)
    assert compare_values(sympy.sin(x) ** 2 + sympy.cos(x) ** 2, sympy.Integer(1)).equal is True
    assert compare_values(x + 1, x + 2).equal is False
