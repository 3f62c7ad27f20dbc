"""The Checker protocol, the data it exchanges, and the registry of check kinds.

A checker grades one part's answer against one check from a rubric. It never
raises because a model misbehaved: a wrong answer is ``incorrect``, an answer
it could not grade (no answer found, parse error, timeout) is ``unscored``
with a ``reason``. It raises :class:`~evalkit.errors.SpecError` only for a
broken spec (bad parameters).

Example::

    @register_checker
    class ExactChecker:
        kind = "exact"
        params_model = ExactParams

        def check(self, params, answer, ctx):
            ok = answer.text.strip() == params.expected
            return CheckResult.from_bool(ok, "matches" if ok else "differs")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from evalkit.errors import SpecError

if TYPE_CHECKING:
    from evalkit.spec.models import Part, Problem

__all__ = [
    "Answer",
    "CheckContext",
    "CheckParams",
    "CheckResult",
    "Checker",
    "Status",
    "bounded_check",
    "checker_kinds",
    "get_checker",
    "register_checker",
]

Status = Literal["correct", "incorrect", "unscored"]


class CheckParams(BaseModel):
    """Base for every checker's parameters: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check on one answer.

    ``score`` is the fraction of the check's points earned (0..1); ``reason`` is
    a short machine-readable tag for ``unscored`` results (``no_answer``,
    ``answer_parse_error``, ``answer_timeout`` ...); ``details`` holds JSON-able
    data for reports, such as the extracted answer and where it was found.
    """

    status: Status
    explanation: str
    score: float = 0.0
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def correct(cls, explanation: str, **details: Any) -> CheckResult:
        return cls("correct", explanation, 1.0, None, details)

    @classmethod
    def incorrect(cls, explanation: str, score: float = 0.0, **details: Any) -> CheckResult:
        return cls("incorrect", explanation, score, None, details)

    @classmethod
    def unscored(cls, reason: str, explanation: str, **details: Any) -> CheckResult:
        return cls("unscored", explanation, 0.0, reason, details)

    @classmethod
    def from_bool(cls, ok: bool, explanation: str, **details: Any) -> CheckResult:
        return cls.correct(explanation, **details) if ok else cls.incorrect(explanation, **details)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "explanation": self.explanation,
            "score": self.score,
            "reason": self.reason,
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class Answer:
    """What a checker grades: the part of a reply that answers one part.

    ``text`` is the section of the latest reply attributed to the part (the
    whole reply when it has no per-part headings); ``reply`` is that whole
    reply; ``history`` holds the sections from earlier attempts at the same
    part, oldest first (code patches accumulate over them). ``shared`` is set
    when ``text`` is a whole reply without part headings that several parts
    read (see :func:`evalkit.grading.read_parts`).
    """

    text: str
    reply: str = ""
    history: tuple[str, ...] = ()
    shared: bool = False  # a reply several parts read: only an answer naming this part's quantity counts
    restated: str = ""  # the reply's summary restatement of the part, graded beside ``text``


@dataclass(frozen=True)
class CheckContext:
    """The spec a check runs under, and shared resources such as the sandbox pool."""

    problem: Problem
    part: Part
    sandbox: Any = None
    time_limit_s: float = 10.0


@runtime_checkable
class Checker(Protocol):
    """One kind of check. Implementations are registered with :func:`register_checker`."""

    kind: ClassVar[str]
    params_model: ClassVar[type[CheckParams]]

    def check(self, params: Any, answer: Answer, ctx: CheckContext) -> CheckResult: ...


_REGISTRY: dict[str, Checker] = {}


def register_checker(cls: type[Any]) -> type[Any]:
    """Class decorator: register a checker class under its ``kind``."""
    instance = cls()
    if not isinstance(instance, Checker):
        raise TypeError(f"{cls.__name__} does not implement the Checker protocol")
    _REGISTRY[cls.kind] = instance
    return cls


# Each built-in kind and the module that registers it. A lookup imports only the module of the kind
# it asks for, so grading a formula does not import torch (``code``), validating one does not import
# sympy (see evalkit/checks/math_kinds.py) and listing the kinds imports nothing; tests/test_startup.py
# checks this table against what the modules register.
_BUILTIN_KINDS = {
    "exact": "text",
    "normalized": "text",
    "regex": "text",
    "choice": "text",
    "numeric": "text",
    "formula": "math_kinds",  # their parameters, without sympy; their grading on first use
    "complexity": "math_kinds",
    "vector": "math_kinds",
    "condition": "math_kinds",
    "criteria": "criteria",
    "code": "code_params",  # its parameters, validated without torch when they can be; its grading on first use
}


def _load_builtin(kind: str) -> None:
    """Import the module that registers the built-in ``kind`` (a dictionary lookup after the first time)."""
    module = _BUILTIN_KINDS.get(kind)
    if module is not None:
        import importlib

        importlib.import_module(f"evalkit.checks.{module}")


def checker_kinds() -> list[str]:
    """The known check kinds (built-in and registered), sorted; imports no checker module."""
    return sorted({*_BUILTIN_KINDS, *_REGISTRY})


def get_checker(kind: str) -> Checker:
    """The checker registered as ``kind``; a SpecError naming the known kinds otherwise."""
    _load_builtin(kind)
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise SpecError(
            f"unknown check kind {kind!r}; expected one of {', '.join(checker_kinds())}"
        ) from None


def bounded_check(fn: Any, *args: Any, time_limit_s: float) -> CheckResult:
    """``fn(*args)`` (a :class:`CheckResult`) computed in a bounded math worker; a timeout or a crashed
    worker is ``unscored`` with its reason, never a verdict."""
    from evalkit.bounded import BoundedTimeout, WorkerCrashed, run_bounded

    try:
        result: CheckResult = run_bounded(fn, *args, time_limit_s=time_limit_s)
        return result
    except BoundedTimeout:
        return CheckResult.unscored(
            "answer_timeout",
            f"grading took longer than {time_limit_s:g} s and was stopped; the answer may be too complex to compare",
        )
    except WorkerCrashed as err:
        return CheckResult.unscored("grader_crash", f"the math worker stopped while grading: {err}")
