"""The formula check: the case table's formula rows, the write-up's formulas, and the check's contract."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from evalkit.checks.base import Answer, CheckContext, get_checker
from evalkit.checks.formula import FormulaParams, MathRequest, grade_formula, grade_request
from evalkit.checks.quick import check_expression
from evalkit.errors import SpecError
from evalkit.spec.loading import load_model
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


# -- givens, non-finite answers, counterexamples, sibling boxes (issues 12, 14, 15) ---------------

HW9_Q1 = load_model(Problem, Path(__file__).resolve().parents[2] / "problems" / "hw9_q1.yaml")


def _hw9(part: str, reply: str):
    return FORMULA.check(FormulaParams(), Answer(reply), CheckContext(HW9_Q1, HW9_Q1.part(part)))


@pytest.mark.parametrize(
    ("part", "reply"),
    [
        ("b", "$$\\boxed{d\\sigma^4}$$"),
        ("b", "$$\\text{Var}(q^\\top k) = d \\sigma^2$$"),
        ("b", "$$\\mathrm{Var}(q^\\top k) = d(\\sigma^4 + 2\\sigma^2\\mu^2)$$"),
        ("c", "$$\\boxed{s = \\sqrt{d}\\sigma^2}$$"),
    ],
)
def test_givens_declared_by_the_part_are_substituted(part, reply):
    assert HW9_Q1.part(part).values == {"mu": 0, "sigma": 1}
    result = _hw9(part, reply)
    assert result.status == "correct", result.explanation
    assert "mu = 0, sigma = 1" in result.explanation


def test_givens_apply_only_to_their_part():
    assert HW9_Q1.part("a").values == {}
    assert _hw9("a", "$$\\boxed{d\\mu^2 + d\\sigma^2 - d\\sigma^2}$$").status == "correct"
    assert _hw9("a", "$$\\boxed{d\\sigma^2}$$").status == "incorrect"  # sigma = 1 is not given in (a)
    assert _hw9("b", "$$\\boxed{d\\mu^2}$$").status == "incorrect"  # mu = 0 makes it 0, not d


def test_values_must_name_symbols_the_check_can_read():
    part = Part(id="b", prompt="?", expected="d", values={"sigma": "\\frac{"})
    problem = Problem(id="p", title="t", parts=[part])
    with pytest.raises(SpecError, match="sigma"):
        FORMULA.check(FormulaParams(), Answer("$d$"), CheckContext(problem, part))


@pytest.mark.parametrize("reply", ["$$\\boxed{\\infty}$$", "$\\text{undefined}$", "NaN", "$\\frac{1}{0}$"])
def test_non_finite_answer_is_incorrect_not_undecided(reply):
    result = _hw9("c", reply)
    assert result.status == "incorrect", result.explanation
    assert "finite" in result.explanation


def _witness(explanation: str) -> dict[str, float]:
    found = re.search(r"they differ at (.*?):", explanation, re.IGNORECASE)
    assert found, explanation
    return {k: float(v) for k, v in (pair.split(" = ") for pair in found.group(1).split(", "))}


def test_counterexamples_use_only_values_the_declared_kinds_allow():
    problem = Problem(
        id="p",
        title="t",
        symbols={
            "epsilon": {"kind": "scalar", "latex": "\\epsilon", "positive": True},
            "n": "integer",
            "d": "dimension",
        },
        parts=[Part(id="a", prompt="?", expected="\\frac{\\epsilon n}{d + 1}")],
    )
    ctx = CheckContext(problem, problem.parts[0])
    # the rubric re-declares epsilon's kind: its sign, declared by the problem, still holds
    params = FormulaParams(symbols={"epsilon": "scalar"})
    for k in range(2, 14):  # a dozen wrong answers, each compared at its own random points
        result = FORMULA.check(params, Answer(f"$\\frac{{\\epsilon n}}{{d + {k}}}$"), ctx)
        assert result.status == "incorrect", result.explanation
        witness = _witness(result.explanation)
        assert witness["epsilon"] > 0, result.explanation
        assert witness["n"] == int(witness["n"]) and witness["n"] >= 1
        assert witness["d"] >= 1


def _request(answers: tuple[str, ...], expected: str) -> MathRequest:
    return MathRequest("formula", answers, (expected,), (), (), FormulaParams())


def test_sibling_boxes_are_one_set_when_a_set_is_expected():
    # the interface: extraction hands sibling boxes over as several answers
    assert grade_request(grade_formula, _request(("6", "8"), "\\{6, 8\\}"), 10).status == "correct"
    assert grade_request(grade_formula, _request(("8", "6"), "6, 8"), 10).status == "correct"
    assert grade_request(grade_formula, _request(("6", "9"), "\\{6, 8\\}"), 10).status == "incorrect"
    assert grade_request(grade_formula, _request(("6",), "\\{6, 8\\}"), 10).status == "incorrect"
    hedge = grade_request(grade_formula, _request(("6", "8"), "6"), 10)
    assert hedge.status == "incorrect" and "answer 2 of 2" in hedge.explanation
    # and through the checker, with sibling boxes in one display
    reply = "$$\\boxed{6} \\text{ and } \\boxed{8}$$"
    assert FORMULA.check(FormulaParams(expected="\\{6, 8\\}"), Answer(reply), CTX).status == "correct"


def test_percent_and_unit_policies_are_validated_parameters():
    assert CheckSpec.model_validate({"kind": "formula", "expected": "28\\%", "percent": "points"}).params
    with pytest.raises(ValueError, match="percent"):
        CheckSpec.model_validate({"kind": "formula", "expected": "28\\%", "percent": "sometimes"})
    with pytest.raises(ValueError, match="units"):
        CheckSpec.model_validate({"kind": "formula", "expected": "5 \\text{ m}", "units": "strict"})


def test_expected_relation_that_does_not_parse_is_a_spec_error():
    with pytest.raises(SpecError, match="does not parse"):
        check_expression("formula", "x > 1", "x > \\frac{1}{")
