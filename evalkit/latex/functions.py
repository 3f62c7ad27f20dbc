"""Functions and big operators: ``\\sin^2 x``, ``\\sin^{-1} x``, ``\\log_b x``, ``\\sum``, ``\\prod``.

A function written without parentheses takes the letters that follow it as
its argument (``\\sin 2x`` is ``sin(2x)``, ``\\sin x \\cos x`` is
``sin(x) cos(x)``). A power between the name and the argument applies to the
value (``\\tan^2 x`` is ``tan(x)^2``) except ``^{-1}`` on a trigonometric
function, which is its inverse (``\\sin^{-1} x`` is ``asin(x)``).

``\\sum_{k=1}^{n} body`` and ``\\prod`` need an index and both bounds; the
body is the product that follows. They are evaluated by sympy: a finite
numeric range becomes a number, a symbolic one its closed form where sympy
finds one (otherwise the value stays an unevaluated sum, which no comparison
can decide). A body with terms indexed by the summation variable
(``\\sum_i \\mu_i^2``) has no value here and is a :class:`LatexSyntaxError`.
"""

from __future__ import annotations

import re
from typing import Any

import sympy

from evalkit.latex.cursor import CommaList, Cursor

__all__ = ["FUNCTIONS", "FunctionAtoms"]

FUNCTIONS: dict[str, Any] = {
    "exp": sympy.exp,
    "log": sympy.log,
    "ln": sympy.log,
    "lg": lambda x: sympy.log(x, 2),
    "sqrt": sympy.sqrt,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "sec": sympy.sec,
    "csc": sympy.csc,
    "cot": sympy.cot,
    "arcsin": sympy.asin,
    "arccos": sympy.acos,
    "arctan": sympy.atan,
    "arcsec": sympy.asec,
    "arccsc": sympy.acsc,
    "arccot": sympy.acot,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "coth": sympy.coth,
    "max": sympy.Max,
    "min": sympy.Min,
}
_INVERSES: dict[str, Any] = {
    "sin": sympy.asin,
    "cos": sympy.acos,
    "tan": sympy.atan,
    "sec": sympy.asec,
    "csc": sympy.acsc,
    "cot": sympy.acot,
    "sinh": sympy.asinh,
    "cosh": sympy.acosh,
    "tanh": sympy.atanh,
    "coth": sympy.acoth,
}
# A sum over more terms than this is only evaluated in closed form (a polynomial body);
# a numeric product over more factors than this is not evaluated at all.
_MAX_TERMS = 10_000
_MAX_FACTORS = 1_000


class FunctionAtoms(Cursor):
    """Function applications and big operators, read at the cursor after their name."""

    def function(self, name: str) -> Any:
        """``name`` applied to what follows: ``(args)``, a subscript base, a power, or bare letters."""
        if name == "log" and self.peek().is_char("_"):
            self.next()
            base = self.finish(self.script_argument())
            return sympy.log(self.single_argument(name), base)
        power: Any = None
        if self.peek().is_char("^") and name not in ("max", "min", "sqrt"):
            self.next()
            power = self.finish(self.script_argument())
        if name in ("max", "min"):
            if not self.peek().is_char("(", "["):
                raise self.error(f"{name} needs its arguments in parentheses")
            return FUNCTIONS[name](*self.call_arguments())
        arg = self.single_argument(name)
        if power is not None and power == -1 and name in _INVERSES:
            return _INVERSES[name](arg)
        value = FUNCTIONS[name](arg)
        return value if power is None else value**power

    def call_arguments(self) -> list[Any]:
        group = self.parse_group()
        items = group.items if isinstance(group, CommaList) else (group,)
        return [self.finish(v) for v in items]

    def single_argument(self, name: str) -> Any:
        if self.peek().is_char("(", "["):
            args = self.call_arguments()
            if len(args) != 1:
                raise self.error(f"{name} takes one argument")
            return args[0]
        return self.bare_argument()

    def bare_argument(self) -> Any:
        """``\\sin 2x``: the next factor and any letters juxtaposed to it."""
        value = self.finish(self.parse_postfix())
        while True:
            tok = self.peek()
            letters = tok.kind == "IDENT" and tok.text not in FUNCTIONS
            greek = tok.kind == "CMD" and self.is_greek(tok.text)
            if not (letters or greek):
                return value
            value = self.combine(value, self.finish(self.parse_postfix()), "*")

    def big_operator(self, name: str) -> Any:
        """``\\sum_{k=a}^{b} body`` or ``\\prod``, after the command was read."""
        what = "sum" if name == "sum" else "product"
        if not self.peek().is_char("_"):
            raise self.error(f"a {what} needs its index and bounds, as in \\{name}_{{k=1}}^{{n}}")
        self.next()
        braced = self.peek().is_char("{")
        if braced:
            self.next()
        index_tok = self.next()
        if index_tok.kind not in ("IDENT", "CMD") or not self.peek().is_char("="):
            raise self.error(f"a {what} needs its index and bounds, as in \\{name}_{{k=1}}^{{n}}", index_tok)
        index = index_tok.text
        self.next()
        lower = self.finish(self.parse_sum())
        if braced:
            self.expect_char("}")
        if not self.peek().is_char("^"):
            raise self.error(f"the {what} has no upper bound")
        self.next()
        upper = self.finish(self.script_argument())
        symbol = sympy.Symbol(index, integer=True)
        outer = self.bound.get(index)
        self.bound[index] = symbol
        try:
            body = self.finish(self.parse_product())
        finally:
            if outer is None:
                self.bound.pop(index, None)
            else:
                self.bound[index] = outer
        return self.evaluate_big(what, body, symbol, lower, upper)

    def evaluate_big(self, what: str, body: Any, index: sympy.Symbol, lower: Any, upper: Any) -> Any:
        for part in (body, lower, upper):
            if isinstance(part, sympy.MatrixBase | sympy.Set):
                raise self.error(f"a {what} of vectors or sets is not supported")
        pattern = re.compile(rf"_.*(?<![A-Za-z]){re.escape(index.name)}(?![A-Za-z])")
        indexed = sorted(s.name for s in body.free_symbols if pattern.search(s.name))
        if indexed:
            raise self.error(
                f"the {what} runs over terms indexed by {index.name} ({', '.join(indexed)}), "
                "which have no value here; write its closed form"
            )
        span = upper - lower
        limit = _MAX_TERMS if what == "sum" else _MAX_FACTORS
        if (
            span.is_number
            and span.is_finite
            and span > limit
            and (what == "product" or not body.is_polynomial(index))
        ):
            raise self.error(f"a {what} over more than {limit} terms is not expanded here")
        op = sympy.summation if what == "sum" else sympy.product
        return op(body, (index, lower, upper))

    def is_greek(self, name: str) -> bool:
        raise NotImplementedError
