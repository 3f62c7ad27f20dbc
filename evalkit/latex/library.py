"""Integrals and limits, which evalkit's grammar does not read, through latex2sympy2_extended.

A side that evalkit's own parser rejects *and* holds ``\\int`` or ``\\lim`` is
handed to ``latex2sympy2_extended`` (the parser math-verify uses), evaluated
with sympy's ``doit()`` and accepted only if:

* the text is within evalkit's bounds (length, bracket nesting);
* every name in the result is one evalkit would read the same way (a single
  letter, a Greek letter or a declared name: ``d\\mu`` read as one symbol
  ``dmu`` is refused), mapped to the problem's symbols, with ``e`` and ``i``
  the constants unless declared;
* the integral or limit is actually evaluated (an unevaluated one stays a
  parse error, so the check says ``unscored``).

Everything else keeps evalkit's own parser, which reads the homework's notation
(declared symbols, transposes, norms, ``E[.]``) where this library does not.
"""

from __future__ import annotations

from typing import Any

import sympy

from evalkit.latex.cursor import MAX_DEPTH
from evalkit.latex.lexer import LatexSyntaxError, Token
from evalkit.latex.symbols import SymbolTable

__all__ = ["TRIGGERS", "read_with_library"]

TRIGGERS = frozenset({"int", "lim"})
_GREEK = frozenset(
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau upsilon "
    "phi chi psi omega".split()
)


def _nesting(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "})]":
            depth -= 1
    return deepest


def _name(symbol: sympy.Symbol, table: SymbolTable) -> Any:
    name = symbol.name
    if table.is_declared(name):
        return table.symbol(name)
    if name in ("e", "E"):
        return sympy.E
    if name == "i":
        return sympy.I
    if len(name) == 1 or name in _GREEK:
        return table.symbol(name)
    raise LatexSyntaxError(f"the integral or limit uses {name!r}, which evalkit would read differently")


def read_with_library(group: list[Token], source: str, table: SymbolTable) -> Any:
    """The value of an integral or limit side, or a :class:`LatexSyntaxError` saying why not."""
    start, end = group[0].pos, group[-1].pos + max(len(group[-1].text), 1)
    text = source[start : end + 1].strip()
    if _nesting(text) > MAX_DEPTH:
        raise LatexSyntaxError(f"expression nests deeper than {MAX_DEPTH} levels")
    try:
        from latex2sympy2_extended import latex2sympy
    except ImportError:  # pragma: no cover - a declared dependency
        raise LatexSyntaxError("integrals and limits need latex2sympy2_extended installed") from None
    try:
        value = latex2sympy(text)
    except Exception as err:  # the library's parse errors are not one class
        raise LatexSyntaxError(f"could not read the integral or limit: {str(err).splitlines()[0]}") from None
    if not isinstance(value, sympy.Expr):
        raise LatexSyntaxError("an integral or limit must be a value")
    value = value.xreplace({s: _name(s, table) for s in value.free_symbols if isinstance(s, sympy.Symbol)})
    value = value.doit()
    if value.has(sympy.Integral, sympy.Limit):
        raise LatexSyntaxError("sympy cannot evaluate this integral or limit; write its value")
    return value
