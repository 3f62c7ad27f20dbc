"""Reading a whole answer: relation chains, trailing prose, implications.

An answer such as ``\\mathbb{E}[q^\\top k] = \\sum_i \\mu_i^2 = d\\mu^2`` is a
*chain*: sides joined by relations. :func:`parse_math` parses each side on its
own, so a side in unsupported notation (the ``\\sum`` here) is recorded as an
error without losing the others. Before splitting, the text is trimmed:

* after the last top-level ``\\implies`` / ``\\Rightarrow`` / ``\\iff`` only
  the conclusion is kept (``d/s^2 = 1 \\implies s = \\sqrt d``);
* at the first top-level ``\\forall``, ``\\in``, ``\\text{ for ...}`` or other
  prose the rest is dropped (``\\text{sim}(q,k) > 0 \\quad \\forall q, k``);
* trailing ``.`` and ``,`` are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from evalkit.latex.lexer import LatexSyntaxError, Token, normalize_unicode, tokenize
from evalkit.latex.parser import ExpressionParser
from evalkit.latex.symbols import SymbolTable

__all__ = ["RELATIONS", "ParsedMath", "ParsedSide", "parse_math"]

# Relation spellings and their normal form.
RELATIONS = {
    "=": "=",
    ":=": "=",
    "equiv": "=",
    "coloneqq": "=",
    "triangleq": "=",
    "eqqcolon": "=",
    "!=": "!=",
    "neq": "!=",
    "ne": "!=",
    "<": "<",
    "lt": "<",
    ">": ">",
    "gt": ">",
    "<=": "<=",
    "le": "<=",
    "leq": "<=",
    "leqslant": "<=",
    ">=": ">=",
    "ge": ">=",
    "geq": ">=",
    "geqslant": ">=",
    "approx": "~",
    "sim": "~",
    "simeq": "~",
    "propto": "propto",
    "<<": "<<",
    "ll": "<<",
    ">>": ">>",
    "gg": ">>",
}
_IMPLICATIONS = frozenset("implies Rightarrow Longrightarrow iff Leftrightarrow therefore".split())
_CUTS = frozenset("forall in notin subset subseteq".split())
_PROSE = frozenset("for if where when or and since with as so because i.e. e.g. s.t. for all".split())
_TRAILING_SPACE = re.compile(r"(?:\\(?:q?quad|[,;:! ])|\s)+$")
_OPEN = frozenset("([{")
_CLOSE = frozenset(")]}")


@dataclass(frozen=True)
class ParsedSide:
    """One side of a chain: its source text and either a sympy value or the parse error."""

    source: str
    value: Any = None
    error: str | None = None
    has_decimal: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class ParsedMath:
    """An answer read as a chain ``side (rel side)*``; ``relations[i]`` joins sides ``i`` and ``i+1``."""

    source: str
    sides: tuple[ParsedSide, ...]
    relations: tuple[str, ...]

    @property
    def last(self) -> ParsedSide:
        return self.sides[-1]


def _relation(tok: Token) -> str | None:
    if tok.kind in ("CHAR", "CMD"):
        return RELATIONS.get(tok.text)
    return None


def _is_prose(tok: Token) -> bool:
    if tok.kind != "WORD":
        return False
    text = tok.text.strip().lower()
    return " " in text or text in _PROSE or not text


def _top_level(tokens: list[Token]) -> list[int]:
    """Bracket depth before each token (matrix environments count as brackets)."""
    depths, depth = [], 0
    for tok in tokens:
        if tok.kind == "END" or (tok.kind == "CHAR" and tok.text in _CLOSE):
            depth = max(0, depth - 1)
        depths.append(depth)
        if tok.kind == "BEGIN" or (tok.kind == "CHAR" and tok.text in _OPEN):
            depth += 1
    return depths


def _trim(tokens: list[Token]) -> list[Token]:
    """Keep the conclusion of implications, drop trailing prose and punctuation."""
    depths = _top_level(tokens)
    for k in range(len(tokens) - 1, -1, -1):
        if depths[k] == 0 and tokens[k].kind == "CMD" and tokens[k].text in _IMPLICATIONS:
            tokens, depths = tokens[k + 1 :], depths[k + 1 :]
            break
    for k, tok in enumerate(tokens):
        if depths[k] == 0 and k > 0 and ((tok.kind == "CMD" and tok.text in _CUTS) or _is_prose(tok)):
            tokens = tokens[:k]
            break
    while tokens and tokens[-1].kind == "CHAR" and tokens[-1].text in ".,;:":
        tokens = tokens[:-1]
    return tokens


def _unbox(text: str) -> str:
    """``\\boxed{X}`` becomes `` X `` (a box is emphasis, not structure)."""
    while (start := text.find("\\boxed")) >= 0:
        open_at = text.find("{", start)
        if open_at < 0 or text[start + 6 : open_at].strip():
            raise LatexSyntaxError("\\boxed needs a braced argument", text, start)
        depth = 0
        for end in range(open_at, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0) if text[end - 1] != "\\" else 0
            if depth == 0:
                break
        else:
            raise LatexSyntaxError("unbalanced '{' after \\boxed", text, start)
        text = f"{text[:start]} {text[open_at + 1 : end]} {text[end + 1 :]}"
    return text


def parse_math(text: str, table: SymbolTable, *, little_o: bool = False) -> ParsedMath:
    """Parse an answer into a chain of sides.

    Raises :class:`LatexSyntaxError` only when the text cannot be tokenized or
    holds no math; a side that does not parse carries its error instead.

    Example::

        parsed = parse_math(r"\\mathbb{E}[q^\\top k] = d\\mu^2", SymbolTable())
        parsed.last.value        # d*mu**2
        parsed.relations         # ('=',)
    """
    source = _unbox(normalize_unicode(text))
    all_tokens = tokenize(source)
    next_pos = {id(tok): all_tokens[i + 1].pos for i, tok in enumerate(all_tokens[:-1])}
    tokens = _trim(all_tokens[:-1])
    if not tokens:
        raise LatexSyntaxError("no math found in the answer")
    depths = _top_level(tokens)
    groups: list[list[Token]] = [[]]
    relations: list[str] = []
    for tok, depth in zip(tokens, depths, strict=True):
        rel = _relation(tok) if depth == 0 else None
        if rel is not None:
            groups.append([])
            relations.append(rel)
        else:
            groups[-1].append(tok)
    sides = []
    for group in groups:
        if not group:
            sides.append(ParsedSide("", error="a relation has an empty side"))
            continue
        start, end = group[0].pos, next_pos[id(group[-1])]
        side_source = _TRAILING_SPACE.sub("", source[start:end]).strip()
        eof = Token("EOF", "", end, False)
        parser = ExpressionParser([*group, eof], source, table, little_o=little_o)
        try:
            value = parser.parse_side()
        except LatexSyntaxError as err:
            sides.append(ParsedSide(side_source, error=str(err)))
        except (ValueError, TypeError, ArithmeticError, RecursionError) as err:
            sides.append(ParsedSide(side_source, error=f"cannot evaluate: {err}"))
        else:
            sides.append(ParsedSide(side_source, value, has_decimal=parser.has_decimal))
    return ParsedMath(source, tuple(sides), tuple(relations))
