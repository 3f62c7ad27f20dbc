"""The criteria check: claims met and missed, required claims, thresholds, and the judge hook."""

from __future__ import annotations

import asyncio
import json

import pytest

from evalkit.checks.base import Answer, CheckContext, get_checker
from evalkit.checks.criteria import CriteriaParams, judge_prompt, use_judge
from evalkit.errors import ModelError
from evalkit.models.base import ModelRequest, ModelResponse
from evalkit.spec.models import CheckSpec, Part, Problem

PROBLEM = Problem(
    id="argmax",
    title="Argmax attention",
    parts=[
        Part(id="b", prompt="How does argmax affect training?", expected="no gradient to queries or keys")
    ],
)
CTX = CheckContext(problem=PROBLEM, part=PROBLEM.parts[0])

PARAMS = CriteriaParams.model_validate(
    {
        "pass_threshold": 0.6,
        "criteria": [
            {
                "claim": "argmax has zero or undefined gradient",
                "patterns": [r"not differentiable", r"gradient[^.]*\bzero"],
                "points": 2,
                "required": True,
            },
            {
                "claim": "queries and keys get no gradient",
                "patterns": [r"(no|zero)[^.]*gradient[^.]*(quer|keys?)", r"cannot learn which keys"],
                "points": 2,
                "required": True,
            },
            {
                "claim": "the selected value still gets a gradient",
                "patterns": [r"gradients?[^.]*flow[^.]*value"],
            },
            {"claim": "softmax is a smooth relaxation", "patterns": [r"softmax[^.]*(smooth|differentiable)"]},
        ],
    }
)


def check(text: str, params: CriteriaParams = PARAMS):
    return get_checker("criteria").check(params, Answer(text=text), CTX)


def test_registered_and_params_validated_in_rubrics() -> None:
    spec = CheckSpec.model_validate({"kind": "criteria", "criteria": [{"claim": "x", "patterns": ["x"]}]})
    assert spec.params.pass_threshold == 1.0
    with pytest.raises(ValueError, match="invalid regular expression"):
        CheckSpec.model_validate({"kind": "criteria", "criteria": [{"claim": "x", "patterns": ["("]}]})
    with pytest.raises(ValueError):
        CheckSpec.model_validate({"kind": "criteria", "criteria": []})


def test_all_claims_met() -> None:
    result = check(
        "Argmax is **not differentiable**. There is no gradient signal to the queries or keys, although "
        "gradients flow to the selected value. Softmax is a smooth relaxation."
    )
    assert result.status == "correct" and result.score == 1.0
    assert "4/4 claims" in result.explanation
    assert result.details["missed"] == []


def test_partial_answer_passes_threshold_with_partial_score() -> None:
    result = check("Argmax is not differentiable, so there is no\ngradient for the queries or keys.")
    assert result.status == "correct"
    assert result.score == pytest.approx(4 / 6)
    assert "✗ the selected value still gets a gradient" in result.explanation


def test_missing_required_claim_is_incorrect_with_partial_score() -> None:
    result = check("Argmax is not differentiable. Softmax is smooth. Gradients flow to the value vectors.")
    assert result.status == "incorrect"
    assert result.score == pytest.approx(4 / 6)
    assert "missing required: queries and keys get no gradient" in result.explanation
    assert result.details["met"] == [
        "argmax has zero or undefined gradient",
        "the selected value still gets a gradient",
        "softmax is a smooth relaxation",
    ]


def test_below_threshold_is_incorrect() -> None:
    params = CriteriaParams.model_validate(
        {
            "pass_threshold": 0.75,
            "criteria": [{"claim": "a", "patterns": ["alpha"]}, {"claim": "b", "patterns": ["beta"]}],
        }
    )
    result = check("alpha only", params)
    assert result.status == "incorrect" and result.score == 0.5
    assert "below the pass threshold" in result.explanation


def test_empty_answer_is_unscored() -> None:
    assert check("  ").status == "unscored"


# --- the judge -----------------------------------------------------------------------------------------


class FakeJudge:
    """A judge model: answers every request with a fixed reply (or raises), recording the requests."""

    provider = "fake"

    def __init__(self, reply: str | Exception, name: str = "fake:judge") -> None:
        self.reply = reply
        self.name = name
        self.requests: list[ModelRequest] = []

    async def generate(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        await asyncio.sleep(0)
        if isinstance(self.reply, Exception):
            raise self.reply
        return ModelResponse(self.reply, model=self.name)

    async def aclose(self) -> None:
        return None


def verdict(*met: bool) -> str:
    return json.dumps({"claims": [{"index": i, "met": m, "quote": ""} for i, m in enumerate(met, 1)]})


def test_judge_decides_instead_of_keywords() -> None:
    judge = FakeJudge("Here you go:\n```json\n" + verdict(True, True, False, False) + "\n```")
    with use_judge(judge):
        result = check("The answer says nothing the patterns know, in its own words.")
    assert result.status == "correct"
    assert result.details["graded_by"] == "judge fake:judge"
    assert result.score == pytest.approx(4 / 6)
    request = judge.requests[0]
    assert "Rubric claims:" in request.messages[0].content
    assert "queries and keys get no gradient (2 points, required)" in request.messages[0].content
    assert "JSON" in (request.system or "")


def test_judge_can_fail_an_answer_keywords_would_pass() -> None:
    with use_judge(FakeJudge(verdict(True, False, True, True))):
        result = check("Argmax is not differentiable; no gradient reaches queries or keys.")
    assert result.status == "incorrect"
    assert "missing required: queries and keys get no gradient" in result.explanation


@pytest.mark.parametrize(
    "reply",
    [
        "I think the answer is correct.",
        '{"claims": [{"index": 1, "met": true}]}',  # claims 2-4 missing
        '{"claims": "all good"}',
        '{"claims": [{"index": 1, "met": "maybe"}, {"index": 2, "met": true}]}',
        "{not json at all}",
    ],
)
def test_unparseable_judge_output_is_unscored_never_correct(reply: str) -> None:
    with use_judge(FakeJudge(reply)):
        result = check("Argmax is not differentiable; no gradient reaches queries or keys.")
    assert result.status == "unscored"
    assert result.reason == "judge_parse_error"


def test_judge_error_is_unscored() -> None:
    with use_judge(FakeJudge(ModelError("overloaded"))):
        result = check("anything")
    assert result.status == "unscored" and result.reason == "judge_error"


def test_judge_timeout_is_unscored() -> None:
    class SlowJudge(FakeJudge):
        async def generate(self, request: ModelRequest) -> ModelResponse:
            await asyncio.sleep(5)
            return ModelResponse(verdict(True, True, True, True))

    with use_judge(SlowJudge(""), timeout_s=0.05):
        result = check("anything")
    assert result.status == "unscored" and result.reason == "judge_timeout"


def test_no_judge_outside_the_block() -> None:
    with use_judge(FakeJudge(verdict(False, False, False, False))):
        pass
    assert check("Argmax is not differentiable; no gradient reaches queries or keys.").status == "correct"


def test_judge_prompt_includes_the_expected_answer() -> None:
    prompt = judge_prompt(PARAMS, "my answer", CTX)
    assert "Expected answer (for reference): no gradient to queries or keys" in prompt
    assert "<answer>\nmy answer\n</answer>" in prompt
