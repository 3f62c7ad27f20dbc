"""Grade one attempt at one part: run the rubric's checks and combine their verdicts.

Shared by live runs, re-grading of stored runs, transcript grading and rubric
self-tests, so all four reach the same verdicts for the same text.

Combining: a part is ``correct`` when every required check is correct;
``incorrect`` when any required check is incorrect; otherwise ``unscored``.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

from evalkit.checks.base import Answer, CheckContext, CheckResult, Status, get_checker
from evalkit.errors import SpecError
from evalkit.extract import split_parts
from evalkit.spec.models import Part, PartRubric, Problem
from evalkit.spec.suite import LoadedProblem

__all__ = ["CheckOutcome", "PartGrade", "grade_part", "needs_help", "sections_for"]


@dataclass(frozen=True)
class CheckOutcome:
    index: int
    kind: str
    required: bool
    points: float
    result: CheckResult

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "required": self.required,
            "points": self.points,
            **self.result.to_json(),
        }


@dataclass(frozen=True)
class PartGrade:
    status: Status
    score: float  # points earned
    max_points: float
    checks: tuple[CheckOutcome, ...]

    @property
    def explanation(self) -> str:
        return "; ".join(f"{c.kind}: {c.result.explanation}" for c in self.checks)

    @property
    def reason(self) -> str | None:
        for c in self.checks:
            if c.required and c.result.status == self.status and c.result.reason:
                return c.result.reason
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "score": self.score,
            "max_points": self.max_points,
            "checks": [c.to_json() for c in self.checks],
        }


def _run_check(checker: Any, params: Any, answer: Answer, ctx: CheckContext) -> CheckResult:
    try:
        result = checker.check(params, answer, ctx)
    except SpecError:
        raise
    except Exception as err:  # a checker bug must not kill the run, nor pass the answer
        tb = traceback.extract_tb(err.__traceback__)[-1]
        return CheckResult.unscored(
            "checker_error",
            f"the checker failed: {type(err).__name__}: {err} ({tb.filename}:{tb.lineno})",
        )
    if not isinstance(result, CheckResult):
        return CheckResult.unscored("checker_error", f"the checker returned {type(result).__name__}")
    return result


def _combine(outcomes: list[CheckOutcome]) -> Status:
    required = [o for o in outcomes if o.required] or outcomes
    statuses = {o.result.status for o in required}
    if "incorrect" in statuses:
        return "incorrect"
    if statuses == {"correct"}:
        return "correct"
    return "unscored"


def grade_part(
    problem: Problem,
    part: Part,
    rubric: PartRubric,
    answer: Answer,
    *,
    sandbox: Any = None,
    time_limit_s: float = 10.0,
) -> PartGrade:
    """Run every check of ``rubric`` on ``answer`` and combine the results."""
    ctx = CheckContext(problem=problem, part=part, sandbox=sandbox, time_limit_s=time_limit_s)
    max_points = rubric.points if rubric.points is not None else part.points
    outcomes: list[CheckOutcome] = []
    declared = [c.points for c in rubric.checks]
    undeclared = sum(1 for p in declared if p is None)
    rest = max(0.0, max_points - sum(p for p in declared if p is not None))
    for i, spec in enumerate(rubric.checks):
        checker = get_checker(spec.kind)
        if answer.text.strip():
            result = _run_check(checker, spec.params, answer, ctx)
        else:
            result = CheckResult.unscored("no_answer", f"the reply has no answer for part {part.heading}")
        points = spec.points if spec.points is not None else (rest / undeclared if undeclared else 0.0)
        outcomes.append(CheckOutcome(i, spec.kind, spec.required, points, result))
    status = _combine(outcomes)
    if rubric.partial_credit:
        total = sum(o.points for o in outcomes) or 1.0
        score = max_points * sum(o.points * o.result.score for o in outcomes) / total
    else:
        score = max_points if status == "correct" else 0.0
    return PartGrade(status, round(score, 6), max_points, tuple(outcomes))


def needs_help(grade: PartGrade) -> bool:
    """Whether a hint should be sent: wrong, or not answered at all (not a grader failure)."""
    return grade.status == "incorrect" or (grade.status == "unscored" and grade.reason == "no_answer")


def sections_for(reply: str, lp: LoadedProblem, part_ids: list[str]) -> dict[str, str]:
    """The section of ``reply`` answering each of ``part_ids``.

    With no per-part headings at all, every part is given the whole reply (a
    reply to a one-part question, or a hint reply about the hinted parts).
    A part missing from a reply that does have headings gets ``""``.
    """
    labels = {pid: (lp.problem.part(pid).label or pid).strip("()").replace(")(", ".") for pid in part_ids}
    found = split_parts(reply, list(labels.values()))
    if not found:
        return {pid: reply for pid in part_ids}
    return {pid: found.get(label, "") for pid, label in labels.items()}
