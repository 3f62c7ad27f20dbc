"""Reading whole answers (several answers, words, ratios), their shapes, and the set mathematics."""

from __future__ import annotations

import pytest
import sympy

from evalkit.latex import SymbolTable, parse_symbol_list
from evalkit.latex.answers import read_answer
from evalkit.latex.nodes import Ratio
from evalkit.latex.sets import constraint_set, same_equation, same_set
from evalkit.latex.shapes import shape_of

TABLE = SymbolTable()


def _values(text: str) -> list[object]:
    return [chain.last.value for chain in read_answer(text, TABLE).chains]


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("6 \\text{ and } 8", [6, 8]),
        ("x = 1 \\text{ or } x = 2", [1, 2]),
        ("k = 45, n = 2", [45, 2]),
        ("x = 1, 2", [1, 2]),
        ("a; b", [sympy.Symbol("a", real=True), sympy.Symbol("b", real=True)]),
    ],
)
def test_several_answers(text, values):
    reading = read_answer(text, TABLE)
    assert reading.several
    assert _values(text) == values


def test_a_comma_list_without_relations_is_one_answer():
    reading = read_answer("1, 2, 3", TABLE)
    assert not reading.several
    assert list(reading.chains[0].last.value) == [1, 2, 3]
    assert reading.chains[0].last.brackets == ""


@pytest.mark.parametrize(
    ("text", "word", "words"),
    [
        ("\\text{odd}", "odd", False),
        ("\\text{Odd.}", "odd", False),
        ("odd", "odd", True),
        ("undefined", "undefined", False),
        ("NaN", "undefined", False),
        ("\\text{DNE}", "does not exist", False),
        ("\\text{does not exist}", "does not exist", False),
    ],
)
def test_word_answers(text, word, words):
    assert read_answer(text, TABLE, words=words).word == word


def test_plain_letters_are_math_unless_a_word_is_expected():
    assert read_answer("odd", TABLE).word is None
    assert read_answer("\\text{infinity}", TABLE).chains[0].last.value == sympy.oo
    assert read_answer("\\text{no solution}", TABLE).chains[0].last.value == sympy.EmptySet


def test_ratios_decimal_commas_and_groups():
    assert _values("3:4") == [Ratio(3, 4)]
    assert _values("1 : 2 : 3") == [Ratio(1, 2, 3)]
    assert _values("1,22") == [sympy.Rational(122, 100)]
    assert _values("1,220") == [1220]
    assert list(_values("[1,22]")[0]) == [1, 22]  # inside brackets a comma separates entries


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("d\\mu^2", "value"),
        ("\\mathbb{E}[q^\\top k] = d\\mu^2", "named"),
        ("s = \\sqrt{d}", "assignment"),
        ("(x, y) = (1, 2)", "assignment"),
        ("a + 3z = 0", "equation"),
        ("x = x^2", "equation"),
        ("-793 < a < 10", "constraint"),
        ("a \\in (0, 1)", "constraint"),
        ("x \\neq 3", "constraint"),
        ("D \\ll N", "relation"),
        ("k = 45, n = 2", "several"),
        ("\\text{odd}", "word"),
    ],
)
def test_shapes(text, kind):
    assert shape_of(read_answer(text, TABLE)).kind == kind


def _sym(name: str, **assumptions: bool) -> sympy.Symbol:
    return sympy.Symbol(name, **assumptions)


def test_constraints_become_sets_with_direction_and_strictness():
    x, eta, L = _sym("x", real=True), _sym("eta", real=True), _sym("L", positive=True)
    assert constraint_set([-793, x, 10], ["<", "<"], x) == sympy.Interval.open(-793, 10)
    assert constraint_set([-2 * x, -2], ["<"], x) == sympy.Interval.open(1, sympy.oo)
    assert constraint_set([x, 3], ["!="], x) == sympy.Reals - sympy.FiniteSet(3)
    assert constraint_set([x**2, 4], ["<="], x) == sympy.Interval(-2, 2)
    # a symbolic bound, decided from the declared sign of L
    assert constraint_set([0, eta * L, 2], ["<", "<"], eta) == sympy.Interval.open(0, 2 / L)


def test_equations_compare_as_solution_sets():
    x, y, z, a = (_sym(n, real=True) for n in "xyza")
    assert same_equation(2 * x + 4 * y - 3, y - (-x / 2 + sympy.Rational(3, 4))) is True
    assert same_equation(a + 3 * z, a - 3 * z) is False
    assert same_equation(x * y - 1, y - 1 / x) is True
    assert same_equation(x * y, x) is False  # xy = 0 also allows y = 0
    assert same_equation(x**2 - 4, x - 2) is False


def test_set_comparison():
    half_open = sympy.Interval.Ropen(0, 1)
    assert same_set(half_open, sympy.Interval.Ropen(0, 1)) is True
    assert same_set(half_open, sympy.Interval.Lopen(0, 1)) is False
    assert same_set(sympy.FiniteSet(1, 2), sympy.FiniteSet(2, 1)) is True
    assert same_set(sympy.FiniteSet(sympy.sqrt(4)), sympy.FiniteSet(2)) is True
    assert same_set(sympy.Interval.open(-sympy.oo, 5), sympy.Interval.open(5, sympy.oo)) is False


def test_declared_symbols_shape_the_reading():
    table = SymbolTable(parse_symbol_list(["e:scalar"]))
    assert read_answer("e^{1}", table).chains[0].last.value == table.symbol("e")
