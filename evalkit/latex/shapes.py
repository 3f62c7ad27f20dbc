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

:func:`named_values`, :func:`as_set` and :func:`constraint_of` read a shape as the
values it gives (``k = 45, n = 2`` as ``{k: [45], n: [2]}``) or the set it allows
(``x < 1 \\text{ or } x > 2`` as ``(-oo, 1) ∪ (2, oo)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy
from sympy.core.function import AppliedUndef

from evalkit.latex.answers import Reading
from evalkit.latex.brackets import tuple_of
from evalkit.latex.chain import ParsedMath, ParsedSide
from evalkit.latex.nodes import ASYMPTOTIC_CLASSES, OPAQUE_OPERATORS, Ratio
from evalkit.latex.sets import Undecidable, constraint_set, intersect
from evalkit.latex.values import Policy

__all__ = [
    "EQUAL_RELATIONS",
    "ORDER_RELATIONS",
    "Shape",
    "as_set",
    "constraint_of",
    "named_values",
    "shape_of",
    "value_kind",
    "variable_of",
]

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
    joiner: str = "and"

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
    return (
        side.ok
        and isinstance(value, sympy.Basic)
        and value.has(*OPAQUE_OPERATORS, *ASYMPTOTIC_CLASSES, AppliedUndef)
    )


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
        return Shape("named", chain.source, chain, _solved_for_operator(first, last))
    return Shape("equation", chain.source, chain, last)


def value_before_bound(shape: Shape) -> Shape | None:
    """The value of a chain that states it and then bounds it by a number: ``∂L/∂z = p - 1 ≤ 0`` is
    the value ``p - 1`` (of ``∂L/∂z``) with a remark on its sign. None for any other shape, e.g. a
    bound by an expression (``sim = e^{s} > x``) or an inequality first (``0 < η = 1/L``)."""
    if shape.kind != "constraint" or shape.chain is None:
        return None
    sides, relations = shape.chain.sides, shape.chain.relations
    equal = next((k for k, r in enumerate(relations) if r != "="), len(relations))
    if equal == 0 or any(r not in ORDER_RELATIONS for r in relations[equal:]):
        return None
    bounds = sides[equal + 1 :]
    if not all(b.ok and isinstance(b.value, sympy.Expr) and b.value.is_number for b in bounds):
        return None
    kept = sides[: equal + 1]
    return _chain_shape(ParsedMath(" = ".join(s.source for s in kept), kept, relations[:equal]))


def _solved_for_operator(first: ParsedSide, last: ParsedSide) -> ParsedSide:
    """The value an ``E[.] = v`` chain gives its operator: ``v`` itself, or, when the first side is
    built from it (``2E[q^T k] = dμ²``, ``Var(x)^2 = d``), the solution of the equation for it."""
    value = first.value
    if isinstance(value, (*OPAQUE_OPERATORS, AppliedUndef)) or value.has(*ASYMPTOTIC_CLASSES) or not last.ok:
        return last
    solved = solved_for(first, last)
    if solved is None:
        return ParsedSide(
            f"{first.source} = {last.source}",
            error="the first side is not the quantity alone, and cannot be solved for it",
        )
    return solved


def solved_for(first: ParsedSide, last: ParsedSide, names: Sequence[Any] = ()) -> ParsedSide | None:
    """``first = last`` solved for the quantity ``first`` is built from (``s^2``, ``2E[q^T k]``): one of
    ``names`` inside it, else the one operator it applies; None when it is that quantity alone, is built
    from none (or several), or ``last`` uses it too."""
    value = first.value
    if (
        not first.ok
        or not last.ok
        or not isinstance(value, sympy.Expr)
        or not isinstance(last.value, sympy.Expr)
    ):
        return None
    if value.has(*ASYMPTOTIC_CLASSES):
        return None
    operators = value.atoms(*OPAQUE_OPERATORS, AppliedUndef)
    unknown = next((n for n in names if value != n and value.has(n)), None)
    if unknown is None and len(operators) == 1 and value not in operators:
        unknown = next(iter(operators))
    if unknown is None or last.value.has(unknown):
        return None
    return solved_side(first, last, unknown)


def solved_side(first: ParsedSide, last: ParsedSide, unknown: Any) -> ParsedSide:
    """``first = last`` solved for ``unknown`` (a symbol or an operator such as ``E[q^T k]``), under its
    assumptions: one solution is the side; several are a set (no single value equals it); none is unreadable."""
    source = f"{first.source} = {last.source}"
    try:
        roots = sympy.solve(sympy.Eq(first.value, last.value), unknown)
    except (NotImplementedError, ValueError, TypeError):
        roots = []
    if len(roots) == 1:
        return ParsedSide(source, roots[0])
    if roots:
        return ParsedSide(source, sympy.FiniteSet(*roots))
    return ParsedSide(source, error=f"cannot solve it for {unknown}")


def shape_of(reading: Reading) -> Shape:
    """Classify a reading (see the module docstring)."""
    if reading.word is not None:
        return Shape("word", reading.source, word=reading.word)
    if reading.several:
        items = tuple(_chain_shape(c) for c in reading.chains)
        return Shape("several", reading.source, items=items, joiner=reading.joiner)
    return _chain_shape(reading.chains[0])


def listed_values(value: Any) -> list[Any]:
    """A value as the values it lists: a ±-set or finite set, a bare list, or itself."""
    if isinstance(value, sympy.FiniteSet):
        return list(value.args)
    if isinstance(value, sympy.MatrixBase):
        return list(value)
    return [value]


def named_values(shape: Shape) -> dict[Any, list[Any]] | None:
    """``k = 45, n = 2`` as ``{k: [45], n: [2]}``; unnamed values under ``None``; None if not values."""
    items = shape.items if shape.kind == "several" else (shape,)
    out: dict[Any, list[Any]] = {}
    for item in items:
        if item.side is None or not item.side.ok or item.kind not in ("value", "assignment", "named"):
            return None
        value = item.value
        kind = value_kind(value, item.side)
        if (kind == "set" and not isinstance(value, sympy.FiniteSet)) or kind in ("ratio",):
            return None
        name = item.name if item.kind == "assignment" else None
        if isinstance(name, sympy.MatrixBase):
            return None
        spread = kind == "list" or isinstance(value, sympy.FiniteSet)
        out.setdefault(name, []).extend(listed_values(value) if spread else [tuple_of(value)])
    return out


def as_set(
    shape: Shape, var: sympy.Symbol | None, policy: Policy, *, intervals: bool = True
) -> sympy.Set | None:
    """The set of values an answer allows for ``var``, or None if it is not one.

    With ``intervals``, a bracketed pair such as ``(0, 1)`` is read as an interval.
    """
    if shape.kind == "constraint":
        return constraint_of(shape, policy, var)[1]
    if shape.kind == "several" and all(item.kind == "constraint" for item in shape.items):
        parts = [constraint_of(item, policy, var) for item in shape.items]
        if any(p[1] is None for p in parts) or len({p[0] for p in parts}) != 1 or shape.joiner == "mixed":
            return None
        if shape.joiner == "or":
            return sympy.Union(*[p[1] for p in parts])  # x < 1 or x > 2
        allowed = parts[0][1]
        for _, part in parts[1:]:
            allowed = intersect(allowed, part)  # x >= 0 and x < 1
        return allowed
    if shape.kind == "value" and shape.side is not None and shape.side.ok:
        value = policy.substitute(shape.value)
        if isinstance(value, sympy.Set):
            return value
        pair = isinstance(value, sympy.MatrixBase) and len(value) == 2
        if intervals and pair and shape.side.brackets in ("()", "[]"):
            return sympy.Interval(
                *value, left_open=shape.side.brackets == "()", right_open=shape.side.brackets == "()"
            )
    named = named_values(shape)
    if named is None or len(named) != 1:
        return None
    ((name, values),) = named.items()
    if name is not None and var is not None and name != var:
        return None
    return sympy.FiniteSet(*[policy.substitute(v) for v in values])


def variable_of(shape: Shape) -> sympy.Symbol | None:
    """What a constraint is about: its one lone-symbol side that no other side uses, else its only symbol."""
    assert shape.chain is not None
    sides = shape.chain.sides
    lone = [s.value for s in sides if s.ok and isinstance(s.value, sympy.Symbol)]
    for var in lone:
        others = [s for s in sides if s.value != var]
        if all(not (isinstance(s.value, sympy.Basic) and s.value.has(var)) for s in others if s.ok):
            return var
    symbols: set[sympy.Basic] = set()
    for s in sides:
        if s.ok and isinstance(s.value, sympy.Basic) and not isinstance(s.value, sympy.Set):
            symbols |= s.value.free_symbols
    return symbols.pop() if len(symbols) == 1 else None


def constraint_of(
    shape: Shape, policy: Policy, var: sympy.Symbol | None = None
) -> tuple[Any, sympy.Set | None]:
    assert shape.chain is not None
    bad = [s for s in shape.chain.sides if not s.ok]
    if bad:
        raise Undecidable(f"could not read '{bad[0].source}': {bad[0].error}")
    var = var or variable_of(shape)
    if var is None:
        return None, None
    relations = list(shape.chain.relations)
    values = []
    for k, side in enumerate(shape.chain.sides):
        value = policy.substitute(side.value)
        member = k > 0 and relations[k - 1] in ("in", "notin")
        if (
            member
            and side.brackets in ("()", "[]")
            and isinstance(value, sympy.MatrixBase)
            and len(value) == 2
        ):
            open_ = side.brackets == "()"
            value = sympy.Interval(value[0], value[1], left_open=open_, right_open=open_)  # x in (0, 1)
        values.append(value)
    return var, constraint_set(values, relations, var)
