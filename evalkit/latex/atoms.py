"""The atoms of homework math: names, numbers, commands, norms, matrices, calls.

:class:`AtomParser` reads one atom at the cursor; :class:`~evalkit.latex.parser.ExpressionParser`
builds sums, products, powers and transposes on top of it (and supplies the
grammar hooks declared in :class:`~evalkit.latex.cursor.Cursor`). Functions and
big operators live in :mod:`~evalkit.latex.functions`, brackets, intervals and
sets in :mod:`~evalkit.latex.brackets`.

Names are looked up in the problem's :class:`~evalkit.latex.symbols.SymbolTable`:
a letter run such as ``bnd`` is one declared name, a function word (``sim``,
``Var``, ``O``), a Greek letter spelled out (``mu``, ``sigma``: plain-text
math), or its first letter; the rest of the run is read as the next atom.
Unless declared as symbols, ``e`` is Euler's number, ``i`` the imaginary unit
(except as the index of a sum) and ``\\pi``/``pi`` the constant, wherever
they appear.
"""

from __future__ import annotations

from typing import Any

import sympy

from evalkit.latex.brackets import BracketAtoms
from evalkit.latex.cursor import MAX_DIGITS, MAX_EXPONENT, PendingName
from evalkit.latex.functions import FUNCTIONS, FunctionAtoms
from evalkit.latex.lexer import LatexSyntaxError, Token, raw_text
from evalkit.latex.nodes import (
    BigO,
    BigOmega,
    BigTheta,
    Covariance,
    Expectation,
    LittleO,
    Norm,
    RealSpace,
    Variance,
)

__all__ = ["GREEK", "NON_ATOM_COMMANDS", "PRODUCT_COMMANDS", "AtomParser"]

GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi "
    "rho varrho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma "
    "Upsilon Phi Psi Omega ell".split()
)
# Greek letters spelled out in plain text ("mu^2", "sigma"), read as the letter.
_GREEK_WORDS = GREEK - {"ell", "varepsilon", "vartheta", "varrho", "varphi"}
_INFINITY_WORDS = frozenset({"inf", "infty", "infinity"})
_NUMBER_SETS = {"R": sympy.Reals, "N": sympy.Naturals, "Z": sympy.Integers, "Q": sympy.Rationals}
_NAMED_FUNCTIONS = frozenset("sim softmax argmax argmin relu ReLU sigmoid kernel".split())
_OPERATORS: dict[str, Any] = {"var": Variance, "cov": Covariance, "e": Expectation}
_ASYMPTOTIC: dict[str, Any] = {"O": BigO, "Theta": BigTheta, "Omega": BigOmega}
_FUNCTION_GREEK = frozenset({"phi", "varphi", "psi"})
_DECORATIONS = frozenset("hat tilde bar overline widehat widetilde check breve".split())
_BOLD = frozenset("mathbf boldsymbol bm vec mathbfit pmb".split())
_UNSUPPORTED = frozenset(
    "int oint lim limsup liminf cdots ldots dots vdots ddots pm mp partial nabla".split()
)
_MATRIX_ENVS = frozenset("bmatrix pmatrix Bmatrix matrix smallmatrix array".split())
PRODUCT_COMMANDS = frozenset("cdot times ast bullet".split())
NON_ATOM_COMMANDS = (
    PRODUCT_COMMANDS
    | frozenset(
        "div top intercal rVert rvert rfloor rceil neq ne le leq ge geq lt gt approx equiv sim ll gg "
        "forall in notin implies iff to rightarrow Rightarrow pm mp cup cap setminus circ mid".split()
    )
    | {"\\"}
)
# A run of this many undeclared letters is a word ("square"), not a product of symbols.
_PROSE_RUN = 6


