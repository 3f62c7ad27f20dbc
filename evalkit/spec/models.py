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
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from evalkit.checks.base import CheckParams, get_checker
from evalkit.checks.claims import Criterion, Misconception
from evalkit.errors import SpecError
from evalkit.spec.files import folder_from, read_folder_file
from evalkit.spec.loading import NESTED_ERRORS, nearest

__all__ = [
    "PROBE_OUTCOMES",
    "CheckSpec",
    "Example",
    "Given",
    "Part",
    "PartRubric",
    "Probe",
    "ProbeExample",
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
    """Data the problem gives: a code skeleton, a matrix, a vector, a table or text.

    ``file: skeleton.py`` reads ``content`` from the problem's folder
    (``problems/NAME/`` beside ``problems/NAME.yaml``).
    """

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    kind: Literal["code", "matrix", "vector", "text", "table"] = "text"
    content: str | None = None
    file: str | None = Field(
        default=None, description="a file in the problem's folder that holds the content"
    )
    value: Any = None
    language: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_file(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("file"), str):
            return data
        if data.get("content") is not None:
            raise ValueError("a given has either 'content' or 'file', not both")
        folder = folder_from(info.context)
        if folder is None:
            raise ValueError("'file' is read from the problem's folder; load the problem from its YAML file")
        try:
            return {**data, "content": read_folder_file(folder, data["file"])}
        except SpecError as err:
            raise ValueError(str(err)) from None

    @model_validator(mode="after")
    def _has_payload(self) -> Given:
        if self.content is None and self.value is None:
            raise ValueError("a given needs 'content' (text or code), 'file' or 'value' (data)")
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
    suite: str | None = Field(
        default=None,
        pattern=_ID_PATTERN,
        description="the homework it belongs to (default: its file name up to the first '_', 'hw9' for hw9_q1.yaml)",
    )

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
    def _parse_params(self, info: ValidationInfo) -> CheckSpec:
        checker = get_checker(self.kind)
        raw = dict(self.model_extra or {})
        try:
            self._params = checker.params_model.model_validate(raw, context=info.context)
        except ValidationError as err:
            errors = _param_errors(self.kind, err)
            summary = "; ".join(f"{'.'.join(map(str, loc)) or self.kind}: {msg}" for loc, msg, _, _ in errors)
            raise PydanticCustomError(
                NESTED_ERRORS, "{summary}", {"summary": summary, "errors": errors}
            ) from None
        return self

    @property
    def params(self) -> CheckParams:
        return self._params


def _param_errors(kind: str, err: ValidationError) -> list[tuple[tuple[str | int, ...], str, str, list[str]]]:
    """Every error of a check's parameters, located inside the check, for :data:`NESTED_ERRORS`."""
    known = sorted(get_checker(kind).params_model.model_fields)
    out: list[tuple[tuple[str | int, ...], str, str, list[str]]] = []
    for item in err.errors():
        loc = tuple(x for x in item["loc"] if not (isinstance(x, str) and x.startswith("function-")))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden" and len(loc) == 1:
            name = str(loc[0])
            guess = nearest(name, known)
            message = (
                f"unknown parameter {name!r} for kind {kind!r}"
                + (f"; did you mean {guess!r}?" if guess else "")
                + f" (known: {', '.join(known) or 'none'})"
            )
        elif item["type"] == "missing":
            message = "required parameter is missing"
        out.append((loc, message, "value_error", known))
    return out


Verdict = Literal["correct", "incorrect", "unscored"]


class Example(_Strict):
    """A self-test: an answer and the verdict the rubric must give it."""

    answer: str
    verdict: Verdict
    history: list[str] = Field(default_factory=list)
    note: str | None = None


ProbeKind = Literal["challenge", "misconception", "valid_point", "student_work"]

# what a probe's reply can turn out to be, per kind (``unscored``: it could not be decided)
PROBE_OUTCOMES: dict[str, tuple[str, ...]] = {
    "challenge": ("held", "flipped", "fixed", "unfixed", "unscored"),
    "misconception": ("corrected", "caved", "unscored"),
    "valid_point": ("accepted", "rejected", "overcorrected", "unscored"),
    "student_work": ("located_and_fixed", "located", "missed", "unscored"),
    # a transcript's student claim that no rubric declares: whether it was right is not known, so only
    # what happened to the tutor's answer is (grade-transcript classifies such turns)
    "claim": ("held", "caved", "unscored"),
}


class ProbeExample(_Strict):
    """A self-test of a probe: a reply and the outcome the probe must give it."""

    reply: str
    outcome: str
    before: Verdict = Field(default="correct", description="the part's verdict when the probe was sent")
    history: list[str] = Field(default_factory=list, description="the tutor's earlier answers to the part")
    note: str | None = None


class Probe(_Strict):
    """A scripted student turn sent after a part is answered, to test the tutor.

    ``say`` is a jinja2 template (``part``, ``problem``, ``answer``: the tutor's last answer to the
    part, ``work``: the student's attempt). ``claims`` are what a good reply says (it rejects the
    misconception, accepts the point, locates the mistake), written as a ``criteria`` check's;
    ``caving`` are claims that give a bad reply away (it adopts the misconception, rejects the point,
    calls the flawed work right), written as its ``misconceptions``.
    """

    kind: ProbeKind
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    say: str = Field(min_length=1)
    work: str | None = Field(default=None, description="student_work: the student's flawed attempt")
    claims: list[Criterion] = Field(default_factory=list)
    caving: list[Misconception] = Field(default_factory=list)
    pass_threshold: float = Field(default=1.0, ge=0, le=1)
    examples: list[ProbeExample] = Field(default_factory=list)

    @field_validator("say")
    @classmethod
    def _template(cls, say: str) -> str:
        import jinja2  # only where a rubric declares probes

        try:
            jinja2.Environment().parse(say)
        except jinja2.TemplateSyntaxError as err:
            raise ValueError(
                f"'say' is not a valid jinja2 template (line {err.lineno}): {err.message}"
            ) from None
        return say

    @property
    def name(self) -> str:
        """How the probe is named (its ``id``; a rubric's probes always have one, see :class:`PartRubric`)."""
        return self.id or self.kind

    def render(self, problem: Problem, part_id: str, answer: str = "") -> str:
        """The student's turn: ``say`` with the part's context. An unknown name in the template raises
        ``jinja2.UndefinedError`` (the suite's loading reports it with ``file:line``)."""
        import jinja2

        env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
        template = env.from_string(self.say)
        part = problem.part(part_id)
        return template.render(
            part=part, problem=problem, answer=answer.strip(), work=(self.work or "").strip()
        ).strip()

    @model_validator(mode="after")
    def _complete(self) -> Probe:
        if self.kind != "challenge" and not self.claims:
            what = {
                "misconception": "how a reply rejects and corrects it",
                "valid_point": "how a reply accepts it",
                "student_work": "how a reply locates the mistake",
            }[self.kind]
            raise ValueError(f"a {self.kind} probe needs 'claims': {what}")
        if self.kind == "student_work" and not (self.work or "").strip():
            raise ValueError("a student_work probe needs 'work': the student's flawed attempt")
        outcomes = PROBE_OUTCOMES[self.kind]
        for i, example in enumerate(self.examples):
            if example.outcome not in outcomes:
                raise ValueError(
                    f"example {i}: outcome {example.outcome!r} is not one of a {self.kind} probe's: "
                    + ", ".join(outcomes)
                )
        return self


class PartRubric(_Strict):
    """How one part is graded."""

    checks: list[CheckSpec] = Field(min_length=1)
    points: float | None = Field(default=None, ge=0)
    partial_credit: bool = False
    hints: list[str] = Field(default_factory=list)
    examples: list[Example] = Field(default_factory=list)
    probes: list[Probe] = Field(default_factory=list)

    @field_validator("probes", mode="before")
    @classmethod
    def _probe_ids(cls, probes: Any) -> Any:
        """A probe without an ``id`` is named by its kind, numbered when the part has several of that kind."""
        if not isinstance(probes, list):
            return probes
        kinds = [p.get("kind") for p in probes if isinstance(p, dict)]
        seen: dict[str, int] = {}
        out = []
        for p in probes:
            if isinstance(p, dict) and p.get("id") is None and isinstance(p.get("kind"), str):
                seen[p["kind"]] = seen.get(p["kind"], 0) + 1
                many = kinds.count(p["kind"]) > 1
                p = {**p, "id": f"{p['kind']}{seen[p['kind']]}" if many else p["kind"]}
            out.append(p)
        return out

    @field_validator("probes")
    @classmethod
    def _unique_probes(cls, probes: list[Probe]) -> list[Probe]:
        ids = [p.id for p in probes]
        for pid in ids:
            if ids.count(pid) > 1:
                raise ValueError(f"duplicate probe id {pid!r}")
        return probes

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
