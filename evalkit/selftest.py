"""Rubric self-tests: grade every rubric example and compare with the verdict it declares.

A rubric part may list examples (``examples: [{answer, verdict, history}]``):
answers the rubric must grade ``correct``, ``incorrect`` or ``unscored``; and
each of its probes example replies (``examples: [{reply, outcome, before}]``)
with the outcome the probe must give them (``held``, ``caved`` ...).
They are graded by :func:`evalkit.grading.grade_part`, the code live runs use,
so a rubric that passes its self-tests grades those answers the same way in a
run. ``history`` holds earlier answers to the same part (for checks that build
on them, such as code patches).

Example::

    failures = run_selftests("problems", "rubrics")
    for line in failures:
        print(line)    # rubrics/hw9_q3.yaml:41: q3.b example 2: expected incorrect, got correct (...)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evalkit.checks.base import Answer
from evalkit.errors import SpecError
from evalkit.grading import PartGrade, grade_part, read_parts
from evalkit.probes import ProbeGrade, grade_probe
from evalkit.spec.loading import SpecErrors, read_yaml
from evalkit.spec.suite import LoadedProblem, find_yaml, load_suite

__all__ = [
    "ExampleOutcome",
    "ProbeExampleOutcome",
    "failures_of",
    "grade_examples",
    "grade_probe_examples",
    "run_selftests",
]


@dataclass(frozen=True)
class ExampleOutcome:
    """One rubric example, graded."""

    problem: str
    part: str
    index: int  # 0-based position in the part's examples
    expected: str
    grade: PartGrade
    path: Path
    line: int | None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.grade.status == self.expected

    def failure_line(self) -> str:
        what = f"{self.problem}.{self.part} example {self.index + 1}"
        return _failure(
            self.path, self.line, what, self.note, self.expected, self.grade.status, self.grade.explanation
        )


def _failure(
    path: Path, line: int | None, what: str, note: str | None, expected: str, got: str, why: str
) -> str:
    """``file:line: what [note]: expected X, got Y (why)``, the explanation cut at 400 characters."""
    where = f"{path}:{line}" if line is not None else str(path)
    why = why.replace("\n", " ")
    if len(why) > 400:
        why = why[:397] + "..."
    noted = f" [{note}]" if note else ""
    return f"{where}: {what}{noted}: expected {expected}, got {got} ({why})"


def grade_examples(lp: LoadedProblem, sandbox: object = None) -> list[ExampleOutcome]:
    """Grade every example of one problem's rubric.

    A check that cannot be graded at all (an expected answer that does not parse) is a SpecError
    at its part's checks in the rubric; every such part is named (:class:`SpecErrors`), not the first.
    """
    _, lines = read_yaml(lp.rubric_path)
    outcomes: list[ExampleOutcome] = []
    errors: list[SpecError] = []
    for part in lp.problem.parts:
        rubric = lp.part_rubric(part.id)
        for i, example in enumerate(rubric.examples):
            # read as a reply answering this part: its summary restatement is graded beside it
            reading = read_parts(example.answer, lp, whole=[part.id])[part.id]
            text = reading.text if reading.addressed else example.answer
            answer = Answer(text, example.answer, tuple(example.history), restated=reading.restated)
            try:
                grade = grade_part(lp.problem, part, rubric, answer, sandbox=sandbox)
            except SpecError as err:
                if err.path is not None:
                    raise
                at = lines.get(("parts", part.id, "checks")) or lines.get(("parts", part.id))
                errors.append(
                    SpecError(err.message, path=lp.rubric_path, line=at, field=f"parts.{part.id}.checks")
                )
                break  # the part's other examples would say the same
            line = lines.get(("parts", part.id, "examples", i))
            outcomes.append(
                ExampleOutcome(lp.id, part.id, i, example.verdict, grade, lp.rubric_path, line, example.note)
            )
    if errors:
        raise errors[0] if len(errors) == 1 else SpecErrors(errors)
    return outcomes


@dataclass(frozen=True)
class ProbeExampleOutcome:
    """One probe example, graded."""

    problem: str
    part: str
    probe: str
    index: int
    expected: str
    graded: ProbeGrade
    path: Path
    line: int | None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.graded.outcome == self.expected

    def failure_line(self) -> str:
        what = f"{self.problem}.{self.part} probe {self.probe} example {self.index + 1}"
        return _failure(
            self.path, self.line, what, self.note, self.expected, self.graded.outcome, self.graded.explanation
        )


def grade_probe_examples(lp: LoadedProblem, sandbox: object = None) -> list[ProbeExampleOutcome]:
    """Grade every example reply of every probe of one problem's rubric."""
    _, lines = read_yaml(lp.rubric_path)
    outcomes: list[ProbeExampleOutcome] = []
    for part in lp.problem.parts:
        for p_index, probe in enumerate(lp.part_rubric(part.id).probes):
            for i, example in enumerate(probe.examples):
                graded = grade_probe(
                    lp,
                    part.id,
                    probe,
                    example.reply,
                    example.before,
                    history=example.history,
                    sandbox=sandbox,
                )
                line = lines.get(("parts", part.id, "probes", p_index, "examples", i))
                outcomes.append(
                    ProbeExampleOutcome(
                        lp.id, part.id, probe.name, i, example.outcome, graded, lp.rubric_path,
                        line, example.note,
                    )
                )  # fmt: skip
    return outcomes


def failures_of(problems: Sequence[LoadedProblem], sandbox: object = None) -> list[str]:
    """Grade every example of these problems' rubrics (answers and probe replies); one line per
    disagreement (empty: all pass)."""
    failures: list[str] = []
    for lp in problems:
        failures.extend(o.failure_line() for o in grade_examples(lp, sandbox) if not o.ok)
        failures.extend(o.failure_line() for o in grade_probe_examples(lp, sandbox) if not o.ok)
    return failures


def run_selftests(problems_dir: str | Path, rubrics_dir: str | Path) -> list[str]:
    """Grade every example of every rubric; return one line per disagreement (empty: all pass).

    ``problems_dir`` is a directory, file or glob of problem files; ``rubrics_dir``
    the directory of their rubrics. Spec errors raise :class:`~evalkit.errors.SpecError`.
    """
    problems = Path(problems_dir)
    pattern = problems / "*.yaml" if problems.is_dir() else problems
    if not find_yaml(pattern):
        return []
    return failures_of(load_suite(pattern, rubrics_dir).problems)
