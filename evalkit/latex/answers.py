"""Reading a whole answer: one chain, several answers, a word, or a ratio.

:func:`read_answer` splits what one box or line states before each piece is
read as a chain (:mod:`~evalkit.latex.chain`):

* ``6 \\text{ and } 8``, ``x = 1 \\text{ or } x = 2``, ``a; b`` are several answers;
* ``k = 45, n = 2`` (every piece a relation) is several answers, and so is
  ``x = 1, 2`` (one name, several values); ``1, 2, 3`` stays one list;
* ``\\text{odd}``, ``\\text{does not exist}``, ``undefined``, ``NaN`` are word
  answers (with ``words=True``, when the expected answer is a word, plain
  letters such as ``odd`` are too); ``no solution`` and ``none`` are the empty set;
* ``3:4`` and ``1:2:3`` are ratios;
* ``1,22`` alone is a decimal comma (``1.22``); ``1,220`` is a digit group.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from evalkit.latex.chain import ParsedMath, ParsedSide, parse_tokens, prepare, top_level
from evalkit.latex.lexer import LatexSyntaxError, Token
from evalkit.latex.nodes import Ratio
from evalkit.latex.symbols import SymbolTable
from evalkit.latex.units import EMPTY_WORDS, NON_FINITE_WORDS, normalize_word

__all__ = ["Reading", "read_answer"]

_JOINERS = frozenset({"and", "or", "or equivalently", "and also", "or also"})
_NOT_WORDS = frozenset({"infinity", "infinite", "inf", "infty"})


@dataclass(frozen=True)
class Reading:
    """An answer as written: one or more chains (several answers), or a word.

    ``joiner`` says how several answers were joined: ``or``, ``and`` (also commas and
    ``;``), or ``mixed``; it matters for relations (``x < 1 or x > 2`` is a union,
    ``x \\ge 0 and x < 1`` an intersection), not for listed values.
    """

    source: str
    chains: tuple[ParsedMath, ...] = ()
    word: str | None = None
    joiner: str = "and"

    @property
    def several(self) -> bool:
        return len(self.chains) > 1


def _split(tokens: list[Token], at) -> list[list[Token]]:
    pieces: list[list[Token]] = [[]]
    for tok, depth in zip(tokens, top_level(tokens), strict=True):
        if depth == 0 and at(tok):
            pieces.append([])
        else:
            pieces[-1].append(tok)
    return [p for p in pieces if p]


def _joiner(tok: Token) -> str | None:
    """``and`` or ``or`` for a token that joins answers, else None."""
    if tok.kind == "WORD":
        words = " ".join(tok.text.lower().split())
        return words.split()[0] if words in _JOINERS else None
    if tok.kind == "IDENT" and tok.text in ("and", "or"):
        return tok.text
    return "and" if tok.is_char(";") else None


def _is_joiner(tok: Token) -> bool:
    return _joiner(tok) is not None


def _word_of(tokens: list[Token], table: SymbolTable, words: bool) -> str | None:
    """The word answer these tokens spell, if they spell one."""
    if not tokens or not all(t.kind in ("WORD", "IDENT") for t in tokens):
        return None
    text = " ".join(t.text for t in tokens).strip().rstrip(".")
    if not text.replace(" ", "").replace("'", "").isalpha() or text.lower() in _NOT_WORDS:
        return None
    normal = normalize_word(text)
    if normal in NON_FINITE_WORDS:
        return normal
    if len(tokens) == 1 and tokens[0].kind == "WORD":
        single = tokens[0].text
        return None if len(single) < 2 or table.is_declared(single) else normal
    return normal if words else None


def _decimal_comma(tokens: list[Token]) -> list[Token]:
    """``1,22`` alone (no spaces, not three digits after the comma) is the decimal 1.22."""
    if len(tokens) == 3 and tokens[0].kind == "NUM" and tokens[1].is_char(",") and tokens[2].kind == "NUM":
        whole, frac = tokens[0].text, tokens[2].text
        if whole.isdigit() and frac.isdigit() and len(frac) != 3 and not tokens[1].space_before:
            if not tokens[2].space_before:
                return [Token("NUM", f"{whole}.{frac}", tokens[0].pos)]
    return tokens


def _ratio(tokens: list[Token], source: str, table: SymbolTable) -> ParsedMath | None:
    """``a : b (: c)`` with no relation: one side holding a :class:`Ratio`."""
    depths = top_level(tokens)
    if not any(t.is_char(":") and d == 0 for t, d in zip(tokens, depths, strict=True)):
        return None
    parts = _split(tokens, lambda t: t.is_char(":"))
    if len(parts) < 2:
        return None
    values = []
    for part in parts:
        chain = parse_tokens(part, source, table)
        if chain.relations or not chain.last.ok or isinstance(chain.last.value, sympy.MatrixBase | sympy.Set):
            return None
        values.append(chain.last)
    start, end = tokens[0].pos, parts[-1][-1].pos + len(parts[-1][-1].text)
    side = ParsedSide(
        source[start:end].strip(),
        Ratio(*[v.value for v in values]),
        has_decimal=any(v.has_decimal for v in values),
    )
    return ParsedMath(source, (side,), ())


def _chain(tokens: list[Token], source: str, table: SymbolTable) -> ParsedMath:
    return _ratio(tokens, source, table) or parse_tokens(tokens, source, table)


def _comma_pieces(tokens: list[Token], source: str, table: SymbolTable) -> list[ParsedMath] | None:
    """``k = 45, n = 2`` or ``x = 1, 2`` as several chains; None when the commas make one list."""
    pieces = _split(tokens, lambda t: t.is_char(","))
    if len(pieces) < 2:
        return None
    chains = [parse_tokens(p, source, table) for p in pieces]
    if all(c.relations for c in chains):
        return chains
    if (
        len(chains) == 2
        and not chains[0].relations
        and chains[1].relations
        and "=" not in chains[1].relations
    ):
        return chains  # d^{1/2}, d > 0: a value and a qualifier
    return _values_of_one_name(chains)


def _values_of_one_name(chains: list[ParsedMath]) -> list[ParsedMath] | None:
    """``x = 1, 2`` or ``x = 1 or 2``: each bare value after the first is a value of ``x``."""
    first = chains[0]
    lone = first.sides[0]
    if (
        first.relations == ("=",)
        and lone.ok
        and isinstance(lone.value, sympy.Symbol)
        and not any(c.relations for c in chains[1:])
    ):
        return [first] + [ParsedMath(c.source, (lone, c.last), ("=",)) for c in chains[1:]]
    return None


def read_answer(text: str, table: SymbolTable, *, words: bool = False) -> Reading:
    """Read ``text`` as one answer or several (see the module docstring).

    Raises :class:`LatexSyntaxError` when the text cannot be tokenized or holds
    no math; a piece that does not parse carries its error in its sides.

    Example::

        reading = read_answer(r"k = 45, n = 2", SymbolTable())
        [c.last.value for c in reading.chains]    # [45, 2]
    """
    source, tokens = prepare(text)
    while tokens and tokens[-1].is_char(".", ",", ";"):
        tokens = tokens[:-1]
    if not tokens:
        raise LatexSyntaxError("no math found in the answer")
    labelled = tokens[1:] if tokens[0].kind == "WORD" and tokens[0].text.endswith(":") else tokens
    word = _word_of(labelled, table, True)
    if word in EMPTY_WORDS:  # "no solution" is the empty set
        return Reading(source, (ParsedMath(source, (ParsedSide(source.strip(), sympy.EmptySet),), ()),))
    word = _word_of(labelled, table, words)
    if word is not None:
        return Reading(source, word=word)
    pieces = _split(tokens, _is_joiner)
    if len(pieces) > 1:
        depths = top_level(tokens)
        joiners = {j for t, d in zip(tokens, depths, strict=True) if d == 0 and (j := _joiner(t)) is not None}
        joiner = joiners.pop() if len(joiners) == 1 else "mixed"
        chains = [_chain(p, source, table) for p in pieces]
        return Reading(source, tuple(_values_of_one_name(chains) or chains), joiner=joiner)
    tokens = _decimal_comma(tokens)
    several = _comma_pieces(tokens, source, table)
    if several is not None:
        return Reading(source, tuple(several))
    return Reading(source, (_chain(tokens, source, table),))
