"""What an answer states, by shape: the first step of every comparison.

:func:`shape_of` classifies a :class:`~evalkit.latex.answers.Reading`:

==============  ==============================================================
``word``        ``\\text{odd}``, ``does not exist``
``several``     ``k = 45, n = 2``, ``6 \\text{ and } 8`` (each item has a shape)
``value``       one side: a number or formula, vector/tuple, set, interval, ratio, list
``named``       ``\\mathbb{E}[q^\\top k] = d\\mu^2``: an operator or call named, then its value
``assignment``  ``x = 5``, ``(x, y) = (1, 2)``: a name no other side uses, given a value
``equation``    ``2x + 4y - 3 = 0``: any other chain of ``=`` (for an answer, also a
                derivation such as ``bd \\cdot hq = bd^2``)
``constraint``  ``x > 5``, ``-793 < a < 10``, ``x \\neq 3``, ``a \\in (0, 1)``
``relation``    ``<<``, ``\\propto``, ``\\sim``: relations no value comparison covers
==============  ==============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy
from sympy.core.function import AppliedUndef

from evalkit.latex.answers import Reading
from evalkit.latex.chain import ParsedMath, ParsedSide
from evalkit.latex.nodes import ASYMPTOTIC_CLASSES, OPAQUE_OPERATORS, Ratio

__all__ = ["EQUAL_RELATIONS", "ORDER_RELATIONS", "Shape", "shape_of", "value_kind"]

EQUAL_RELATIONS = ("=", "~", "≈")
ORDER_RELATIONS = ("<", ">", "<=", ">=", "!=", "in", "notin")


@dataclass(frozen=True)
class Shape:
    """One answer's shape; ``side`` is its value side, ``name`` what an assignment names."""

    kind: str
    source: str
    chain: ParsedMath | None = None
    side: ParsedSide | None = None
    name: Any = None
    items: tuple[Shape, ...] = field(default=())
    word: str | None = None

    @property
    def value(self) -> Any:
        return self.side.value if self.side is not None else None

    @property
    def equation(self) -> Any:
        """``lhs - rhs`` of an equation's last two sides (or an assignment's)."""
        assert self.chain is not None
        lhs, rhs = self.chain.sides[-2], self.chain.sides[-1]
        return lhs.value - rhs.value


def value_kind(value: Any, side: ParsedSide | None = None) -> str:
    """``scalar``, ``set``, ``tuple``, ``list`` (a bare comma list), ``ratio`` or ``shape`` (ℝ^{...})."""
    if isinstance(value, sympy.Set):
        return "set"
    if isinstance(value, sympy.MatrixBase):
        return "list" if side is not None and side.brackets == "" else "tuple"
    if isinstance(value, Ratio):
        return "ratio"
    return "scalar"


def _lone(side: ParsedSide) -> bool:
    """A name alone (``x``), or a tuple of names (``(x, y)``)."""
    if not side.ok:
        return False
    value = side.value
    if isinstance(value, sympy.MatrixBase):
        return all(isinstance(v, sympy.Symbol) for v in value)
    return isinstance(value, sympy.Symbol) and value.is_commutative


def _symbols(side: ParsedSide) -> set[sympy.Basic]:
    value = side.value
    if isinstance(value, sympy.MatrixBase):
        return set().union(*(v.free_symbols for v in value))
    return set(value.free_symbols) if isinstance(value, sympy.Basic) else set()


def _names_an_operator(side: ParsedSide) -> bool:
    value = side.value
    return side.ok and isinstance(value, sympy.Basic) and value.has(*OPAQUE_OPERATORS, *ASYMPTOTIC_CLASSES, AppliedUndef)


def _chain_shape(chain: ParsedMath) -> Shape:
    sides, relations = chain.sides, chain.relations
    if not relations:
        return Shape("value", chain.source, chain, sides[0])
    if any(r in ORDER_RELATIONS for r in relations):
        if all(r in ORDER_RELATIONS or r == "=" for r in relations):
            return Shape("constraint", chain.source, chain)
        return Shape("relation", chain.source, chain)
    if not all(r in EQUAL_RELATIONS for r in relations):
        return Shape("relation", chain.source, chain)
    first, last = sides[0], sides[-1]
    if _lone(first) and not any(_symbols(first) & _symbols(s) for s in sides[1:]):
        return Shape("assignment", chain.source, chain, last, name=first.value)
    if _names_an_operator(first):
        return Shape("named", chain.source, chain, last)
    return Shape("equation", chain.source, chain, last)


def shape_of(reading: Reading) -> Shape:
    """Classify a reading (see the module docstring)."""
    if reading.word is not None:
        return Shape("word", reading.source, word=reading.word)
    if reading.several:
        items = tuple(_chain_shape(c) for c in reading.chains)
        return Shape("several", reading.source, items=items)
    return _chain_shape(reading.chains[0])
