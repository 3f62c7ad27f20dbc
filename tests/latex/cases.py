"""The math checks' case table (tests/checks/formula_cases.yaml) and how to run its rows.

Shared by the tests of each math kind and by bench/formula.py; the rows are data,
this module only turns them into calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit.checks.base import Answer, CheckContext, CheckResult, get_checker
from evalkit.checks.quick import check_expression
from evalkit.extract import split_parts
from evalkit.spec.models import CheckSpec, Part, Problem

CASES_PATH = Path(__file__).resolve().parent.parent / "checks" / "formula_cases.yaml"
DATA: dict[str, Any] = yaml.safe_load(CASES_PATH.read_text(encoding="utf-8"))
PAIRS: list[dict[str, Any]] = DATA["pairs"]
WRITEUP: dict[str, Any] = DATA["writeup"]


def pair_params(kind: str) -> list[Any]:
    """The table's rows of one kind, as pytest params named by their ids."""
    return [pytest.param(case, id=case["id"]) for case in PAIRS if case["kind"] == kind]


def writeup_params(kind: str) -> list[Any]:
    """The write-up checks of one kind, named reply:part:kind."""
    return [
        pytest.param(
            entry, id=f"{entry['reply']}:{entry['part']}:{entry.get('check', {}).get('anchor') or kind}"
        )
        for entry in WRITEUP["checks"]
        if entry["check"]["kind"] == kind
    ]


def run_pair(case: dict[str, Any]) -> CheckResult:
    """Grade one table row through the public quick-check API (the CLI's path)."""
    return check_expression(
        case["kind"],
        case["answer"],
        case["expected"],
        assumptions=case.get("assumptions", ()),
        symbols=[case["symbols"]] if case.get("symbols") else (),
        accept=case.get("accept", ()),
        time_limit_s=float(case.get("time_limit", 10)),
        options=case.get("options"),
    )


def assert_pair(case: dict[str, Any], result: CheckResult) -> None:
    """The verdict is the label, and the explanation says what the row expects it to say."""
    assert result.status == case["label"], (
        f"{case['id']}: {result.status} ({result.reason}): {result.explanation}"
    )
    if case["label"] != "correct":
        assert result.explanation
    if case.get("explain"):
        assert case["explain"].lower() in result.explanation.lower(), result.explanation
    if result.status == "unscored":
        assert result.reason


def run_writeup(entry: dict[str, Any]) -> CheckResult:
    """Split a write-up reply into parts and grade one part with one rubric check."""
    reply = WRITEUP["replies"][entry["reply"]]
    spec = WRITEUP["problems"][entry["reply"].split("_")[0]]
    labels = entry.get("labels")
    text = split_parts(reply, labels)[entry["part"]] if labels else reply
    part = Part(id=entry["part"], prompt="from the write-up")
    problem = Problem(
        id=entry["reply"].split("_")[0],
        title="HW9 write-up",
        symbols=spec.get("symbols") or {},
        assumptions=spec.get("assumptions") or [],
        parts=[part],
    )
    check = CheckSpec.model_validate(entry["check"])
    return get_checker(check.kind).check(check.params, Answer(text, reply), CheckContext(problem, part))
