"""LaTeX to sympy: the parse table, symbol spellings, chains and caps."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy
import yaml

from evalkit.latex import (
    LatexSyntaxError,
    SymbolSpec,
    SymbolTable,
    canonical_name,
    parse_math,
    parse_symbol_list,
)
from evalkit.latex.lexer import MAX_INPUT_CHARS
from evalkit.latex.nodes import Dot, Norm, show

CASES = yaml.safe_load((Path(__file__).parent / "parse_cases.yaml").read_text(encoding="utf-8"))


def _table(symbols: str | None) -> SymbolTable:
    return SymbolTable(parse_symbol_list([symbols] if symbols else []))


@pytest.mark.parametrize("case", [pytest.param(c, id=c["latex"]) for c in CASES])
def test_parse_table(case):
    try:
        last = parse_math(case["latex"], _table(case.get("symbols"))).last
    except LatexSyntaxError as err:  # the text did not even tokenize
        assert "error" in case, str(err)
        assert case["error"] in str(err)
        return
    if "error" in case:
        assert not last.ok
        assert case["error"] in last.error
    else:
        assert last.ok, last.error
        assert str(last.value) == case["value"]


def test_d_is_a_symbol_never_a_differential_or_unit():
    table = _table("d")
    for text in ("d", "2d", "d\\sigma", "\\mathrm{d} x", "bd"):
        value = parse_math(text, table).last.value
        assert sympy.Symbol("d", positive=True) in value.free_symbols, text


def test_declared_kinds_set_assumptions():
    table = SymbolTable(
        [SymbolSpec("d", "dimension"), SymbolSpec("i", "integer"), SymbolSpec("mu", "scalar", "\\mu")]
    )
    assert table.symbol("d").is_positive
    assert table.symbol("i").is_integer and table.symbol("i").is_positive
    assert table.symbol("mu").is_real and table.symbol("mu").is_positive is None
    assert parse_math("\\sqrt{d^2}", table).last.value == table.symbol("d")
    positive = SymbolTable(default_positive=True)
    assert parse_math("x", positive).last.value.is_positive
    assert positive.undeclared == {"x"}


@pytest.mark.parametrize(
    ("spelling", "name"),
    [
        ("\\mu", "mu"),
        ("d_{model}", "d_model"),
        ("d_{\\text{model}}", "d_model"),
        ("D'", "D'"),
        ("\\varphi", "phi"),
    ],
)
def test_canonical_names(spelling, name):
    assert canonical_name(spelling) == name


def test_latex_spelling_aliases_a_declared_name():
    table = SymbolTable([SymbolSpec("dm", "dimension", "d_{\\text{model}}")])
    assert parse_math("d_{model}/2", table).last.value == table.symbol("dm") / 2


def test_symbol_list_syntax():
    specs = parse_symbol_list(["b n, d", "mu:scalar q:vector"])
    assert [(s.name, s.kind) for s in specs] == [
        ("b", "dimension"),
        ("n", "dimension"),
        ("d", "dimension"),
        ("mu", "scalar"),
        ("q", "vector"),
    ]
    with pytest.raises(ValueError, match="kind"):
        parse_symbol_list(["x:tensor"])


def test_chain_keeps_every_side_and_records_bad_ones():
    parsed = parse_math("\\mathbb{E}[q^\\top k] = \\sum_i \\mu_i^2 = d\\mu^2", SymbolTable())
    assert parsed.relations == ("=", "=")
    assert [s.ok for s in parsed.sides] == [True, False, True]
    assert parsed.sides[1].source == "\\sum_i \\mu_i^2"
    relations = parse_math("a \\neq b \\le c \\geq d \\approx e \\ll f", SymbolTable()).relations
    assert relations == ("!=", "<=", ">=", "≈", "<<")


def test_dot_is_symmetric_and_prints_as_written():
    q, k = sympy.symbols("q k", real=True)
    assert Dot(q, k) == Dot(k, q)
    assert show(2 * Dot(q, k)) == "2 q^T k"
    assert show((Dot(q, k) + 1) ** 2) == "(q^T k + 1)^2"
    assert show(Norm(q) ** 2) == "||q||^2"


def test_caps_on_length_and_nesting():
    with pytest.raises(LatexSyntaxError, match="limit"):
        parse_math("d+" * MAX_INPUT_CHARS, SymbolTable())
    deep = "(" * 60 + "d" + ")" * 60
    assert "nests deeper" in parse_math(deep, SymbolTable()).last.error
    with pytest.raises(LatexSyntaxError, match="no math"):
        parse_math("  $$ $$ ", SymbolTable())
