"""The math kinds as a spec sees them: their parameters, and checkers that load their grading on first use.

``formula``, ``complexity``, ``vector`` and ``condition`` read answers with sympy
(:mod:`evalkit.latex`), which takes half a second to import. Validating a rubric needs only
their parameters, so these live here, without sympy, and the registry's lookup of a math
kind imports this module alone: ``evalkit validate`` and a run's loading of its rubrics import
no sympy. The checker registered here for each kind imports the kind's own module the first
time it grades (:mod:`evalkit.checks.formula` and its siblings; that module then registers its
checker in this one's place) and hands the check to it. The parameter classes are the same
objects under both names (``evalkit.checks.formula.FormulaParams`` is this module's).
"""

from __future__ import annotations

import importlib
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from evalkit.checks.base import _REGISTRY, Answer, CheckContext, CheckParams, CheckResult, register_checker

__all__ = [
    "ComplexityParams",
    "ConditionParams",
    "FormulaParams",
    "MathParams",
    "SymbolKindName",
    "VectorParams",
]

SymbolKindName = Literal["dimension", "integer", "scalar", "vector", "matrix", "function"]


class MathParams(CheckParams):
    """Parameters shared by the ``formula``, ``complexity``, ``vector`` and ``condition`` kinds."""

    expected: str | None = None
    accept: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    symbols: dict[str, SymbolKindName] = Field(default_factory=dict)
    anchor: str | None = None
    time_limit_s: float | None = Field(default=None, gt=0, le=300)

    @field_validator("anchor")
    @classmethod
    def _compiles(cls, anchor: str | None) -> str | None:
        if anchor is not None:
            try:
                re.compile(anchor)
            except re.error as err:
                raise ValueError(f"anchor is not a valid regular expression: {err}") from None
        return anchor


class FormulaParams(MathParams):
    tolerance: float = Field(default=1e-6, ge=0)
    percent: Literal["ratio", "points", "either"] = "ratio"
    units: Literal["auto", "require", "ignore"] = "auto"


class ComplexityParams(MathParams):
    strict_notation: bool = False
    require_notation: bool = False


class VectorParams(MathParams):
    tolerance: float = Field(default=1e-6, ge=0)
    orientation: Literal["any", "strict"] = "any"


class ConditionParams(MathParams):
    pass


class _Deferred:
    """A math kind's checker until its module is imported: that module's checker then takes its place."""

    kind: ClassVar[str]
    params_model: ClassVar[type[CheckParams]]
    module: ClassVar[str]

    def check(self, params: Any, answer: Answer, ctx: CheckContext) -> CheckResult:
        importlib.import_module(self.module)  # registers the kind's own checker, in this one's place
        checker = _REGISTRY[self.kind]
        if checker is self:
            raise RuntimeError(f"{self.module} did not register the {self.kind!r} check")
        result: CheckResult = checker.check(params, answer, ctx)
        return result


def _deferred(kind: str, params: type[CheckParams]) -> type[_Deferred]:
    module = f"evalkit.checks.{kind}"
    doc = f"The ``{kind}`` kind, graded by :mod:`{module}` (imported on first use)."
    namespace = {"kind": kind, "params_model": params, "module": module, "__doc__": doc}
    return register_checker(type(f"Deferred{kind.title()}Checker", (_Deferred,), namespace))


for _kind, _params in (
    ("formula", FormulaParams),
    ("complexity", ComplexityParams),
    ("vector", VectorParams),
    ("condition", ConditionParams),
):
    _deferred(_kind, _params)  # each kind's own module imports this one first, then takes its place
