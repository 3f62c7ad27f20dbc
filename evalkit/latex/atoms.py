"""The atoms of homework math: names, numbers, commands, norms, matrices, calls.

:class:`AtomParser` reads one atom at the cursor; :class:`~evalkit.latex.parser.ExpressionParser`
builds sums, products, powers and transposes on top of it (and supplies the
methods declared abstract here). Names are looked up in the problem's
:class:`~evalkit.latex.symbols.SymbolTable`: a letter run such as ``bnd`` is
one declared name, a function word (``sim``, ``Var``, ``O``), or its first
letter; the rest of the run is read as the next atom.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from evalkit.latex.lexer import LatexSyntaxError, Token, raw_text
from evalkit.latex.nodes import BigO, BigOmega, BigTheta, Covariance, Expectation, LittleO, Norm, Variance
from evalkit.latex.symbols import SymbolTable

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "NON_ATOM_COMMANDS",
    "PRODUCT_COMMANDS",
    "AtomParser",
    "CommaList",
    "PendingName",
]

MAX_DEPTH = 40
MAX_DIGITS = 40
MAX_EXPONENT = 1000

GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi "
    "rho varrho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma "
    "Upsilon Phi Psi Omega ell".split()
)
_FUNCTIONS: dict[str, Any] = {
    "exp": sympy.exp,
    "log": sympy.log,
    "ln": sympy.log,
    "lg": lambda x: sympy.log(x, 2),
    "sqrt": sympy.sqrt,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "tanh": sympy.tanh,
    "max": sympy.Max,
    "min": sympy.Min,
}
_NAMED_FUNCTIONS = frozenset("sim softmax argmax argmin relu ReLU sigmoid kernel".split())
_OPERATORS: dict[str, Any] = {"var": Variance, "cov": Covariance, "e": Expectation}
_ASYMPTOTIC: dict[str, Any] = {"O": BigO, "Theta": BigTheta, "Omega": BigOmega}
_FUNCTION_GREEK = frozenset({"phi", "varphi", "psi"})
_DECORATIONS = frozenset("hat tilde bar overline widehat widetilde check breve".split())
_BOLD = frozenset("mathbf boldsymbol bm vec mathbfit pmb".split())
_UNSUPPORTED = frozenset(
    "sum prod int oint lim limsup liminf cdots ldots dots vdots ddots pm mp partial nabla".split()
)
_MATRIX_ENVS = frozenset("bmatrix pmatrix Bmatrix matrix smallmatrix array".split())
PRODUCT_COMMANDS = frozenset("cdot times ast bullet".split())
NON_ATOM_COMMANDS = (
    PRODUCT_COMMANDS
    | frozenset(
        "div top intercal rVert rvert rfloor rceil neq ne le leq ge geq lt gt approx equiv sim ll gg "
        "forall in implies iff to rightarrow Rightarrow pm mp".split()
    )
    | {"\\"}
)
# A run of this many undeclared letters is a word ("square"), not a product of symbols.
_PROSE_RUN = 6


@dataclass(frozen=True)
class PendingName:
    """A name whose subscripts and primes are still being read."""

    name: str


@dataclass(frozen=True)
class CommaList:
    """A parenthesised comma list: function arguments or a vector."""

    items: tuple[Any, ...]


class AtomParser:
    """Reads atoms at a cursor over tokens; subclasses provide sums, powers and finishing."""

    def __init__(self, tokens: list[Token], source: str, table: SymbolTable, *, little_o: bool = False):
        self.toks = list(tokens)
        self.src = source
        self.table = table
        self.little_o = little_o
        self.i = 0
        self.depth = 0
        self.abs_depth = 0
        self.norm_depth = 0
        self.has_decimal = False

    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def error(self, message: str, tok: Token | None = None) -> LatexSyntaxError:
        return LatexSyntaxError(message, self.src, (tok or self.peek()).pos)

    def expect_char(self, *chars: str) -> Token:
        tok = self.peek()
        if not tok.is_char(*chars):
            found = "the end" if tok.kind == "EOF" else repr(tok.text)
            raise self.error(f"expected {' or '.join(repr(c) for c in chars)}, found {found}")
        return self.next()

    def split_current(self, n: int) -> None:
        """Keep the first ``n`` characters of the current NUM/IDENT token; the rest becomes a new token."""
        tok = self.peek()
        if len(tok.text) > n:
            head = Token(tok.kind, tok.text[:n], tok.pos, tok.space_before)
            tail = Token(tok.kind, tok.text[n:], tok.pos + n, False)
            self.toks[self.i : self.i + 1] = [head, tail]

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"expression nests deeper than {MAX_DEPTH} levels")

    def raw_group(self) -> list[Token]:
        """The tokens inside the brace group at the cursor, consumed."""
        self.expect_char("{")
        depth, start = 1, self.i
        while depth:
            tok = self.next()
            if tok.kind == "EOF":
                raise self.error("unbalanced '{'")
            depth += 1 if tok.is_char("{") else -1 if tok.is_char("}") else 0
        return self.toks[start : self.i - 1]

    def raw_argument(self) -> str:
        """The raw text of a one-token or braced argument (for ``\\mathbb{E}``, ``\\hat x``)."""
        tok = self.peek()
        if tok.is_char("{"):
            return raw_text(self.raw_group())
        if tok.kind in ("IDENT", "NUM"):
            self.split_current(1)
        if tok.kind in ("IDENT", "NUM", "CMD", "WORD"):
            return self.next().text
        raise self.error("expected an argument")

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
            if len(tok.text) > MAX_DIGITS:
                raise self.error(f"number has more than {MAX_DIGITS} digits", tok)
            self.has_decimal |= "." in tok.text
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

    def parse_group(self) -> Any:
        open_tok = self.next()
        close = ")" if open_tok.text == "(" else "]"
        if self.peek().is_char(close):
            raise self.error("empty brackets")
        items = [self.parse_sum()]
        while self.peek().is_char(","):
            self.next()
            items.append(self.parse_sum())
        self.expect_char(close)
        return items[0] if len(items) == 1 else CommaList(tuple(items))

    def arguments(self) -> list[Any]:
        group = self.parse_group()
        items = group.items if isinstance(group, CommaList) else (group,)
        return [self.finish(v) for v in items]

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
        if run in _FUNCTIONS or (calls and (run in _NAMED_FUNCTIONS or run.lower() in ("var", "cov"))):
            return run
        if calls and run in _ASYMPTOTIC:
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
                return self.table.symbol(name)(*self.arguments())
            return PendingName(name)
        if calls and name in _ASYMPTOTIC:
            return self.asymptotic(_ASYMPTOTIC[name])
        if calls and name == "o" and self.little_o:
            return self.asymptotic(LittleO)
        if calls and name.lower() in _OPERATORS and name != "e":
            return _OPERATORS[name.lower()](*self.arguments())
        if name in _FUNCTIONS:
            return self.function(name)
        if calls and (name in _NAMED_FUNCTIONS or name in _FUNCTION_GREEK):
            return sympy.Function(name)(*self.arguments())
        if name == "e" and nxt.is_char("^"):
            return sympy.E
        return PendingName(name)

    def word(self) -> Any:
        tok = self.next()
        text = tok.text
        if text in _ASYMPTOTIC or text.lower() in _OPERATORS or text in _FUNCTIONS:
            if text in ("E", "e") and not self.peek().is_char("[", "("):
                return PendingName(text)
            return self.named(text if text in _ASYMPTOTIC or text in _FUNCTIONS else text.capitalize())
        if text.replace("_", "").replace("'", "").isalnum() and text[0].isalpha():
            if self.peek().is_char("(") and not self.table.is_declared(text):
                return sympy.Function(text)(*self.arguments())
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
        if name in ("frac", "dfrac", "tfrac", "cfrac"):
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
        if name in _FUNCTIONS:
            return self.function(name)
        if name == "mathbb":
            letter = self.raw_argument()
            if letter == "E":
                return self.expectation()
            if letter == "V":
                return Variance(*self.arguments())
            raise self.error(f"\\mathbb{{{letter}}} is a set, not a value", tok)
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

    def function(self, name: str) -> Any:
        func = _FUNCTIONS[name]
        if name == "log" and self.peek().is_char("_"):
            self.next()
            base = self.finish(self.script_argument())
            arg = self.finish(self.arguments()[0] if self.peek().is_char("(", "[") else self.parse_postfix())
            return sympy.log(arg, base)
        if self.peek().is_char("(", "["):
            args = self.arguments()
        else:
            args = [self.finish(self.parse_postfix())]
        if name not in ("max", "min") and len(args) != 1:
            raise self.error(f"{name} takes one argument")
        return func(*args)

    def asymptotic(self, cls: Any) -> Any:
        args = self.arguments()
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
        return Expectation(*self.arguments())

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

    # Provided by ExpressionParser (the grammar above the atoms).
    def parse_sum(self) -> Any:
        raise NotImplementedError

    def parse_postfix(self) -> Any:
        raise NotImplementedError

    def script_argument(self) -> Any:
        raise NotImplementedError

    def finish(self, value: Any) -> Any:
        raise NotImplementedError

    def combine(self, a: Any, b: Any, op: str) -> Any:
        raise NotImplementedError
