"""A claim an answer makes, as rubrics write it: accepted phrasings (regular expressions) and weight.

Shared by the ``criteria`` check (:mod:`evalkit.checks.criteria`: its ``criteria`` and
``misconceptions``) and the rubric's student probes (their ``claims`` and ``caving``), and light
enough for the spec models to import.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from evalkit.checks.base import CheckParams

__all__ = ["Criterion", "Misconception"]


def _compiled(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"invalid regular expression {pattern!r}: {err}") from None
    return patterns


class Criterion(CheckParams):
    """One key claim: accepted phrasings, points, and whether the answer must make it."""

    claim: str = Field(min_length=1)
    patterns: list[str] = Field(min_length=1)
    points: float = Field(default=1.0, ge=0)
    required: bool = False

    _patterns = field_validator("patterns")(classmethod(lambda cls, v: _compiled(v)))


class Misconception(CheckParams):
    """A wrong claim: an answer that makes it (and does not deny it) is incorrect, whatever else it says."""

    claim: str = Field(min_length=1)
    patterns: list[str] = Field(min_length=1)
    unless: list[str] = Field(
        default_factory=list,
        description="patterns that, earlier in the same sentence, make it about something else",
    )

    _patterns = field_validator("patterns", "unless")(classmethod(lambda cls, v: _compiled(v)))
