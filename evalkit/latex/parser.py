"""A recursive-descent parser from homework LaTeX to sympy.

Grammar, loosest first (``side`` is one side of a relation chain)::

    side     := setexpr (',' setexpr)*          a comma list is a vector (of tuples: a set of points)
    setexpr  := sum (('\\cup' | '\\cap' | '\\setminus') sum)*
    sum      := product (('+' | '-') product)*
    product  := ['-'] postfix ((op | juxtaposition) postfix)*      op: * \\cdot \\times / \\div
    postfix  := atom ('^' script | '_' script | "'" | '!' | '%')*
    atom     := number | name | \\frac | \\sqrt | \\binom | norm | abs | group | tuple | interval
              | set | matrix environment | function call | \\sum | \\prod | O(...) | E[...] | Var(...)

Juxtaposition multiplies (``bnd`` is ``b*n*d`` unless ``bnd`` or a prefix of it
is declared), except that an integer before ``\\frac`` of two integers is a
mixed number (``2\\frac{1}{3}`` is ``7/3``); a transposed factor followed by
another is a dot product (``q^\\top k`` is ``Dot(q, k)``). ``d`` is always a
symbol: never a differential, never a unit. ``x\\%`` is ``x/100`` and
``x^\\circ`` is ``x`` in degrees (both noted on the parser for the comparison's
policies). Notation with no faithful meaning here (``\\int``, ``\\cdots`` ...)
is a :class:`LatexSyntaxError`, never a guess. Input length and nesting depth
are capped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from evalkit.latex.atoms import NON_ATOM_COMMANDS, PRODUCT_COMMANDS, AtomParser
from evalkit.latex.brackets import interval_of, tuple_of
from evalkit.latex.cursor import MAX_EXPONENT, CommaList, PendingName
from evalkit.latex.lexer import Token, raw_text
from evalkit.latex.nodes import Dot

__all__ = ["ExpressionParser"]

_SET_OPERATORS = ("cup", "cap", "setminus")
_FRACTIONS = ("frac", "dfrac", "tfrac")


def _commutes(value: Any) -> bool:
    return not isinstance(value, sympy.Basic) or bool(value.is_commutative)


@dataclass(frozen=True)
class _Transposed:
    """``x^T``, waiting to see whether a factor follows (a dot product) or not (a transpose)."""

    inner: Any


class ExpressionParser(AtomParser):
    """Parses one side of a relation from tokens (see the module grammar)."""

    def parse_side(self) -> Any:
        """Parse the whole token list as one side; a comma list becomes a column vector.

        ``self.brackets`` records how a list was written: ``""`` for a bare comma
        list, ``"()"``/``"[]"`` for one bracketed list (a pair may be an interval), else None.
        """
        items = [self.parse_set_expression()]
        while self.peek().is_char(","):
            self.next()
            if self.peek().kind == "EOF":
                break
            items.append(self.parse_set_expression())
        if self.peek().kind != "EOF":
            raise self.error(f"unexpected {self.peek().text!r}")
        if len(items) > 1:
            self.brackets = ""
            return self.finish(CommaList(tuple(items), ""))
        if self.last_list is not None and self.last_list[:2] == (0, len(self.toks) - 1):
            self.brackets = self.last_list[2]  # the whole side is one bracketed list
        return self.finish(items[0])

    def parse_set_expression(self) -> Any:
        start = self.i
        value = self.parse_sum()
        if not self.peek().is_cmd(*_SET_OPERATORS):
            return value
        value = self.as_set(value, start)
        while self.peek().is_cmd(*_SET_OPERATORS):
            op = self.next().text
            start = self.i
            right = self.as_set(self.parse_sum(), start)
            value = (
                value.union(right)
                if op == "cup"
                else value.intersect(right)
                if op == "cap"
                else value - right
            )
        return value

    def as_set(self, value: Any, start: int) -> sympy.Set:
        """An operand of ``\\cup`` read from token ``start``: a set, or a bracketed pair as an interval."""
        value = self.finish(value)
        span = self.last_list
        if isinstance(value, sympy.MatrixBase) and len(value) == 2 and span and span[:2] == (start, self.i):
            try:
                return interval_of((value[0], value[1]), span[2])  # (2, 5) in (-oo, 1) \cup (2, 5)
            except ValueError as err:
                raise self.error(str(err)) from None
        if not isinstance(value, sympy.Set):
            raise self.error("only sets and intervals can be joined with \\cup, \\cap or \\setminus")
        return value

    def finish(self, value: Any) -> Any:
        """Turn pending values (names, tuples, lone transposes) into sympy objects."""
        if isinstance(value, PendingName):
            return self.resolve(value)
        if isinstance(value, CommaList):
            items = [self.finish(v) for v in value.items]
            if any(isinstance(v, sympy.Set) for v in items):
                raise self.error("a list may not contain sets or intervals")
            if any(isinstance(v, sympy.MatrixBase) for v in items):
                if value.brackets == "" and all(isinstance(v, sympy.MatrixBase) for v in items):
                    return sympy.FiniteSet(*[tuple_of(v) for v in items])  # (1, 2), (3, 4): points
                raise self.error("a list may not contain vectors or matrices")
            return sympy.ImmutableMatrix(items)
        if isinstance(value, _Transposed):
            inner = self.finish(value.inner)
            if isinstance(inner, sympy.MatrixBase):
                return inner.T
            if isinstance(inner, sympy.Symbol) and not inner.is_commutative:
                return self.table.transposed(inner.name)
            return inner
        return value

    def resolve(self, value: Any) -> Any:
        if not isinstance(value, PendingName):
            return value
        name = value.name
        if name in self.bound:
            return self.bound[name]
        if not self.table.is_declared(name):
            constant = {"e": sympy.E, "i": sympy.I, "pi": sympy.pi}.get(name)
            if constant is not None:
                return constant
        sym = self.table.symbol(name)
        if isinstance(sym, sympy.FunctionClass):
            raise self.error(f"function {value.name!r} is used without an argument")
        return sym

    def parse_sum(self) -> Any:
        self.enter()
        value = self.parse_product()
        while True:
            tok = self.peek()
            if tok.is_char("+", "-"):
                self.next()
                rhs = self.parse_product()
                value = self.combine(value, rhs if tok.text == "+" else self.negate(rhs), "+")
            elif tok.is_cmd("pm", "mp"):
                raise self.error("'\\pm' has no single value; give each case separately")
            else:
                break
        self.depth -= 1
        return value

    def negate(self, value: Any) -> Any:
        value = self.finish(value)
        return -value

    def parse_product(self) -> Any:
        sign = 1
        while self.peek().is_char("-", "+"):
            sign = -sign if self.next().text == "-" else sign
        factors = [self.parse_postfix()]
        ops: list[str] = []
        while True:
            tok = self.peek()
            if self.at_mixed_fraction(factors[-1]):
                factors[-1] = factors[-1] + self.finish(self.parse_postfix())
            elif tok.is_char("*") or tok.is_cmd(*PRODUCT_COMMANDS):
                self.next()
                ops.append("*")
                factors.append(self.parse_signed_factor())
            elif tok.is_char("/") or tok.is_cmd("div"):
                self.next()
                ops.append("/")
                factors.append(self.parse_signed_factor())
            elif self.starts_atom(tok):
                ops.append("")
                factors.append(self.parse_postfix())
            else:
                break
        value = self.fold(factors, ops)
        return self.negate(value) if sign < 0 else value

    def at_mixed_fraction(self, previous: Any) -> bool:
        """Whether an integer just read is followed by ``\\frac`` of two integer literals (``2\\frac13``)."""
        before = self.toks[self.i - 1] if self.i else None
        if (
            before is None
            or before.kind != "NUM"
            or not before.text.isdigit()
            or previous != int(before.text)
        ):
            return False
        if not self.peek().is_cmd(*_FRACTIONS):
            return False
        k = self.i + 1
        if self.toks[k].kind == "NUM" and len(self.toks[k].text) == 2 and self.toks[k].text.isdigit():
            return True  # \frac12
        shape = ["{", "NUM", "}", "{", "NUM", "}"]
        found = self.toks[k : k + 6]
        return len(found) == 6 and all(
            (tok.kind == "NUM" and tok.text.isdigit()) if want == "NUM" else tok.is_char(want)
            for tok, want in zip(found, shape, strict=True)
        )

    def parse_signed_factor(self) -> Any:
        if self.peek().is_char("-"):
            self.next()
            return self.negate(self.parse_postfix())
        return self.parse_postfix()

    def starts_atom(self, tok: Token) -> bool:
        if tok.kind in ("NUM", "IDENT", "WORD", "BEGIN"):
            return True
        if tok.kind == "CHAR":
            if tok.text in ("(", "[", "{"):
                return True
            if tok.text == "|":
                return self.abs_depth == 0
            if tok.text == "‖":
                return self.norm_depth == 0
            return False
        if tok.kind == "CMD":
            if tok.text in ("lVert", "Vert"):
                return self.norm_depth == 0
            if tok.text in ("lvert", "vert"):
                return self.abs_depth == 0
            return tok.text not in NON_ATOM_COMMANDS
        return False

    def fold(self, factors: list[Any], ops: list[str]) -> Any:
        """Pair each transposed factor with the next one (a dot product), then multiply left to right."""
        merged: list[Any] = [factors[0]]
        merged_ops: list[str] = []
        k = 1
        while k <= len(factors):
            last = merged[-1]
            if isinstance(last, _Transposed) and k < len(factors) and ops[k - 1] != "/":
                merged[-1] = self.dot(last.inner, factors[k])
                k += 1
                continue
            if k == len(factors):
                break
            merged.append(factors[k])
            merged_ops.append(ops[k - 1])
            k += 1
        value = self.finish(merged[0])
        for op, factor in zip(merged_ops, merged[1:], strict=True):
            value = self.combine(value, self.finish(factor), op or "*")
        return value

    def dot(self, left: Any, right: Any) -> Any:
        left, right = self.finish(left), self.finish(right)
        if isinstance(left, sympy.MatrixBase) or isinstance(right, sympy.MatrixBase):
            return self.combine(left.T if isinstance(left, sympy.MatrixBase) else left, right, "*")
        if isinstance(left, sympy.Symbol) and not left.is_commutative:
            return self.table.transposed(left.name) * right
        return Dot(left, right)

    def combine(self, a: Any, b: Any, op: str) -> Any:
        a, b = self.finish(a), self.finish(b)
        am, bm = isinstance(a, sympy.MatrixBase), isinstance(b, sympy.MatrixBase)
        try:
            if op == "+":
                if am != bm:
                    raise self.error("cannot add a vector or matrix to a scalar")
                return a + b
            if op == "/":
                if bm:
                    raise self.error("cannot divide by a vector or matrix")
                return a / b
            if not (am or bm) and not (_commutes(a) and _commutes(b)):
                # a matrix times a vector: the vector keeps its place (A^{-1} b is not b A^{-1})
                a, b = self.in_order(a), self.in_order(b)
            return a * b
        except sympy.ShapeError as err:
            raise self.error(f"shapes do not match: {err}") from None

    def in_order(self, value: Any) -> Any:
        """``value`` with its vector symbols as non-commuting ones, for a product with a matrix."""
        if not isinstance(value, sympy.Basic):
            return value
        vectors = {s: self.table.ordered(s.name) for s in value.free_symbols
                   if isinstance(s, sympy.Symbol) and s.is_commutative and self.table.kind(s.name) == "vector"}  # fmt: skip
        return value.xreplace(vectors) if vectors else value

    def parse_postfix(self) -> Any:
        value = self.parse_atom()
        while True:
            tok = self.peek()
            if tok.is_char("^"):
                self.next()
                value = self.superscript(value)
            elif tok.is_char("_"):
                self.next()
                value = self.subscript(value)
            elif tok.is_char("'"):
                self.next()
                if not isinstance(value, PendingName):
                    raise self.error("a prime (') must follow a name", tok)
                value = PendingName(value.name + "'")
            elif tok.is_char("!"):
                self.next()
                value = self.finish(value)
                if value.is_Integer and value > MAX_EXPONENT:
                    raise self.error(f"{value}! is too large to evaluate", tok)
                value = sympy.factorial(value)
            elif tok.is_char("%"):
                self.next()
                self.percent = True
                value = self.combine(value, sympy.Integer(100), "/")
            else:
                return value

    def is_transpose_mark(self) -> bool:
        tok = self.peek()
        if tok.is_cmd("top", "intercal") or (tok.kind == "WORD" and tok.text == "T"):
            return True
        if tok.kind == "IDENT" and tok.text[0] == "T":
            return not self.table.is_declared("T")
        if tok.is_char("{"):
            inner = self.peek(1)
            return self.peek(2).is_char("}") and (
                inner.is_cmd("top", "intercal")
                or (inner.kind in ("IDENT", "WORD") and inner.text == "T" and not self.table.is_declared("T"))
            )
        return False

    def superscript(self, value: Any) -> Any:
        if self.is_transpose_mark():
            if self.peek().is_char("{"):
                self.i += 3
            elif self.peek().kind == "IDENT":
                self.split_current(1)
                self.next()
            else:
                self.next()
            if isinstance(value, _Transposed):
                return self.finish(value.inner)
            return _Transposed(value if not isinstance(value, PendingName) else self.resolve(value))
        if self.peek().is_cmd("prime"):
            self.next()
            if isinstance(value, PendingName):
                return PendingName(value.name + "'")
            raise self.error("a prime must follow a name")
        star = self.peek().is_char("*") or self.peek().is_cmd("star", "ast")
        braced = self.peek().is_char("{") and (
            self.peek(1).is_char("*") or self.peek(1).is_cmd("star", "ast")
        )
        if star or (braced and self.peek(2).is_char("}")):  # x^*, \eta^{\star}: an optimum's name
            self.i += 1 if star else 3
            if isinstance(value, PendingName):
                return PendingName(value.name + "^*")
            raise self.error("a star superscript (x^*) must follow a name")
        if self.peek().is_cmd("circ") or (self.peek().is_char("{") and self.peek(1).is_cmd("circ")):
            self.i += 1 if self.peek().is_cmd("circ") else 3
            self.degrees = True
            return self.finish(value)
        base = self.finish(value)
        tok = self.peek()
        if tok.kind == "NUM" and tok.text.isdigit() and len(tok.text) > 1 and not tok.space_before:
            # n^10 is n to the 10th as written in plain text and meant in LaTeX, never n^1 times 0
            self.next()
            exponent = sympy.Integer(tok.text)
        else:
            exponent = self.finish(self.script_argument())
        if isinstance(exponent, sympy.MatrixBase):
            raise self.error("an exponent cannot be a vector")
        if exponent.is_Integer and abs(exponent) > MAX_EXPONENT:
            raise self.error(f"exponent {exponent} is larger than {MAX_EXPONENT}")
        if isinstance(base, sympy.MatrixBase | sympy.Set) or isinstance(exponent, sympy.Set):
            raise self.error("powers of vectors, matrices and sets are not supported")
        return base**exponent

    def subscript(self, value: Any) -> Any:
        if not isinstance(value, PendingName):
            raise self.error("a subscript must follow a name")
        tok = self.peek()
        if tok.is_char("{"):
            sub = raw_text(self.raw_group())
        elif tok.kind in ("NUM", "IDENT", "WORD"):
            sub = self.next().text.replace(" ", "_")
        elif tok.kind == "CMD":
            sub = self.next().text
        else:
            raise self.error("expected a subscript")
        return PendingName(f"{value.name}_{sub}")

    def script_argument(self) -> Any:
        """A braced group, or a single character or command (``^2``, ``\\frac12``, ``\\sqrt d``)."""
        tok = self.peek()
        if tok.is_char("{"):
            self.next()
            value = self.parse_sum()
            self.expect_char("}")
            return value
        if tok.is_char("("):
            return self.parse_group()
        if tok.is_char("-"):
            self.next()
            return self.negate(self.script_argument())
        if tok.kind in ("NUM", "IDENT"):
            self.split_current(1)
            return self.parse_atom()
        if tok.kind in ("CMD", "WORD"):
            return self.parse_atom()
        raise self.error("expected an exponent or argument")
