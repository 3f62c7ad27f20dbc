"""Declared symbols: what a name in an answer means.

A problem declares symbols with a kind (``dimension``, ``integer``, ``scalar``,
``vector``, ``matrix``, ``function``) and optionally a LaTeX spelling. The
table maps every spelling to one sympy object:

* ``dimension`` and ``integer`` symbols are positive (``sqrt(d^2) = d``);
* ``scalar`` and ``vector`` symbols are real (a vector only matters under a
  transpose: ``q^T k`` is ``Dot(q, k)``);
* ``matrix`` symbols do not commute (``Q K^T`` is not ``K^T Q``);
* ``function`` symbols are applied: ``phi(x)``.

Undeclared names are allowed. They are real, or positive when the table is
built with ``default_positive=True`` (complexity checks, where every
quantity is a size).

Example::

    table = SymbolTable([SymbolSpec("d_model", "dimension", "d_{model}")])
    table.symbol("d_model")   # Symbol('d_model', positive=True)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sympy

from evalkit.latex.lexer import LatexSyntaxError, raw_text, tokenize

__all__ = ["SYMBOL_KINDS", "SymbolSpec", "SymbolTable", "canonical_name", "parse_symbol_list"]

SYMBOL_KINDS = ("dimension", "integer", "scalar", "vector", "matrix", "function")
_GREEK_ALIASES = {"varepsilon": "epsilon", "varphi": "phi", "vartheta": "theta", "varrho": "rho"}


@dataclass(frozen=True)
class SymbolSpec:
    """A declared symbol: its name, kind, LaTeX spelling and optional sign."""

    name: str
    kind: str = "dimension"
    latex: str | None = None
    positive: bool | None = None

    def __post_init__(self) -> None:
        if self.kind not in SYMBOL_KINDS:
            raise ValueError(
                f"symbol {self.name!r}: kind {self.kind!r} is not one of {', '.join(SYMBOL_KINDS)}"
            )


def canonical_name(spelling: str) -> str:
    """The name a LaTeX spelling stands for: ``d_{\\text{model}}`` gives ``d_model``, ``\\mu`` gives ``mu``."""
    tokens = [t for t in tokenize(spelling) if t.kind != "EOF"]
    if not tokens:
        raise LatexSyntaxError(f"empty symbol spelling {spelling!r}")
    head, rest = tokens[0], tokens[1:]
    if head.kind in ("IDENT", "WORD"):
        name = head.text
    elif head.kind == "CMD":
        name = _GREEK_ALIASES.get(head.text, head.text)
    else:
        raise LatexSyntaxError(f"symbol spelling {spelling!r} does not start with a name")
    if rest and rest[0].is_char("_"):
        sub = rest[1:]
        if sub and sub[0].is_char("{") and sub[-1].is_char("}"):
            sub = sub[1:-1]
        name += "_" + raw_text(sub)
    elif rest and all(t.is_char("'") for t in rest):
        name += "'" * len(rest)
    elif rest:
        raise LatexSyntaxError(f"symbol spelling {spelling!r} is not a single name")
    return name


def parse_symbol_list(items: Iterable[str]) -> list[SymbolSpec]:
    """Read ``['b n d', 'mu:scalar', 'q:vector']`` (CLI style) into specs; bare names are dimensions."""
    specs: list[SymbolSpec] = []
    for item in items:
        for word in item.replace(",", " ").split():
            name, _, kind = word.partition(":")
            specs.append(SymbolSpec(name, kind or "dimension"))
    return specs


class SymbolTable:
    """Resolves names and spellings to sympy symbols; remembers which names were not declared."""

    def __init__(self, specs: Iterable[SymbolSpec] = (), *, default_positive: bool = False) -> None:
        self.default_positive = default_positive
        self._specs: dict[str, SymbolSpec] = {}
        self._aliases: dict[str, str] = {}
        self._cache: dict[str, sympy.Basic] = {}
        self.undeclared: set[str] = set()
        for spec in specs:
            self._specs[spec.name] = spec
            self._aliases[spec.name] = spec.name
            if spec.latex:
                self._aliases[canonical_name(spec.latex)] = spec.name

    @property
    def names(self) -> frozenset[str]:
        """Every declared spelling (names and canonical LaTeX spellings)."""
        return frozenset(self._aliases)

    def spec(self, name: str) -> SymbolSpec | None:
        """The declaration behind ``name`` (a name or a canonical spelling), if any.

        A single letter in the other case stands for a declared dimension when that spelling is not
        declared itself: a summary writing ``O(n^2 d)`` for the problem's ``N`` and ``D``.
        """
        key = self._aliases.get(_GREEK_ALIASES.get(name, name))
        if key is None and len(name) == 1 and name.isascii() and name.isalpha():
            other = self._specs.get(self._aliases.get(name.swapcase(), ""))
            if other is not None and other.kind == "dimension":
                return other
        return self._specs[key] if key is not None else None

    def is_declared(self, name: str) -> bool:
        return self.spec(name) is not None

    def kind(self, name: str) -> str | None:
        spec = self.spec(name)
        return spec.kind if spec else None

    def symbol(self, name: str) -> sympy.Basic:
        """The sympy object for ``name``: a Symbol, or an undefined function for ``function`` symbols."""
        spec = self.spec(name)
        key = spec.name if spec else _GREEK_ALIASES.get(name, name)
        if key in self._cache:
            return self._cache[key]
        if spec is None:
            self.undeclared.add(key)
            sym: sympy.Basic = (
                sympy.Symbol(key, positive=True) if self.default_positive else sympy.Symbol(key, real=True)
            )
        elif spec.kind == "function":
            sym = sympy.Function(key)
        elif spec.kind == "matrix":
            sym = sympy.Symbol(key, commutative=False)
        elif spec.kind == "integer":
            sym = sympy.Symbol(key, positive=True, integer=True)
        elif spec.kind == "dimension":
            sym = sympy.Symbol(key, positive=True)
        elif spec.positive:
            sym = sympy.Symbol(key, positive=True)
        else:
            sym = sympy.Symbol(key, real=True)
        self._cache[key] = sym
        return sym

    def ordered(self, name: str) -> sympy.Symbol:
        """The vector ``name`` as a non-commuting symbol: its place in a product with a matrix counts."""
        key = f"{name}\u20d7"  # combining arrow: shown as the vector
        if key not in self._cache:
            self._cache[key] = sympy.Symbol(name, commutative=False)
        return self._cache[key]

    def transposed(self, name: str) -> sympy.Symbol:
        """A symbol for ``X^T`` when ``X`` is a matrix not multiplied into a dot product."""
        key = f"{name}^T"
        if key not in self._cache:
            self._cache[key] = sympy.Symbol(key, commutative=False)
        return self._cache[key]
