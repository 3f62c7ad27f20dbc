"""The ``code`` check: the write-up's Q3/Q4 answers, wrong variants, parsing, parameters and the CLI helper."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from evalkit.checks import get_checker
from evalkit.checks.base import Answer, CheckContext
from evalkit.checks.code import CodeParams, grade_code_answer
from evalkit.checks.code_answers import _blank_values, _einsum_answer, _shape_answer
from evalkit.errors import SpecError
from evalkit.sandbox import SandboxPool
from evalkit.spec.models import CheckSpec, Problem

CASES_DIR = Path(__file__).with_name("code_cases")
TABLE = yaml.safe_load((CASES_DIR / "cases.yaml").read_text())
PROBLEM = Problem(
    id="hw9_q3",
    title="Multi-head attention",
    symbols={name: "dimension" for name in ("b", "d", "h", "k", "v", "n")},
    givens=[
        {
            "name": "mha_code",
            "kind": "code",
            "content": (CASES_DIR / "../../../evalkit/reference/skeletons.py").name,
        }
    ],
    parts=[{"id": "a", "prompt": "Fill in the blanks."}, {"id": "b", "prompt": "Make W_v output 2 d_model."}],
)


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    with SandboxPool.start(workers=2) as started:
        yield started


def _ctx(pool: SandboxPool | None) -> CheckContext:
    return CheckContext(problem=PROBLEM, part=PROBLEM.parts[0], sandbox=pool, time_limit_s=5.0)


@pytest.mark.parametrize("case", TABLE["cases"], ids=[c["name"] for c in TABLE["cases"]])
def test_case_table(case: dict, pool: SandboxPool) -> None:
    params = CodeParams.model_validate(TABLE["checks"][case["check"]])
    text = case.get("answer") or (CASES_DIR / case["answer_file"]).read_text()
    history = tuple((CASES_DIR / f).read_text() for f in case.get("history_files", []))
    result = get_checker("code").check(params, Answer(text, text, history), _ctx(pool))
    assert result.status == case["verdict"], result.explanation
    if "explains" in case:
        assert re.search(case["explains"], result.explanation), result.explanation
    if "reason" in case:
        assert result.reason == case["reason"]
    assert result.explanation.strip()


def test_patch_details_say_what_was_applied_and_skipped(pool: SandboxPool) -> None:
    params = CodeParams.model_validate(TABLE["checks"]["q3b"])
    first = (CASES_DIR / "q3b_first_reply.md").read_text()
    result = get_checker("code").check(params, Answer(first), _ctx(pool))
    notes = result.details["patch"]
    assert any("applied" in n and "W_o" in n for n in notes)
    assert any(n.startswith("skipped") and "illustration" in n for n in notes)
    assert "class MultiHeadAttention" in result.details["source"]


def test_writeup_blanks_are_read_from_prose_and_the_summary_table() -> None:
    text = (CASES_DIR / "q3a_blanks.md").read_text()
    assert _blank_values(text, list("abcdefgh")) == {
        "a": "d_model",
        "b": "d_model",
        "c": "d_model",
        "d": "Q",
        "e": "softmax",
        "f": "V",
        "g": "self.num_heads",
        "h": "W_o",
    }


@pytest.mark.parametrize(
    "line, value",
    [
        ("(h) = `self.W_o` ✓", "self.W_o"),
        ("**Blank (h):**  $W_o$", "W_o"),
        ("(h) = \\(W_{o}\\)", "W_o"),
        ("| (h) | <code>W_o</code> |", "W_o"),
        ("(h)\t$W_o$", "W_o"),
        ("- **Blank (h): Given as self.W\\_o**", "self.W_o"),
        ("(h) is W_o.", "W_o"),
    ],
)
def test_blank_answers_are_read_in_the_usual_formats(line: str, value: str) -> None:
    assert _blank_values(f"Some prose.\n{line}\nMore prose (h) here.", ["h"]) == {"h": value}


def test_the_last_statement_of_a_blank_wins() -> None:
    assert _blank_values("(e) = `sigmoid`\n\nOn second thought:\n(e) = `softmax`", ["e"]) == {"e": "softmax"}


def test_einsum_answer_prefers_code_blocks_over_rejected_alternatives() -> None:
    text = (CASES_DIR / "q4c_einsum.md").read_text()
    assert '"bd,dq->bhq"' in text  # the justification quotes a wrong option after the answer
    assert _einsum_answer(text, ["x", "W_q"]) == ("bd,hdq->bhq", ["x", "W_q"])


_FUNCTION = (
    '```python\nq = torch.einsum("bd,hdq->bhq", x, W_q)\n{k_line}\nv = torch.einsum("bd,dv->bv", x, W_v)\n```'
)


@pytest.mark.parametrize(
    "k_line, check, verdict",
    [
        ('k = torch.einsum("bd,dk->bk", x, W_k)', "q4c", "correct"),
        ('k = torch.einsum("bd,dk->bk", x, W_k)', "q4e", "correct"),
        ('k = torch.einsum("bd,dk->bk", x, W_k)', "q4d", "correct"),
        ('k = torch.einsum("bd,dk->kb", x, W_k)', "q4d", "incorrect"),
        # two different einsums on x, W_k: the reply does not say which fills the blank
        ('k = torch.einsum("bd,dk->bk", x, W_k)\nk = torch.einsum("bd,dk->kb", x, W_k)', "q4d", "unscored"),
    ],
)
def test_a_section_that_points_at_the_code_is_answered_by_the_call_on_its_operands(
    pool: SandboxPool, k_line: str, check: str, verdict: str
) -> None:
    reply = f"Here is the function:\n\n{_FUNCTION.format(k_line=k_line)}\n\n- **C, D, E**: the three einsum lines above."
    params = CodeParams.model_validate(TABLE["checks"][check])
    answer = Answer("- **C, D, E**: the three einsum lines above.", reply=reply)
    result = get_checker("code").check(params, answer, _ctx(pool))
    assert result.status == verdict, result.explanation


def test_shape_answer_skips_shapes_mentioned_in_passing() -> None:
    text = (CASES_DIR / "q4b_shape.md").read_text()
    assert "$[b, n, k]$" in text
    assert _shape_answer(text, "B") == ["d", "k"]


def test_unscored_when_the_sandbox_cannot_run() -> None:
    closed = SandboxPool.start(workers=1)
    closed.close()
    params = CodeParams.model_validate(TABLE["checks"]["q4d"])
    result = get_checker("code").check(params, Answer('`torch.einsum("bd,dk->bk", x, W_k)`'), _ctx(closed))
    assert result.status == "unscored" and result.reason == "sandbox_error" and "closed" in result.explanation


def test_without_a_pool_the_shared_default_pool_is_used() -> None:
    params = CodeParams.model_validate(TABLE["checks"]["q4e"])
    result = get_checker("code").check(
        params, Answer('```\ntorch.einsum("bd,dv->bv", x, W_v)\n```'), _ctx(None)
    )
    assert result.status == "correct", result.explanation


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            {"mode": "blanks", "reference": "mha", "cases": []},
            "exactly one of 'skeleton' or 'skeleton_given'",
        ),
        ({"mode": "patch", "skeleton": "mha", "reference": "mha"}, "at least one entry in 'cases'"),
        ({"mode": "program", "reference": "attention", "cases": [{"inputs": {"Q": [1]}}]}, "expected one of"),
        (
            {"mode": "program", "reference": "sdpa", "cases": [{"init": {"d": 1}, "inputs": {"Q": [1]}}]},
            "take no 'init'",
        ),
        (
            {"mode": "einsum", "operands": {"x": ["b", "d"]}, "expected": "bd,dk->bk"},
            "the equation has 2 operands, but only 1 are given",
        ),
        ({"mode": "shape", "expected": "h, d, k"}, "list of dimensions"),
        ({"mode": "shape", "expected": ["h"], "tolerance": 1}, "Extra inputs"),
        (
            {"mode": "program", "reference": "sdpa", "grad_of": ["X"], "cases": [{"inputs": {"Q": [1]}}]},
            "grad_of",
        ),
    ],
)
def test_broken_params_are_spec_errors(raw: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message) if "(" not in message else message):
        CodeParams.model_validate(raw)


def test_rubric_check_specs_validate_code_params() -> None:
    spec = CheckSpec.model_validate({"kind": "code", **TABLE["checks"]["q4a"], "points": 1})
    assert isinstance(spec.params, CodeParams) and spec.params.mode == "shape"
    with pytest.raises(ValidationError, match="mode"):
        CheckSpec.model_validate({"kind": "code", "mode": "diff"})


def test_skeleton_can_come_from_a_problem_given(pool: SandboxPool) -> None:
    from evalkit.reference.skeletons import MHA_SKELETON

    problem = PROBLEM.model_copy(
        update={"givens": [PROBLEM.givens[0].model_copy(update={"content": MHA_SKELETON})]}
    )
    params = CodeParams.model_validate(
        {**TABLE["checks"]["q3a"], "skeleton": None, "skeleton_given": "mha_code"}
    )
    text = (CASES_DIR / "q3a_blanks.md").read_text()
    ctx = CheckContext(problem=problem, part=problem.parts[0], sandbox=pool)
    assert get_checker("code").check(params, Answer(text), ctx).status == "correct"
    missing = params.model_copy(update={"skeleton_given": "nope"})
    with pytest.raises(SpecError, match="no code given named 'nope'"):
        get_checker("code").check(missing, Answer(text), ctx)


def test_grade_code_answer_grades_one_part_of_a_whole_reply(pool: SandboxPool) -> None:
    checks = [CheckSpec.model_validate({"kind": "code", **TABLE["checks"]["q3b"]})]
    first = "### Part (a)\n(a) = `d_model`\n\n### Part (b)\n" + (CASES_DIR / "q3b_first_reply.md").read_text()
    second = (CASES_DIR / "q3b_after_hint.md").read_text()
    wrong = grade_code_answer(PROBLEM, "b", checks, first, sandbox=pool)
    assert wrong.status == "incorrect" and "split_heads" in wrong.explanation
    fixed = grade_code_answer(PROBLEM, "b", checks, second, history=[first], sandbox=pool)
    assert fixed.to_json()["status"] == "correct", fixed.explanation


def test_grade_code_answer_combines_several_checks(pool: SandboxPool) -> None:
    checks = [CheckSpec.model_validate({"kind": "code", **TABLE["checks"][n]}) for n in ("q4c", "q4d")]
    text = '```python\nq = torch.einsum("bd,hdk->bhk", x, W_q)\nk = torch.einsum("bd,dk->bhk", x, W_k)\n```'
    result = grade_code_answer(PROBLEM, "a", checks, text, sandbox=pool)
    assert result.status == "incorrect" and result.explanation.startswith("check 1: matches")
    assert [c["status"] for c in result.details["checks"]] == ["correct", "incorrect"]


def test_grade_code_answer_rejects_parts_without_code_checks() -> None:
    with pytest.raises(SpecError, match="no part 'z'"):
        grade_code_answer(PROBLEM, "z", [], "x")
    with pytest.raises(SpecError, match="no code checks"):
        grade_code_answer(PROBLEM, "a", [], "x")


@pytest.mark.parametrize(
    "reply, status",
    [
        ('E = `torch.einsum("bd,dv->bv", x, W_v)`', "correct"),
        ('E = `torch.einsum("bd,dv->bv", x, W_k)`', "incorrect"),  # the key weights for the value
        ('E = `torch.einsum("bd,dv->bv", inp, weight)`', "unscored"),  # names the reply alone uses
    ],
)
def test_an_einsum_on_another_tensor_of_the_problem_is_wrong(
    pool: SandboxPool, reply: str, status: str
) -> None:
    params = CodeParams.model_validate(TABLE["checks"]["q4e"])
    result = get_checker("code").check(params, Answer(reply), _ctx(pool))
    assert result.status == status, result.explanation
