"""The formula check: the case table's formula rows, the write-up's formulas, and the check's contract."""

from __future__ import annotations

from collections import Counter

import pytest

from evalkit.checks.base import Answer, CheckContext, get_checker
from evalkit.checks.formula import FormulaParams
from evalkit.checks.quick import check_expression
from evalkit.errors import SpecError
from evalkit.spec.models import CheckSpec, Part, Problem
from tests.latex.cases import PAIRS, assert_pair, pair_params, run_pair, run_writeup, writeup_params


@pytest.mark.parametrize("case", pair_params("formula"))
def test_formula_pairs(case):
    assert_pair(case, run_pair(case))


@pytest.mark.parametrize("entry", writeup_params("formula"))
def test_writeup_formulas_graded_as_the_student_graded_them(entry):
    result = run_writeup(entry)
    assert result.status == entry["verdict"], result.explanation
    assert result.details["found_in"] in ("boxed", "display math")


def test_case_table_is_large_and_covers_every_category():
    assert len(PAIRS) >= 80
    assert len({c["id"] for c in PAIRS}) == len(PAIRS)
    labels = Counter(c["label"] for c in PAIRS)
    assert labels["correct"] >= 30 and labels["incorrect"] >= 30 and labels["unscored"] >= 5
    categories = {c["category"] for c in PAIRS}
    for needed in (
        "trailing-d",
        "differential",
        "transpose",
        "norm",
        "big-o",
        "bmatrix",
        "assumption",
        "regime",
        "condition",
        "chain",
        "timeout",
    ):
        assert needed in categories
    assumed = [c for c in PAIRS if c["category"] == "assumption"]
    assert {c["label"] for c in assumed} == {"correct", "incorrect"}


PROBLEM = Problem(
    id="q1",
    title="Scaled dot-product attention",
    symbols={"d": "dimension", "mu": {"kind": "scalar", "latex": "\\mu"}},
    parts=[Part(id="a", prompt="Find E[q^T k].", expected="d\\mu^2")],
)
CTX = CheckContext(PROBLEM, PROBLEM.parts[0])
FORMULA = get_checker("formula")


def test_details_say_where_the_answer_was_found():
    reply = (
        "Summing:\n\n$$q^\\top k = \\sum_i q_i k_i$$\n\nso\n\n$$\\boxed{\\mathbb{E}[q^\\top k] = d\\mu^2}$$\n"
    )
    result = FORMULA.check(FormulaParams(), Answer(reply), CTX)
    assert result.status == "correct"
    assert result.details["found_in"] == "boxed"
    assert result.details["line"] == 7
    assert result.details["answer"] == "\\mathbb{E}[q^\\top k] = d\\mu^2"


def test_expected_falls_back_to_the_part():
    assert FORMULA.check(FormulaParams(), Answer("$d\\mu^2$"), CTX).status == "correct"
    no_expected = CheckContext(PROBLEM, Part(id="b", prompt="?"))
    assert FORMULA.check(FormulaParams(), Answer("$d$"), no_expected).reason == "no_expected"


def test_blank_or_prose_answer_is_unscored_not_incorrect():
    assert FORMULA.check(FormulaParams(), Answer(""), CTX).reason == "no_answer"
    prose = FORMULA.check(FormulaParams(), Answer("It is the dimension times the mean squared."), CTX)
    assert prose.status == "unscored" and prose.reason == "no_answer"


def test_expected_that_does_not_parse_is_a_spec_error():
    with pytest.raises(SpecError, match="does not parse"):
        FORMULA.check(FormulaParams(expected="\\frac{d}{"), Answer("$d$"), CTX)


def test_malformed_assumption_is_a_spec_error_naming_it():
    with pytest.raises(SpecError, match="d > h"):
        check_expression("formula", "d", "d", assumptions=["d > h"])


def test_rubric_yaml_params_are_validated():
    spec = CheckSpec.model_validate(
        {"kind": "formula", "expected": "d", "accept": ["2d/2"], "tolerance": 1e-3}
    )
    assert spec.params.accept == ["2d/2"]
    with pytest.raises(ValueError, match="tolerence"):
        CheckSpec.model_validate({"kind": "formula", "expected": "d", "tolerence": 1e-3})
    with pytest.raises(ValueError, match="regular expression"):
        CheckSpec.model_validate({"kind": "formula", "anchor": "("})


def test_quick_check_json_shape_and_unknown_kind():
    result = check_expression(
        "formula", "bnk", "\\frac{bnd}{h}", assumptions=["k = d/h"], symbols=["b n d h k"]
    )
    payload = result.to_json()
    assert payload["status"] == "correct" and "k = d/h" in payload["explanation"]
    with pytest.raises(SpecError, match="formula, complexity, vector, condition"):
        check_expression("numeric-ish", "1", "1")


def test_decimal_answer_uses_the_tolerance():
    assert (
        check_expression("formula", "1.4142 d", "\\sqrt{2} d", options={"tolerance": 1e-3}).status
        == "correct"
    )
    assert (
        check_expression("formula", "1.4142 d", "\\sqrt{2} d", options={"tolerance": 1e-9}).status
        == "incorrect"
    )
