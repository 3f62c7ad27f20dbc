"""Scaffolding for new problems: ``evalkit new problem NAME``.

Writes ``problems/NAME.yaml`` and ``rubrics/NAME.yaml``: a two-part problem
(a formula-free numeric part and a short-answer part) with a rubric whose
checks, hint ladder and self-test examples are filled in, so the pair
validates and passes ``evalkit validate --selftest`` before it is edited.
Existing files are never overwritten.

Example::

    paths = new_problem("hw10_q1")      # [problems/hw10_q1.yaml, rubrics/hw10_q1.yaml]
"""

from __future__ import annotations

import re
from pathlib import Path

from evalkit.errors import SpecError

__all__ = ["new_problem"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

_PROBLEM = """\
# {name}: replace the statement, parts and expected answers with your problem's.
# Fields: 'evalkit schema problem'; guide: docs/adding-a-problem.md
id: {id}
title: {title}
statement: |
  A short statement of the problem, in Markdown with $\\LaTeX$ math.
  Everything a part needs (code, matrices, tables) goes in `givens`.
symbols:
  n: {{kind: dimension, description: an example symbol}}
assumptions: []
givens:
  - name: numbers
    kind: vector
    content: '$x = [3, 4]$'
    value: [3, 4]
parts:
  - id: a
    prompt: What is the Euclidean norm of $x$?
    expected: '5'
    points: 1
  - id: b
    prompt: In one word, what is the name of the function that turns scores into attention weights?
    expected: softmax
    points: 1
"""

_RUBRIC = """\
# How {id} is graded: per part, checks (kinds: 'evalkit schema rubric'), hints sent in order
# when the part is wrong, and self-test examples ('evalkit validate --selftest' grades them).
problem: {id}
parts:
  a:
    checks:
      - {{kind: numeric, expected: 5, tolerance: 1.0e-6}}
    hints:
      - Use the Pythagorean theorem.
      - Compute $\\sqrt{{3^2 + 4^2}}$.
    examples:
      - {{answer: 'The norm is $\\boxed{{5}}$.', verdict: correct}}
      - {{answer: '$\\sqrt{{9 + 16}} = 5.0$', verdict: correct}}
      - {{answer: 'The norm is $\\boxed{{7}}$.', verdict: incorrect}}
      - {{answer: '$3 + 4 = 7$', verdict: incorrect}}
  b:
    checks:
      - {{kind: normalized, expected: softmax}}
    hints:
      - Which function maps any vector of scores to a probability distribution?
    examples:
      - {{answer: '`softmax`', verdict: correct}}
      - {{answer: 'Softmax', verdict: correct}}
      - {{answer: '`argmax`', verdict: incorrect}}
      - {{answer: '`sigmoid`', verdict: incorrect}}
"""


def _title(name: str) -> str:
    words = re.split(r"[_.-]+", name)
    return " ".join(w.capitalize() for w in words if w) or name


def new_problem(name: str, root: str | Path | None = None) -> list[Path]:
    """Create ``problems/NAME.yaml`` and ``rubrics/NAME.yaml`` under ``root`` (default: the CWD).

    Raises :class:`~evalkit.errors.SpecError` for a bad name or when either file exists.
    """
    if not _NAME.match(name):
        raise SpecError(
            f"invalid problem name {name!r}: use letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    base = Path(root) if root is not None else Path.cwd()
    problem_path = base / "problems" / f"{name}.yaml"
    rubric_path = base / "rubrics" / f"{name}.yaml"
    for path in (problem_path, rubric_path):
        if path.exists():
            raise SpecError(
                "already exists; not overwriting it (pick another name, or remove the file first)", path=path
            )
    taken = re.compile(rf"^id:\s*['\"]?{re.escape(name)}['\"]?\s*$", re.MULTILINE)
    for other in sorted(problem_path.parent.glob("*.y*ml")):
        if taken.search(other.read_text(encoding="utf-8", errors="replace")):
            raise SpecError(f"problem id {name!r} is already used; choose another name", path=other)
    problem_path.parent.mkdir(parents=True, exist_ok=True)
    rubric_path.parent.mkdir(parents=True, exist_ok=True)
    problem_path.write_text(_PROBLEM.format(name=name, id=name, title=_title(name)), encoding="utf-8")
    rubric_path.write_text(_RUBRIC.format(id=name), encoding="utf-8")
    return [problem_path, rubric_path]