class AtomParser(FunctionAtoms, BracketAtoms):
    """Reads atoms at a cursor over tokens; the parser subclass provides sums, powers and finishing."""

    def parse_atom(self) -> Any:
        self.enter()
        try:
            return self._atom()
        finally:
            self.depth -= 1

    def _atom(self) -> Any:
        tok = self.peek()
        if tok.kind == "NUM":
            self.next()
            digits, _, exponent = tok.text.partition("e")
            if len(digits) > MAX_DIGITS:
                raise self.error(f"number has more than {MAX_DIGITS} digits", tok)
            if exponent and abs(int(exponent)) > MAX_EXPONENT:
                raise self.error(f"exponent {exponent} is larger than {MAX_EXPONENT}", tok)
            self.has_decimal |= "." in tok.text or bool(exponent)
            return sympy.Rational(tok.text)
        if tok.kind == "IDENT":
            return self.ident()
        if tok.kind == "WORD":
            return self.word()
        if tok.kind == "CMD":
            return self.command()
        if tok.kind == "BEGIN":
            return self.matrix()
        if tok.is_char("(", "["):
            return self.parse_group()
        if tok.is_char("\\{"):
            return self.set_literal()
        if tok.is_char("{"):
            self.next()
            value = self.parse_sum()
            self.expect_char("}")
            return value
        if tok.is_char("|"):
            self.next()
            return self.delimited(("|",), sympy.Abs)
        if tok.is_char("‖"):
            self.next()
            return self.norm()
        found = "the end of the expression" if tok.kind == "EOF" else repr(tok.text)
        raise self.error(f"expected a value, found {found}")

    def ident(self) -> Any:
        tok = self.peek()
        run = tok.text
        after = self.peek(1)
        piece = self.choose_piece(run, after)
        if len(run) >= _PROSE_RUN and piece == run[0]:
            raise self.error(
                f"{run!r} looks like a word, not math; declare it as a symbol or write it in \\text{{}}"
            )
        self.split_current(len(piece))
        self.next()
        return self.named(piece)

    def choose_piece(self, run: str, after: Token) -> str:
        """How much of a letter run is one name: a declared name, a function word, or one letter."""
        names = self.table.names
        if run in names:
            return run
        calls = after.is_char("(", "[")
        if run in FUNCTIONS or (calls and (run in _NAMED_FUNCTIONS or run.lower() in ("var", "cov"))):
            return run
        if calls and run in _ASYMPTOTIC:
            return run
        if run in _GREEK_WORDS or run in _INFINITY_WORDS:
            return run
        for end in range(len(run) - 1, 1, -1):
            if run[:end] in names:
                return run[:end]
        return run[0]

    def named(self, name: str) -> Any:
        """The value of a name just read, applying it if it is a function, operator or O(...)."""
        nxt = self.peek()
        calls = nxt.is_char("(", "[")
        declared = self.table.spec(name)
        if declared is not None:
            if declared.kind == "function" and calls:
                return self.table.symbol(name)(*self.call_arguments())
            return PendingName(name)
        if calls and name in _ASYMPTOTIC:
            return self.asymptotic(_ASYMPTOTIC[name])
        if calls and name == "o" and self.little_o:
            return self.asymptotic(LittleO)
        if calls and name.lower() in _OPERATORS and name != "e":
            return _OPERATORS[name.lower()](*self.call_arguments())
        if name in FUNCTIONS:
            return self.function(name)
        if calls and (name in _NAMED_FUNCTIONS or name in _FUNCTION_GREEK):
            return sympy.Function(name)(*self.call_arguments())
        if name in _INFINITY_WORDS:
            return sympy.oo
        return PendingName(name)

    def is_greek(self, name: str) -> bool:
        return name in GREEK

    def word(self) -> Any:
        tok = self.next()
        text = tok.text
        if text in _ASYMPTOTIC or text.lower() in _OPERATORS or text in FUNCTIONS:
            if text in ("E", "e") and not self.peek().is_char("[", "("):
                return PendingName(text)
            return self.named(text if text in _ASYMPTOTIC or text in FUNCTIONS else text.capitalize())
        if text.replace("_", "").replace("'", "").isalnum() and text[0].isalpha():
            if self.peek().is_char("(") and not self.table.is_declared(text):
                return sympy.Function(text)(*self.call_arguments())
            return self.named(text)
        raise self.error(f"text {text!r} is not math", tok)

    def command(self) -> Any:
        tok = self.next()
        name = tok.text
        calls = self.peek().is_char("(", "[")
        if name in GREEK:
            if name in ("Theta", "Omega") and calls and not self.table.is_declared(name):
                return self.asymptotic(_ASYMPTOTIC[name])
            if name == "pi" and not self.table.is_declared("pi"):
                return sympy.pi
            return self.named(name)
        if name == "infty":
            return sympy.oo
        if name in ("emptyset", "varnothing"):
            return sympy.EmptySet
        if name in ("sum", "prod"):
            return self.big_operator(name)
        if name in ("frac", "dfrac", "tfrac", "cfrac"):
            if self.at_derivative():
                raise self.error(
                    "derivatives (d/dx) are not supported in a graded answer; write the result", tok
                )
            num = self.finish(self.script_argument())
            den = self.finish(self.script_argument())
            return self.combine(num, den, "/")
        if name == "sqrt":
            index = None
            if self.peek().is_char("["):
                self.next()
                index = self.finish(self.parse_sum())
                self.expect_char("]")
            arg = self.finish(self.script_argument())
            return sympy.sqrt(arg) if index is None else sympy.root(arg, index)
        if name in ("binom", "dbinom", "tbinom"):
            top = self.finish(self.script_argument())
            bottom = self.finish(self.script_argument())
            value = sympy.binomial(top, bottom)
            return sympy.expand_func(value) if bottom.is_Integer and 0 <= bottom <= 20 else value
        if name in FUNCTIONS:
            return self.function(name)
        if name == "mathbb":
            letter = self.raw_argument()
            if letter == "E":
                return self.expectation()
            if letter == "V":
                return Variance(*self.call_arguments())
            if letter in _NUMBER_SETS:
                return self.number_set(_NUMBER_SETS[letter])
            raise self.error(f"\\mathbb{{{letter}}} is not supported here", tok)
        if name == "mathcal":
            letter = self.raw_argument()
            if letter == "O" and self.peek().is_char("(", "["):
                return self.asymptotic(BigO)
            return self.named(f"cal{letter}")
        if name in _BOLD:
            return self.script_argument()
        if name in _DECORATIONS:
            return PendingName(f"{self.raw_argument()}_{name}")
        if name in ("lVert", "Vert"):
            return self.norm()
        if name in ("lvert", "vert"):
            return self.delimited(("|",), sympy.Abs, closers=("rvert", "vert"))
        if name in ("lfloor", "lceil"):
            closer = "rfloor" if name == "lfloor" else "rceil"
            return self.delimited((), sympy.floor if name == "lfloor" else sympy.ceiling, closers=(closer,))
        if name in _UNSUPPORTED:
            raise self.error(f"'\\{name}' is not supported in a graded answer; write the closed form", tok)
        raise self.error(f"unknown or misplaced command '\\{name}'", tok)

    def at_derivative(self) -> bool:
        """Whether the ``\\frac`` at the cursor is Leibniz notation: ``\\frac{d}{dx}``, ``\\frac{dy}{dt}``."""
        if not self.peek().is_char("{"):
            return False
        start = self.i
        try:
            top = raw_text(self.raw_group())
            bottom = raw_text(self.raw_group()) if self.peek().is_char("{") else ""
        except LatexSyntaxError:
            return False
        finally:
            self.i = start
        bottom_var = bottom[1:]
        return (
            top.startswith("d")
            and len(top) <= 2
            and bottom.startswith("d")
            and bottom_var.isalpha()
            and (bottom_var in GREEK or len(bottom_var) == 1)
            and not self.table.is_declared(bottom)
        )

    def number_set(self, numbers: sympy.Set) -> Any:
        """``\\mathbb{R}``, or a space of arrays ``\\mathbb{R}^{h \\times d}`` (dimensions kept in order)."""
        if not self.peek().is_char("^"):
            return numbers
        self.next()
        if self.peek().is_char("{"):
            self.next()
            dims = [self.finish(self.parse_postfix_power())]
            while self.peek().is_char("*", ",") or self.peek().is_cmd("times", "cdot"):
                self.next()
                dims.append(self.finish(self.parse_postfix_power()))
            self.expect_char("}")
        else:
            dims = [self.finish(self.script_argument())]
        return RealSpace(*dims)

    def parse_postfix_power(self) -> Any:
        """One dimension of a shape: a sum without products (``d``, ``d/h``, ``n + 1``)."""
        value = self.parse_postfix()
        while self.peek().is_char("+", "-", "/"):
            op = self.next().text
            rhs = self.finish(self.parse_postfix())
            value = self.combine(value, -rhs if op == "-" else rhs, "/" if op == "/" else "+")
        return value

    def asymptotic(self, cls: Any) -> Any:
        args = self.call_arguments()
        if len(args) != 1 or isinstance(args[0], sympy.MatrixBase):
            raise self.error("O(...) takes one expression")
        return cls(args[0])

    def expectation(self) -> Any:
        if self.peek().is_char("_"):
            self.next()
            if self.peek().is_char("{"):
                self.raw_group()
            else:
                self.next()
        if not self.peek().is_char("[", "("):
            raise self.error("expected '[' after the expectation")
        return Expectation(*self.call_arguments())

    def delimited(self, closer_chars: tuple[str, ...], func: Any, closers: tuple[str, ...] = ()) -> Any:
        """The inside of ``|x|`` or a floor/ceiling, after its opener was read."""
        self.abs_depth += 1
        inner = self.finish(self.parse_sum())
        self.abs_depth -= 1
        tok = self.peek()
        if not (tok.is_char(*closer_chars) or tok.is_cmd(*closers)):
            raise self.error("unclosed '|' or bracket")
        self.next()
        if isinstance(inner, sympy.MatrixBase):
            raise self.error("|x| of a vector is ambiguous; write the norm \\|x\\|")
        return func(inner)

    def norm(self) -> Any:
        """``\\|x\\|`` with optional ``_p`` and ``^k`` in either order, after its opener was read."""
        self.norm_depth += 1
        inner = self.finish(self.parse_sum())
        self.norm_depth -= 1
        tok = self.peek()
        if not (tok.is_char("‖") or tok.is_cmd("rVert", "Vert")):
            raise self.error("unclosed norm '\\|'")
        self.next()
        p: Any = None
        power: Any = 1
        for _ in range(2):
            if self.peek().is_char("_") and p is None:
                self.next()
                p = self.finish(self.script_argument())
            elif self.peek().is_char("^") and power == 1:
                self.next()
                power = self.finish(self.script_argument())
        if isinstance(inner, sympy.MatrixBase):
            entries = list(inner)
            order = 2 if p is None else p
            value = sympy.Add(*[sympy.Abs(x) ** order for x in entries]) ** (sympy.Integer(1) / order)
        else:
            value = Norm(inner) if p is None else Norm(inner, p)
        return value**power

    def matrix(self) -> Any:
        begin = self.next()
        if begin.text not in _MATRIX_ENVS:
            raise self.error(f"environment {begin.text!r} is not supported here", begin)
        rows: list[list[Any]] = [[]]
        while True:
            tok = self.peek()
            if tok.kind == "END":
                break
            if tok.kind == "EOF":
                raise self.error(f"missing \\end{{{begin.text}}}")
            cell = self.finish(self.parse_sum())
            if isinstance(cell, sympy.MatrixBase):
                raise self.error("nested matrices are not supported")
            rows[-1].append(cell)
            if self.peek().is_char("&"):
                self.next()
            elif self.peek().is_cmd("\\"):
                self.next()
                if self.peek().kind != "END":
                    rows.append([])
        end = self.next()
        if end.text != begin.text:
            raise self.error(f"\\begin{{{begin.text}}} ends with \\end{{{end.text}}}", end)
        rows = [r for r in rows if r]
        if not rows or len({len(r) for r in rows}) != 1:
            raise self.error("matrix rows have different lengths", begin)
        return sympy.ImmutableMatrix(rows)
