"""Grade one attempt at one part: run the rubric's checks and combine their verdicts.

Shared by live runs, re-grading of stored runs, transcript grading and rubric
self-tests, so all four reach the same verdicts for the same text.

Combining: a part is ``correct`` when every required check is correct;
``incorrect`` when any required check is incorrect; otherwise ``unscored``.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from evalkit.checks.base import Answer, CheckContext, CheckResult, Status, get_checker
from evalkit.errors import SpecError
from evalkit.extract import (
    HEADING_MARKER,
    SUMMARY_MARKER,
    asked_quantities,
    concedes,
    final_answers,
    read_reply,
)
from evalkit.extract.spans import plain_markup
from evalkit.spec.models import Part, PartRubric, Problem
from evalkit.spec.suite import LoadedProblem

__all__ = [
    "CheckOutcome",
    "PartGrade",
    "PartReading",
    "grade_part",
    "needs_help",
    "part_labels",
    "read_parts",
    "sections_for",
]


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


_FINAL_KINDS = {"formula", "complexity", "vector", "condition", "numeric", "exact", "normalized", "choice"}


def _reads_a_final(spec: Any) -> bool:
    """Whether a check grades one stated final answer (so a restatement of it is a second final)."""
    mode = getattr(spec.params, "mode", None)
    return spec.kind in _FINAL_KINDS or (spec.kind == "code" and mode in ("shape", "einsum"))


def _shown(result: CheckResult) -> str:
    details = result.details
    return str(details.get("answer") or details.get("shape") or details.get("equation") or "?")


def _two_finals(checker: Any, params: Any, answer: Answer, ctx: CheckContext) -> CheckResult:
    """Grade the section's final answer and the summary's restatement; two different verdicts are a conflict.

    A restatement that cannot be read (``sim > 0``, "as above") changes nothing; one that can
    be read and disagrees makes the part incorrect, whichever of the two is right.
    """
    section = _run_check(checker, params, replace(answer, restated=""), ctx) if answer.text.strip() else None
    restated = _run_check(checker, params, replace(answer, text=answer.restated, restated=""), ctx)
    if section is None or section.status == "unscored":
        if restated.status == "unscored" and section is not None:
            return section
        return replace(restated, explanation="read from the reply's summary: " + restated.explanation)
    if restated.status == "unscored" or restated.status == section.status:
        return section
    wrong = section if section.status == "incorrect" else restated
    where = "under the part" if wrong is section else "in the reply's summary"
    return CheckResult.incorrect(
        f"two different final answers: {_shown(section)} under the part and {_shown(restated)} in the summary; "
        f"the one {where} is wrong ({wrong.explanation})",
        **{**dict(wrong.details), "conflict": [_shown(section), _shown(restated)]},
    )


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
        if not answer.text.strip() and not answer.restated.strip():
            result = CheckResult.unscored("no_answer", f"the reply has no answer for part {part.heading}")
        elif answer.restated.strip() and _reads_a_final(spec):
            result = _two_finals(checker, spec.params, answer, ctx)
        elif answer.restated.strip():
            whole = replace(answer, text=f"{answer.text}\n\n{SUMMARY_MARKER}\n{answer.restated}", restated="")
            result = _run_check(checker, spec.params, whole, ctx)
        else:
            result = _run_check(checker, spec.params, answer, ctx)
        points = spec.points if spec.points is not None else (rest / undeclared if undeclared else 0.0)
        outcomes.append(CheckOutcome(i, spec.kind, spec.required, points, result))
    status = _combine(outcomes)
    if rubric.partial_credit:
        total = sum(o.points for o in outcomes) or 1.0
        score = max_points * sum(o.points * o.result.score for o in outcomes) / total
    else:
        score = max_points if status == "correct" else 0.0
    return PartGrade(status, round(score, 6), max_points, tuple(outcomes))


# reasons an answer could not be graded that another turn can fix: the model should be asked again
_RELATION_SIGN = re.compile(r"\\(?:neq|ne|geq|ge|leq|le|gt|lt|subset|subseteq|in)(?![a-zA-Z])|[<>≤≥≠∈⊂⊆]")
_ASK_AGAIN = {"no_answer", "answer_parse_error", "undecided", "truncated"}


def needs_help(grade: PartGrade) -> bool:
    """Whether the part should be asked again: wrong, unanswered or unreadable (not a grader failure)."""
    return grade.status == "incorrect" or (grade.status == "unscored" and grade.reason in _ASK_AGAIN)


@dataclass(frozen=True)
class PartReading:
    """What one reply says about one part: the text its checks read, and how it was found.

    ``source`` is ``section`` (a heading for the part), ``summary`` (only a
    summary row), ``whole reply`` (a reply without part headings, given to the
    parts the turn was about), ``named`` (an unheaded reply whose equation names
    the part's quantity) or ``none`` (the reply does not address the part).
    ``shared`` marks a text that several parts read, so only an answer naming
    the part's own quantity counts. ``restated`` is the reply's summary
    restatement of the part, graded beside the section.
    """

    text: str
    source: str
    shared: bool = False
    restated: str = ""  # the reply's summary restatement, graded beside ``text``
    end: int = -1  # where the part's section ends in the reply (sections only)

    @property
    def addressed(self) -> bool:
        return self.source != "none"

    @property
    def full(self) -> str:
        """The section with its restatement, as the report shows it."""
        return f"{self.text}\n\n{SUMMARY_MARKER}\n{self.restated}" if self.restated else self.text


def part_labels(lp: LoadedProblem) -> dict[str, str]:
    """Part id → the label replies use for it (``b.ii`` for ``(b)(ii)``)."""
    return {p.id: (p.label or p.id).strip("()").replace(")(", ".") for p in lp.problem.parts}


_SKELETON_BLANK = re.compile(r"_{2,}\s*\(\s*([A-Za-z0-9]+)\s*\)\s*_{2,}|_{3,}([A-Za-z0-9]+?)_{3,}")


def _blank_labels(lp: LoadedProblem) -> frozenset[str]:
    """Names of code blanks that read like part labels ('(A):' for part (b)'s blank A, '(a) = ...' for a
    blank (a) of part (a)): written that way in a reply, they name blanks, not parts."""
    parts = {label for label in part_labels(lp).values()}
    names: set[str] = set()
    for part in lp.problem.parts:
        for check in lp.part_rubric(part.id).checks:
            params = check.params
            if getattr(params, "mode", None) != "blanks":
                continue
            source = None
            given = getattr(params, "skeleton_given", None)
            if given:
                source = next((g.content for g in lp.problem.givens if g.name == given), None)
            else:
                read = getattr(params, "skeleton_source", None)
                source = read() if callable(read) else None
            for m in _SKELETON_BLANK.finditer(source or ""):
                name = m.group(1) or m.group(2)
                if name.lower() in {label.lower() for label in parts}:
                    names.add(name)
    return frozenset(names)


def question_number(lp: LoadedProblem) -> int | None:
    """The question number a problem id carries (``q6`` → 6, ``hw10_q2`` → 2), if any."""
    m = re.search(r"(\d+)\D*$", lp.id)
    return int(m.group(1)) if m else None


def read_parts(reply: str, lp: LoadedProblem, whole: Sequence[str] = ()) -> dict[str, PartReading]:
    """What ``reply`` says about every part of ``lp``.

    The reply is cut by the headings of *all* parts, so a section never runs
    on into the next part's answer. A part with a heading gets its section,
    followed by its summary restatement when the reply ends with one (so two
    different final answers are both graded); a part with only a summary row
    gets that row. In a reply without part headings, the parts in ``whole``
    (those the turn asked about) get the whole reply, shared when there are
    several; other math parts are addressed only by an equation that names
    their quantity (``s = d``).
    """
    labels = part_labels(lp)
    reply = plain_markup(reply)  # a reply in HTML, read as Markdown
    # numbered lists are the parts only in a reply to all of them, not in one to a hint about one part
    numbered = set(labels) <= set(whole)
    prompts = {labels[p.id]: p.prompt for p in lp.problem.parts}
    layout = read_reply(
        reply,
        list(labels.values()),
        prompts=prompts,
        question=question_number(lp),
        numbered=numbered,
        blanks=_blank_labels(lp),
    )
    out: dict[str, PartReading] = {}
    for pid, label in labels.items():
        section = layout.bodies.get(label)
        end = layout.ends.get(label, -1)
        if section and label in layout.answer_lines:
            section = f"{section}\n\n{HEADING_MARKER} {layout.answer_lines[label]}"
        summary = layout.summary.get(label)
        if section and summary:
            out[pid] = PartReading(section, "section", restated=summary, end=end)
        elif section:
            out[pid] = PartReading(section, "section", end=end)
        elif summary:
            out[pid] = PartReading(summary, "summary")
        else:
            out[pid] = PartReading("", "none")
    if layout.headed or any(r.addressed for r in out.values()):
        first = min(layout.starts.values(), default=0)
        preamble = reply[:first].strip()
        order = list(labels)
        before = []
        for pid in order:  # parts answered in order before the first heading, without one of their own
            if out[pid].addressed:
                break
            before.append(pid)
        # only for a part the turn asks: in a later reply, text before the first heading is a preamble
        if preamble and len(before) == 1 and len(before) < len(order) and before[0] in whole:
            out[before[0]] = PartReading(preamble, "section")
        out = _with_lists(out, layout.lists, lp)
        if concedes(reply):  # a reply that changes its mind may restate a part it gives no heading
            out = _named_readings(reply, lp, out, skip=[pid for pid, r in out.items() if r.addressed])
        return out
    targets = [pid for pid in whole if pid in labels]
    for pid in targets:
        out[pid] = PartReading(reply, "whole reply", shared=len(targets) > 1)
    if not concedes(reply) and targets:
        return out  # only a reply that changes its mind is read for parts the turn was not about
    return _named_readings(reply, lp, out, skip=targets)


def _named_readings(
    reply: str, lp: LoadedProblem, out: dict[str, PartReading], skip: Sequence[str]
) -> dict[str, PartReading]:
    """Give the parts not in ``skip`` the whole reply when it states their quantity (``s = d``)."""
    for part in lp.problem.parts:
        if part.id in skip:
            continue
        asks = asked_quantities(part.prompt)
        # 'sim(q, k) > 0' names sim but answers a part asking for a condition, not one asking for sim itself
        relations = any(
            c.kind == "condition"
            or _RELATION_SIGN.search(str(getattr(c.params, "expected", None) or part.expected or ""))
            for c in lp.part_rubric(part.id).checks
        )
        if asks and any(
            f.where == "named equation" and (relations or not _RELATION_SIGN.search(f.text))
            for f in final_answers(reply, asks=asks, named_only=True)
        ):
            out[part.id] = PartReading(reply, "named", shared=True)
    return out


def _with_lists(
    out: dict[str, PartReading], lists: tuple[str, ...], lp: LoadedProblem
) -> dict[str, PartReading]:
    """Give label runs past the parts (a skeleton's blanks listed outside any section) to the blanks part."""
    if not lists:
        return out
    for part in lp.problem.parts:
        rubric = lp.part_rubric(part.id)
        if any(getattr(c.params, "mode", None) == "blanks" for c in rubric.checks):
            reading = out[part.id]
            missing = [run for run in lists if run not in reading.text]
            if missing:
                text = "\n\n".join([reading.text, *missing]).strip()
                out[part.id] = PartReading(text, reading.source if reading.addressed else "section")
    return out


def sections_for(reply: str, lp: LoadedProblem, part_ids: list[str]) -> dict[str, str]:
    """The text of ``reply`` answering each of ``part_ids`` (``""`` where it does not address one)."""
    readings = read_parts(reply, lp, whole=part_ids)
    return {pid: readings[pid].text for pid in part_ids}
