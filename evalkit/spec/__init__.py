"""Specs: problems, rubrics, prompts and cassettes, loaded from YAML with file:line errors."""

from evalkit.spec.loading import load_model, read_yaml
from evalkit.spec.models import CheckSpec, Example, Given, Part, PartRubric, Problem, Rubric, Symbol
from evalkit.spec.prompts import PromptSet, load_prompts
from evalkit.spec.suite import LoadedProblem, Suite, load_suite

__all__ = [
    "CheckSpec",
    "Example",
    "Given",
    "LoadedProblem",
    "Part",
    "PartRubric",
    "Problem",
    "PromptSet",
    "Rubric",
    "Suite",
    "Symbol",
    "load_model",
    "load_prompts",
    "load_suite",
    "read_yaml",
]
