"""Units, percentages, degrees and word answers: what a value is written *in*.

A unit is a trailing ``\\text{...}``/``\\mathrm{...}`` word after a value
(``5\\,\\text{m}``, ``\\frac{1}{3}\\text{ cm}``); ``percent`` and ``degrees``
as such words mean ``\\%`` and ``^\\circ``. Spellings are normalised
(``m``, ``meter``, ``metres``); two different units are compared through
:mod:`sympy.physics.units` (imported on first use: ``500 cm`` is ``5 m``,
``3 hours`` is ``180 minutes``), and units of different dimensions never
match. Unknown words are units too, compared by spelling.

Word answers (``\\text{odd}``, ``\\text{does not exist}``) are compared by
their normalised spelling, with a few synonyms for "does not exist" and
"undefined"; ``infinity`` is the value ``oo``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import sympy

__all__ = [
    "DEGREE_WORDS",
    "NON_FINITE_WORDS",
    "PERCENT_WORDS",
    "normalize_unit",
    "normalize_word",
    "unit_factor",
]

PERCENT_WORDS = frozenset({"percent", "per cent", "pct", "%"})
DEGREE_WORDS = frozenset({"degree", "degrees", "deg", "°"})
# Word answers that say a value does not exist (a finite expected value never equals them).
_SYNONYMS = {
    "dne": "does not exist",
    "doesnotexist": "does not exist",
    "doesntexist": "does not exist",
    "nonexistent": "does not exist",
    "undefined": "undefined",
    "notdefined": "undefined",
    "nan": "undefined",
}
NON_FINITE_WORDS = frozenset({"does not exist", "undefined"})
# Word answers that mean the empty set.
EMPTY_WORDS = frozenset(
    {
        "no solution",
        "no solutions",
        "no real solution",
        "no real solutions",
        "none",
        "empty set",
        "the empty set",
    }
)
# Spellings sympy.physics.units does not know, mapped to names it does.
_UNIT_ALIASES = {
    "metre": "meter",
    "metres": "meter",
    "meters": "meter",
    "sec": "second",
    "secs": "second",
    "seconds": "second",
    "hr": "hour",
    "hrs": "hour",
    "hours": "hour",
    "min": "minute",
    "mins": "minute",
    "minutes": "minute",
    "lb": "pound",
    "lbs": "pound",
    "kgs": "kg",
    "grams": "gram",
    "days": "day",
    "litre": "liter",
    "litres": "liter",
    "liters": "liter",
}
_UNIT_TEXT = re.compile(r"^[A-Za-zµμ°][A-Za-z0-9µμ°/^.\- ]*$")


def normalize_unit(text: str) -> str | None:
    """A unit word's canonical spelling, or None if ``text`` does not look like a unit."""
    text = text.strip().strip(".")
    if not text or not _UNIT_TEXT.match(text) or len(text) > 24 or " " in text.strip():
        return None
    return _UNIT_ALIASES.get(text, text)


def normalize_word(text: str) -> str:
    """A word answer's spelling for comparison: lower case, no punctuation or extra space."""
    words = re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()
    joined = " ".join(words)
    return _SYNONYMS.get(joined.replace(" ", "").replace("'", ""), joined)


@lru_cache(maxsize=256)
def _quantity(name: str) -> Any:
    from sympy.physics import units  # about 1 s to import: only when two units differ

    value = getattr(units, name, None)
    return value if isinstance(value, units.Quantity) else None


def unit_factor(answer_unit: str, expected_unit: str) -> sympy.Expr | bool | None:
    """How many expected units one answer unit is (``cm`` in ``m``: 1/100).

    Returns 1 for the same unit, a number for convertible units, False when the
    units measure different things (or are unknown words spelled differently),
    and None when sympy cannot tell.
    """
    if answer_unit == expected_unit:
        return sympy.Integer(1)
    a, e = _quantity(answer_unit), _quantity(expected_unit)
    if a is None or e is None:
        return False
    from sympy.physics import units

    try:
        converted = units.convert_to(a, e)
    except (ValueError, TypeError, AttributeError):
        return None
    factor = sympy.simplify(converted / e)
    return factor if factor.is_number and factor.is_positive else False
