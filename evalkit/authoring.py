"""Scaffolding for new problems: ``evalkit new problem NAME [--code]``.

Writes ``problems/NAME.yaml`` and ``rubrics/NAME.yaml``: a two-part problem
(a formula-free numeric part and a short-answer part) with a rubric whose
checks, hint ladder and self-test examples are filled in, so the pair
validates and passes ``evalkit validate --selftest`` before it is edited.
With ``code=True`` part (a) is instead a code part: fill in the blanks of
``problems/NAME/skeleton.py``, graded against the author's own
``problems/NAME/reference.py`` in the sandbox. Existing files are never
overwritten, and nothing is written unless every file can be.

Example::

    paths = new_problem("hw10_q1")              # [problems/hw10_q1.yaml, rubrics/hw10_q1.yaml]
    paths = new_problem("hw10_q2", code=True)   # + problems/hw10_q2/reference.py, skeleton.py
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


_CODE_PROBLEM = """\
# {name}: replace the statement, the code and the parts with your problem's.
# The skeleton shown to the model is problems/{name}/skeleton.py (blanks are written ____(a)____);
# the rubric grades the filled-in code against problems/{name}/reference.py.
id: {id}
title: {title}
statement: |
  Below is a position-wise feed-forward block: a linear layer up to `d_hidden` features, a ReLU,
  and a linear layer back down to `d_model`. Fill in the blanks (a), (b) and (c).
symbols:
  d_model: {{kind: dimension, latex: 'd_{{model}}'}}
  d_hidden: {{kind: dimension, latex: 'd_{{hidden}}'}}
givens:
  - name: skeleton
    kind: code
    language: python
    file: skeleton.py
parts:
  - id: a
    prompt: Fill in the blanks (a), (b) and (c). State each as a line such as '(a) = `...`'.
    points: 2
  - id: b
    prompt: In one word, what is the name of the function that turns scores into attention weights?
    expected: softmax
    points: 1
"""

_CODE_RUBRIC = """\
# How {id} is graded. Part (a) runs the model's filled-in skeleton in the sandbox on random inputs
# and compares its outputs with problems/{name}/reference.py:FeedForward (weights copied over).
# Inputs are shapes (float32 normals) or {{shape, dtype, low, high}} / {{value}}; see the README.
problem: {id}
parts:
  a:
    checks:
      - kind: code
        mode: blanks
        skeleton_given: skeleton
        reference: reference.py:FeedForward
        cases:
          - {{init: {{d_model: 8, d_hidden: 32}}, inputs: {{x: [2, 5, 8]}}}}
          - {{init: {{d_model: 6, d_hidden: 12}}, inputs: {{x: [3, 6]}}}}
        seeds: [0, 1]
        atol: 1.0e-5
    hints:
      - Both linear layers meet at `d_hidden` features.
      - The non-linearity between them is a ReLU.
    examples:
      - answer: "(a) = `d_hidden`\\n(b) = `d_hidden`\\n(c) = `relu`"
        verdict: correct
      - answer: "**Blank (a):** `d_hidden`\\n**Blank (b):** `d_hidden`\\n**Blank (c):** `relu`"
        verdict: correct
      - answer: "(a) = `d_model`\\n(b) = `d_hidden`\\n(c) = `relu`"
        verdict: incorrect
        note: the first layer does not widen, so the shapes do not fit
      - answer: "(a) = `d_hidden`\\n(b) = `d_hidden`\\n(c) = `sigmoid`"
        verdict: incorrect
        note: a different non-linearity
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

_CODE_REFERENCE = '''\
"""The reference solution of {id}: trusted code the model's answer is compared with.

It runs in evalkit's own process and never reaches the sandbox: the model's
code gets only the random inputs and, for a module, this module's weights
(so keep the attribute names of the skeleton: ``up`` and ``down``).
"""

import torch
from torch import nn


class FeedForward(nn.Module):
    """Linear up to ``d_hidden``, ReLU, linear back to ``d_model``."""

    def __init__(self, d_model: int, d_hidden: int) -> None:
        super().__init__()
        self.up = nn.Linear(d_model, d_hidden)
        self.down = nn.Linear(d_hidden, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(torch.relu(self.up(x)))
'''

_CODE_SKELETON = """\
import torch
import torch.nn as nn


class FeedForward(nn.Module):
    def __init__(self, d_model, d_hidden):
        super().__init__()
        self.up = nn.Linear(d_model, ____(a)____)
        self.down = nn.Linear(____(b)____, d_model)

    def forward(self, x):
        return self.down(torch.____(c)____(self.up(x)))
"""


def _title(name: str) -> str:
    words = re.split(r"[_.-]+", name)
    return " ".join(w.capitalize() for w in words if w) or name


def new_problem(name: str, root: str | Path | None = None, *, code: bool = False) -> list[Path]:
    """Create ``problems/NAME.yaml`` and ``rubrics/NAME.yaml`` under ``root`` (default: the CWD).

    With ``code``, part (a) is a code part and ``problems/NAME/reference.py`` and
    ``problems/NAME/skeleton.py`` are written too. Raises
    :class:`~evalkit.errors.SpecError` for a bad name or when any file exists.
    """
    if not _NAME.match(name):
        raise SpecError(
            f"invalid problem name {name!r}: use letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    base = Path(root) if root is not None else Path.cwd()
    problem_path = base / "problems" / f"{name}.yaml"
    rubric_path = base / "rubrics" / f"{name}.yaml"
    folder = base / "problems" / name
    extra = {folder / "reference.py": _CODE_REFERENCE, folder / "skeleton.py": _CODE_SKELETON} if code else {}
    for path in (problem_path, rubric_path, *extra):
        if path.exists():
            raise SpecError(
                "already exists; not overwriting it (pick another name, or remove the file first)", path=path
            )
    taken = re.compile(rf"^id:\s*['\"]?{re.escape(name)}['\"]?\s*$", re.MULTILINE)
    for other in sorted(problem_path.parent.glob("*.y*ml")):
        if taken.search(other.read_text(encoding="utf-8", errors="replace")):
            raise SpecError(f"problem id {name!r} is already used; choose another name", path=other)
    problem_text, rubric_text = (_CODE_PROBLEM, _CODE_RUBRIC) if code else (_PROBLEM, _RUBRIC)
    files = {
        problem_path: problem_text.format(name=name, id=name, title=_title(name)),
        rubric_path: rubric_text.format(name=name, id=name),
        **{path: text.format(id=name) if "{id}" in text else text for path, text in extra.items()},
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
