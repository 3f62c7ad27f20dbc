"""Comparing two values under a check's policies.

:func:`compare_sides` compares two scalar sides: decimals within ``tolerance``;
``percent`` (``ratio``: ``28\\%`` is ``0.28``; ``points``: a bare number is in
percent, ``28`` is ``28\\%``; ``either``); ``units`` (``auto``: a unit on both
sides must agree, after conversion; ``require``: the answer must carry the
expected unit; ``ignore``); degrees (``30^\\circ`` equals ``30`` and
``\\pi/6``); and non-finite values (``\\infty`` equals only ``\\infty``).
A :class:`Verdict` is True, False (with what differs) or None (undecided).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sympy

from evalkit.latex.chain import ParsedSide
from evalkit.latex.equivalence import Comparison, compare_values
from evalkit.latex.nodes import show
from evalkit.latex.units import unit_factor

__all__ = ["Policy", "Verdict", "all_hold", "compare_sides", "is_non_finite", "side_of"]

_NON_FINITE = (sympy.oo, -sympy.oo, sympy.zoo, sympy.nan)


@dataclass(frozen=True)
class Verdict:
    """``equal`` is True, False or None (undecided); ``note`` says why, for a person.

    ``reason`` tags an undecided verdict: ``undecided`` or ``answer_parse_error``;
    ``compared`` holds the two scalar values a comparison was made on (after
    substitutions, unit conversion and the percent or degree reading).
    """

    equal: bool | None
    note: str = ""
    comparison: Comparison | None = None
    reason: str = "undecided"
    compared: tuple[Any, Any] | None = None


@dataclass(frozen=True)
class Policy:
    """How values are compared: the check's tolerance, percent and unit policies, and substitutions."""

    tolerance: float | None = 1e-6
    percent: str = "ratio"
    units: str = "auto"
    substitute: Callable[[Any], Any] = field(default=lambda value: value)
    # grades an answer chain against an expected scalar (the formula check's own path)
    scalar: Callable[[Any, Any], Verdict] | None = None


def is_non_finite(value: Any) -> bool:
    return isinstance(value, sympy.Basic) and not isinstance(value, sympy.Set) and value.has(*_NON_FINITE)


def all_hold(verdicts: list[Verdict]) -> Verdict:
    """True when all are; otherwise the first False, else the first undecided."""
    for wanted in (False, None):
        for v in verdicts:
            if v.equal is wanted:
                return v
    return verdicts[0] if verdicts else Verdict(True)


def _readings(a: ParsedSide, e: ParsedSide, av: Any, ev: Any, policy: Policy) -> list[tuple[Any, Any, str]]:
    """The (answer, expected) value pairs the percent and degree policies allow."""
    pairs = [(av, ev, "")]
    if a.percent != e.percent:
        points = (av * 100 if a.percent else av, ev * 100 if e.percent else ev, " (read in percent)")
        pairs = {"ratio": pairs, "points": [points], "either": [*pairs, points]}[policy.percent]
    if a.degrees != e.degrees:
        # a degree sign on one side only: the same angle in radians, or the same number of degrees
        radians = [
            (x * sympy.pi / 180 if a.degrees else x, y * sympy.pi / 180 if e.degrees else y, " (in radians)")
            for x, y, _ in pairs
        ]
        pairs = radians + pairs
    return pairs


def compare_sides(a: ParsedSide, e: ParsedSide, policy: Policy) -> Verdict:
    """Compare two scalar sides under the policies (see the module docstring)."""
    av, ev = policy.substitute(a.value), policy.substitute(e.value)
    if is_non_finite(av) or is_non_finite(ev):
        if av == ev:
            return Verdict(True, "identical")
        if is_non_finite(av):
            return Verdict(False, f"the answer {show(av)} is not a finite value")
        return Verdict(False, f"the expected value is {show(ev)}; the answer {show(av)} is finite")
    converted = ""
    if a.unit and e.unit and policy.units != "ignore":
        factor = unit_factor(a.unit, e.unit)
        if factor is None:
            return Verdict(None, f"cannot convert {a.unit} to {e.unit}")
        if factor is False:
            return Verdict(
                False, f"the answer is in {a.unit}, the expected answer in {e.unit} (a different unit)"
            )
        if factor != 1:
            converted = f"{show(av)} {a.unit} is {show(av * factor)} {e.unit} in the expected unit"
        av = av * factor
    elif e.unit and not a.unit and policy.units == "require":
        return Verdict(False, f"the answer gives no unit; the expected answer is in {e.unit}")
    tolerance = policy.tolerance if (a.has_decimal or e.has_decimal) else None
    first: Verdict | None = None
    for x, y, how in _readings(a, e, av, ev, policy):
        comparison = compare_values(x, y, tolerance=tolerance)
        note = comparison.note + (how if comparison.equal else "")
        if converted:
            note = (
                f"{converted}, {'which is' if comparison.equal else 'not'} the expected {show(ev)} {e.unit}"
            )
        verdict = Verdict(comparison.equal, note, comparison if not converted else None, compared=(x, y))
        if comparison.equal:
            return verdict
        first = first or verdict
    assert first is not None
    return first


def side_of(value: Any, like: ParsedSide | None = None) -> ParsedSide:
    if like is None:
        return ParsedSide(show(value), value)
    return ParsedSide(
        like.source,
        value,
        has_decimal=like.has_decimal,
        percent=like.percent,
        degrees=like.degrees,
        unit=like.unit,
    )
