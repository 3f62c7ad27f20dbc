"""Brackets: groups, tuples, intervals and set literals.

* ``(x)`` and ``[x]`` group; ``(a, b, c)`` and ``[a, b, c]`` are comma lists
  (a vector, or the arguments of a call);
* a two-item list is an interval when its brackets do not match
  (``[0, 1)``, ``(0, 1]``) or an end is infinite (``(1, +\\infty)``); a
  two-item list in matching brackets (``(0, 1)``, ``[2, 5]``) stays a pair,
  and the comparison decides whether it is a point or an interval;
* ``\\{1, 2, 3\\}`` is a set (``\\{\\}`` and ``\\emptyset`` the empty one); its
  elements may be tuples (``\\{(1, 2), (3, 4)\\}``).
"""

from __future__ import annotations

from typing import Any

import sympy

from evalkit.latex.cursor import CommaList, Cursor

__all__ = ["BracketAtoms", "interval_of", "tuple_of"]

_CLOSERS = {"(": ")", "[": "]"}


def interval_of(ends: tuple[Any, Any], brackets: str) -> sympy.Set:
    """The interval ``brackets[0] a, b brackets[1]``; raises ValueError for ends that are not real."""
    a, b = ends
    for end in (a, b):
        if isinstance(end, sympy.MatrixBase | sympy.Set) or end.is_extended_real is False:
            raise ValueError("an interval needs two real ends")
    return sympy.Interval(a, b, left_open=brackets[0] == "(", right_open=brackets[1] == ")")


def tuple_of(value: Any) -> Any:
    """A vector as a hashable sympy Tuple (for sets of points); other values unchanged."""
    if isinstance(value, sympy.MatrixBase):
        return sympy.Tuple(*value)
    return value


class BracketAtoms(Cursor):
    """Reads bracketed atoms at the cursor."""

    def parse_group(self) -> Any:
        start = self.i
        open_tok = self.next()
        expected_close = _CLOSERS[open_tok.text]
        if self.peek().is_char(")", "]"):
            raise self.error("empty brackets")
        items = [self.parse_sum()]
        while self.peek().is_char(","):
            self.next()
            items.append(self.parse_sum())
        close_tok = self.expect_char(")", "]")
        brackets = open_tok.text + close_tok.text
        if len(items) == 2:
            ends = (self.finish(items[0]), self.finish(items[1]))
            infinite = any(e in (sympy.oo, -sympy.oo) for e in ends if isinstance(e, sympy.Basic))
            if close_tok.text != expected_close or infinite:
                try:
                    return interval_of(ends, brackets)
                except ValueError as err:
                    raise self.error(str(err), open_tok) from None
        if close_tok.text != expected_close:
            raise self.error(f"'{open_tok.text}' is closed by '{close_tok.text}'", close_tok)
        if len(items) == 1:
            return items[0]
        self.last_list = (start, self.i, brackets)
        return CommaList(tuple(items), brackets)

    def set_literal(self) -> Any:
        """``\\{a, b\\}`` after its opener: a sympy FiniteSet."""
        self.next()
        if self.peek().is_char("\\}"):
            self.next()
            return sympy.EmptySet
        items = [self.parse_sum()]
        while self.peek().is_char(","):
            self.next()
            items.append(self.parse_sum())
        self.expect_char("\\}")
        elements = []
        for item in items:
            value = self.finish(item)
            if isinstance(value, sympy.Set):
                raise self.error("sets of sets are not supported")
            elements.append(tuple_of(value))
        return sympy.FiniteSet(*elements)
