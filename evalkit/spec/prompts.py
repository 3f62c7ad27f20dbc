"""Prompt templates (jinja2, StrictUndefined) for the four turns of a tutoring conversation.

``prompts/`` holds ``system.j2``, ``opening.j2``, ``question.j2`` and ``hint.j2``.
A missing variable or a syntax error is a SpecError with ``path:line``.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from evalkit.errors import SpecError
from evalkit.spec.models import Part, Problem

__all__ = ["PROMPT_NAMES", "PromptSet", "load_prompts", "question_number"]

PROMPT_NAMES = ("system", "opening", "question", "hint")


def _env(directory: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def question_number(problem: Problem, position: int) -> int:
    """The number the homework gives ``problem``: the last number in its id (``q6`` → 6, ``hw10_q2`` → 2),
    else its ``position`` in the problem set (a set may skip a number: its 5th problem can be question 6)."""
    m = re.search(r"(\d+)\D*$", problem.id)
    return int(m.group(1)) if m else position


@dataclass(frozen=True)
class HintItem:
    part: Part
    number: int
    text: str


@dataclass
class PromptSet:
    directory: Path
    templates: dict[str, jinja2.Template]
    system_override: str | None = None  # a --system text replaces system.j2

    def _render(self, name: str, **context: Any) -> str:
        template = self.templates[name]
        path = self.directory / f"{name}.j2"
        try:
            return template.render(**context).strip()
        except jinja2.UndefinedError as err:
            line = next(
                (
                    f.lineno
                    for f in reversed(traceback.extract_tb(err.__traceback__))
                    if f.filename == template.filename
                ),
                None,
            )
            raise SpecError(
                f"template uses an undefined variable: {err.message}", path=path, line=line
            ) from None
        except jinja2.TemplateError as err:
            raise SpecError(f"template error: {err}", path=path) from None

    def system(self) -> str:
        if self.system_override is not None:
            return self.system_override
        return self._render("system")

    def opening(self, problems: list[Problem]) -> str:
        return self._render("opening", problems=problems)

    def question(self, problem: Problem, position: int) -> str:
        """The turn that asks ``problem``, the ``position``-th of the set; ``number`` in the template is the
        question's own number (:func:`question_number`), ``position`` its place in the set."""
        return self._render(
            "question",
            problem=problem,
            parts=problem.parts,
            number=question_number(problem, position),
            position=position,
        )

    def hint(self, problem: Problem, hints: list[HintItem]) -> str:
        return self._render("hint", problem=problem, hints=hints)

    def check(self) -> None:
        """Render every template with sample data, so undefined variables surface now."""
        sample = Problem(
            id="sample",
            title="Sample",
            statement="Statement.",
            parts=[Part(id="a", prompt="Prompt a."), Part(id="b", prompt="Prompt b.")],
        )
        self.system()
        self.opening([sample])
        self.question(sample, 1)
        self.hint(sample, [HintItem(sample.parts[0], 1, "A hint.")])
        self.hint(sample, [HintItem(p, 1, "A hint.") for p in sample.parts])


def load_prompts(directory: str | Path) -> PromptSet:
    directory = Path(directory)
    if not directory.is_dir():
        raise SpecError("prompt directory not found; pass --prompts DIR", path=directory)
    env = _env(directory)
    templates: dict[str, jinja2.Template] = {}
    for name in PROMPT_NAMES:
        path = directory / f"{name}.j2"
        if not path.is_file():
            raise SpecError(
                f"missing prompt template {name}.j2 (needed: {', '.join(PROMPT_NAMES)})", path=directory
            )
        try:
            templates[name] = env.get_template(f"{name}.j2")
        except jinja2.TemplateSyntaxError as err:
            raise SpecError(f"template syntax error: {err.message}", path=path, line=err.lineno) from None
        except UnicodeDecodeError:
            raise SpecError("not UTF-8 text", path=path) from None
    return PromptSet(directory, templates)
