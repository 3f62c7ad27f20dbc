"""Which of several statements of a code answer counts: retractions, options and picks, 'or' hedges."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evalkit.checks import get_checker
from evalkit.checks.base import Answer, CheckContext
from evalkit.checks.code import CodeParams
from evalkit.checks.code_answers import (
    _blank_readings,
    _blank_values,
    _einsum_reading,
    _picked,
    _reading_order,
    _shape_answers,
)
from evalkit.extract import HEADING_MARKER
from evalkit.sandbox import SandboxPool
from evalkit.spec.models import Problem

PROBLEM = Problem(
    id="hw9_q4",
    title="MQA",
    symbols={name: "dimension" for name in ("b", "d", "h", "k", "v", "n", "q")},
    parts=[{"id": "d", "prompt": "D, the einsum computing k."}],
)
Q4D = CodeParams.model_validate(
    {"mode": "einsum", "operands": {"x": ["b", "d"], "W_k": ["d", "k"]}, "expected": "bd,dk->bk"}
)
OPTIONS = '- **Option A:** `torch.einsum("bd,dk->bk", x, W_k)`\n- **Option B:** `torch.einsum("bd,hdk->bhk", x, W_k)`\n'


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    with SandboxPool.start(workers=1) as started:
        yield started


def _grade(answer: Answer, pool: SandboxPool) -> str:
    ctx = CheckContext(problem=PROBLEM, part=PROBLEM.parts[0], sandbox=pool, time_limit_s=5.0)
    return get_checker("code").check(Q4D, answer, ctx).status


@pytest.mark.parametrize(
    "later, verdict",
    [
        ("Go with A.", "correct"),
        ("Use option B.", "incorrect"),
        ("Both are fine, really.", "incorrect"),  # no pick: the hedge stands
    ],
)
def test_a_later_reply_may_pick_one_of_the_options(later: str, verdict: str, pool: SandboxPool) -> None:
    assert _grade(Answer(later, later, (OPTIONS,)), pool) == verdict


def test_the_last_einsum_after_a_retraction_is_the_answer() -> None:
    text = "`torch.einsum('bd,hdk->bhk', x, W_k)`\n\nWait — let me redo that. So D is\n\n`torch.einsum('bd,dk->bk', x, W_k)`"
    assert _einsum_reading(text, ["x", "W_k"]) == [("bd,dk->bk", ["x", "W_k"])]


def test_a_wrong_form_quoted_after_the_answer_is_no_retraction() -> None:
    text = "`torch.einsum('bd,dk->bk', x, W_k)`. Let me double-check: `torch.einsum('bd,hdk->bhk', x, W_k)` would need a per-head W_k."
    assert _einsum_reading(text, ["x", "W_k"]) == [("bd,dk->bk", ["x", "W_k"])]


def test_options_with_no_pick_are_all_offered() -> None:
    assert [eq for eq, _ in _einsum_reading(OPTIONS + "\nBoth are reasonable.", ["x", "W_k"])] == [
        "bd,dk->bk",
        "bd,hdk->bhk",
    ]


def test_the_heading_line_answer_is_read_first_where_it_was_written() -> None:
    text = f"`X`\n\nWait, `Y`\n\n{HEADING_MARKER} `X`"
    assert _reading_order(text) == "`X`\n\nWait, `Y`"
    assert _reading_order(f"more\n\n{HEADING_MARKER} A = `1`") == "A = `1`\n\nmore"


@pytest.mark.parametrize(
    "line, values",
    [
        ("A = `-1`, B = `x / rms`", {"A": ["-1"], "B": ["x / rms"]}),
        ("A: `-1`; B: `x / rms`", {"A": ["-1"], "B": ["x / rms"]}),
        ("A = `x.mean(dim=-1, keepdim=True)`", {"A": ["x.mean(dim=-1, keepdim=True)"]}),  # commas in code
        ("(B) `x / rms` or `x * rms`", {"B": ["x / rms", "x * rms"]}),
        ("(B) `x / rms`, not `x * rms`", {"B": ["x / rms"]}),
        ("(B) `x * rms` — scratch that, `x / rms`", {"B": ["x / rms"]}),
    ],
)
def test_blank_values_on_one_line(line: str, values: dict[str, list[str]]) -> None:
    assert _blank_readings(line, ["A", "B"]) == values


def test_a_blank_stated_as_options_needs_a_pick() -> None:
    text = "- **Option A:** (g) = `self.num_heads`\n- **Option B:** (g) = `self.d_k`\n"
    assert _blank_readings(text, ["g"]) == {"g": ["self.num_heads", "self.d_k"]}
    assert _blank_values(text + "\nGo with B.", ["g"]) == {"g": "self.d_k"}


@pytest.mark.parametrize(
    "text, pick",
    [
        ("Recommendation: A.", "A"),
        ("**Go with B: `[d, k]`.**", "B"),
        ("Option B is the right one.", "B"),
        ("I wouldn't go with B; use A.", "A"),
        ("Use a per-head layout.", None),  # the article 'a' is no label
        ("Go with A or B, either works.", None),
    ],
)
def test_picks(text: str, pick: str | None) -> None:
    assert _picked([text], {"A", "B"}) == pick


@pytest.mark.parametrize(
    "text, shapes",
    [
        ("so `W_q` still has a head axis: `[h, d, q]`.", [["h", "d", "q"]]),
        ("`W_k` is `[h, d, k]` or `[d, k]`.", [["h", "d", "k"], ["d", "k"]]),
        ("`W_k` is `[h, d, k]`. Correction: `W_k` is `[d, k]`.", [["d", "k"]]),
        ("```\nW_k: [d, k]\n```", [["d", "k"]]),
        (
            "- **Option A:** `[h, d, k]`\n- **Option B:** `[d, k]`\n\nBoth work.",
            [["h", "d", "k"], ["d", "k"]],
        ),
    ],
)
def test_shape_readings(text: str, shapes: list[list[str]]) -> None:
    assert _shape_answers(text, "B", ["W_k"]) == shapes
