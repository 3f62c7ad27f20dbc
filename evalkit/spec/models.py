"""Pydantic models of problems and rubrics (every model forbids unknown keys).

A *problem* (``problems/*.yaml``) says what is asked: statement, givens,
declared symbols and assumptions, and parts with their expected answers. A
*rubric* (``rubrics/*.yaml``) says how it is graded: per part, the checks,
points, partial credit, the hint ladder and self-test examples.

Example problem::

    id: q1
    title: Justifying scaled dot-product attention
    statement: Let $q, k \\in \\mathbb{R}^d$ ...
    symbols: {d: dimension, mu: {kind: scalar, latex: '\\mu'}}
    assumptions: ['h*v = d']
    parts:
      - {id: a, prompt: 'Find $\\mathbb{E}[q^\\top k]$.', expected: 'd\\mu^2', points: 1}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from evalkit.checks.base import CheckParams, get_checker
from evalkit.errors import SpecError

__all__ = [
    "CheckSpec",
    "Example",
    "Given",
    "Part",
    "PartRubric",
    "Problem",
    "Rubric",
    "Symbol",
]

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


SymbolKind = Literal["dimension", "scalar", "vector", "matrix", "function", "integer"]


class Symbol(_Strict):
    """A declared symbol. ``dimension`` and ``integer`` symbols are positive integers."""

    kind: SymbolKind = "scalar"
    latex: str | None = Field(default=None, description="LaTeX spelling, e.g. '\\mu' or 'd_{model}'")
    positive: bool | None = None
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"kind": data} if isinstance(data, str) else data


class Given(_Strict):
    """Data the problem gives: a code skeleton, a matrix, a vector, a table or text."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    kind: Literal["code", "matrix", "vector", "text", "table"] = "text"
    content: str | None = None
    value: Any = None
    language: str | None = None

    @model_validator(mode="after")
    def _has_payload(self) -> Given:
        if self.content is None and self.value is None:
            raise ValueError("a given needs 'content' (text or code) or 'value' (data)")
        return self


class Part(_Strict):
    """One part of a problem: what is asked and the expected answer (for people and checks)."""

    id: str = Field(pattern=_ID_PATTERN)
    prompt: str = Field(min_length=1)
    expected: str | None = None
    points: float = Field(default=1.0, ge=0)
    label: str | None = Field(default=None, description="How the part is named in replies, e.g. '(b)(ii)'")
    values: dict[str, int | float | str] = Field(
        default_factory=dict,
        description="Givens of this part, substituted before comparing: {mu: 0, sigma: 1} or {s: '\\sqrt{d}'}",
    )

    @property
    def heading(self) -> str:
        return self.label or f"({self.id})"


class Problem(_Strict):
    """A homework question with parts."""

    id: str = Field(pattern=_ID_PATTERN)
    title: str = Field(min_length=1)
    statement: str = ""
    symbols: dict[str, Symbol] = Field(default_factory=dict)
    assumptions: list[str] = Field(default_factory=list)
    givens: list[Given] = Field(default_factory=list)
    parts: list[Part] = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)

    @field_validator("parts")
    @classmethod
    def _unique_part_ids(cls, parts: list[Part]) -> list[Part]:
        seen: set[str] = set()
        for part in parts:
            if part.id in seen:
                raise ValueError(f"duplicate part id {part.id!r}")
            seen.add(part.id)
        return parts

    def part(self, part_id: str) -> Part:
        for part in self.parts:
            if part.id == part_id:
                return part
        raise KeyError(part_id)

    @property
    def points(self) -> float:
        return sum(p.points for p in self.parts)


class CheckSpec(BaseModel):
    """One check of a part: ``kind`` names a registered checker; other keys are its parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str
    points: float | None = Field(default=None, ge=0)
    required: bool = True
    _params: CheckParams = PrivateAttr()

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        try:
            get_checker(kind)
        except SpecError as err:
            raise ValueError(err.message) from None
        return kind

    @model_validator(mode="after")
    def _parse_params(self) -> CheckSpec:
        checker = get_checker(self.kind)
        raw = dict(self.model_extra or {})
        try:
            self._params = checker.params_model.model_validate(raw)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or self.kind
            message = first["msg"].removeprefix("Value error, ")
            if first["type"] == "extra_forbidden":
                known = ", ".join(sorted(checker.params_model.model_fields)) or "none"
                message = f"unknown parameter for kind {self.kind!r} (known: {known})"
            raise ValueError(f"{where}: {message}") from None
        return self

    @property
    def params(self) -> CheckParams:
        return self._params


Verdict = Literal["correct", "incorrect", "unscored"]


class Example(_Strict):
    """A self-test: an answer and the verdict the rubric must give it."""

    answer: str
    verdict: Verdict
    history: list[str] = Field(default_factory=list)
    note: str | None = None


class PartRubric(_Strict):
    """How one part is graded."""

    checks: list[CheckSpec] = Field(min_length=1)
    points: float | None = Field(default=None, ge=0)
    partial_credit: bool = False
    hints: list[str] = Field(default_factory=list)
    examples: list[Example] = Field(default_factory=list)

    @field_validator("hints")
    @classmethod
    def _nonempty_hints(cls, hints: list[str]) -> list[str]:
        for i, hint in enumerate(hints):
            if not hint.strip():
                raise ValueError(f"hint {i} is empty")
        return hints


class Rubric(_Strict):
    """The rubric of one problem, keyed by part id."""

    problem: str = Field(pattern=_ID_PATTERN)
    parts: dict[str, PartRubric] = Field(min_length=1)
