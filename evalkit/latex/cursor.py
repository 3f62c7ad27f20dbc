"""A cursor over tokens, shared by the parser's pieces.

:class:`Cursor` holds the tokens, the symbol table and what the parser has
noticed so far (decimals, a percent sign, degrees); it declares the grammar
hooks that :class:`~evalkit.latex.parser.ExpressionParser` provides, so the
atom mixins (:mod:`~evalkit.latex.atoms`, :mod:`~evalkit.latex.functions`,
:mod:`~evalkit.latex.brackets`) can call them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from evalkit.latex.lexer import LatexSyntaxError, Token, raw_text
from evalkit.latex.symbols import SymbolTable

__all__ = ["MAX_DEPTH", "MAX_DIGITS", "MAX_EXPONENT", "CommaList", "Cursor", "PendingName"]

MAX_DEPTH = 40
MAX_DIGITS = 40
MAX_EXPONENT = 1000


@dataclass(frozen=True)
class PendingName:
    """A name whose subscripts and primes are still being read."""

    name: str


@dataclass(frozen=True)
class CommaList:
    """A comma list: function arguments, a vector or tuple, or a list of answers.

    ``brackets`` is how it was written: ``"()"``, ``"[]"``, ``"{}"`` (a set) or ``""`` (bare).
    """

    items: tuple[Any, ...]
    brackets: str = "()"


class Cursor:
    """Tokens, a position, and the grammar hooks the atoms call back into."""

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
        self.percent = False
        self.degrees = False
        self.brackets: str | None = None
        # the token span and brackets of the last bracketed list read: (start, end, "()")
        self.last_list: tuple[int, int, str] | None = None
        # Names bound by an enclosing \sum or \prod (the index), and their symbols.
        self.bound: dict[str, sympy.Symbol] = {}

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

    # Provided by ExpressionParser (the grammar above the atoms) and AtomParser.
    def parse_sum(self) -> Any:
        raise NotImplementedError

    def parse_product(self) -> Any:
        raise NotImplementedError

    def parse_postfix(self) -> Any:
        raise NotImplementedError

    def parse_atom(self) -> Any:
        raise NotImplementedError

    def script_argument(self) -> Any:
        raise NotImplementedError

    def finish(self, value: Any) -> Any:
        raise NotImplementedError

    def combine(self, a: Any, b: Any, op: str) -> Any:
        raise NotImplementedError

    def starts_atom(self, tok: Token) -> bool:
        raise NotImplementedError

    def parse_group(self) -> Any:
        raise NotImplementedError
