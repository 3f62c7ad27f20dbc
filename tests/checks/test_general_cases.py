"""The general case table (tests/checks/general_cases.yaml): formula answers beyond HW9's notation.

Each row's label is the truth. evalkit must give it, except on rows marked
``evalkit: unscored``, where it must say ``unscored`` with the reason in ``why``
(an honest "cannot decide", never a guess). A false "correct" fails here first.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit.checks.quick import check_expression

TABLE = Path(__file__).resolve().parent / "general_cases.yaml"
PAIRS: list[dict[str, Any]] = yaml.safe_load(TABLE.read_text(encoding="utf-8"))["pairs"]


def _grade(case: dict[str, Any]):
    return check_expression(
        case.get("kind", "formula"),
        case["answer"],
        case["expected"],
        symbols=[case["symbols"]] if case.get("symbols") else (),
        accept=case.get("accept", ()),
        options=case.get("options"),
    )


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in PAIRS])
def test_general_pair(case):
    result = _grade(case)
    if result.status == "correct":
        assert case["label"] == "correct", f"FALSE CORRECT {case['id']}: {result.explanation}"
    want = case.get("evalkit", case["label"])
    assert result.status == want, f"{case['id']}: {result.status} ({result.reason}): {result.explanation}"
    assert result.explanation
    if want == "unscored":
        assert result.reason
        assert case["why"].lower() in result.explanation.lower(), result.explanation
    if case.get("explain"):
        assert case["explain"].lower() in result.explanation.lower(), result.explanation


def test_table_is_large_balanced_and_covers_every_category():
    assert len(PAIRS) >= 250
    assert len({c["id"] for c in PAIRS}) == len(PAIRS)
    labels = Counter(c["label"] for c in PAIRS)
    assert set(labels) == {"correct", "incorrect"}
    assert 0.28 <= labels["incorrect"] / len(PAIRS) <= 0.4
    categories = Counter(c["category"] for c in PAIRS)
    for needed in (
        "relation",
        "equation",
        "interval",
        "set",
        "tuple",
        "several",
        "plus-minus",
        "number-format",
        "percent",
        "approx",
        "ratio",
        "units-text",
        "operator",
        "constant",
        "plain-text",
        "non-finite",
    ):
        assert categories[needed] >= 15, needed


def test_at_least_98_percent_right_and_every_miss_is_an_honest_unscored():
    missed = [c for c in PAIRS if c.get("evalkit", c["label"]) != c["label"]]
    assert all(c["evalkit"] == "unscored" and c["why"] for c in missed)
    assert len(missed) <= 0.02 * len(PAIRS)
