"""Reading one answer as a chain: relation chains, labels, trailing prose, implications.

An answer such as ``\\mathbb{E}[q^\\top k] = \\sum_i \\mu_i^2 = d\\mu^2`` is a
*chain*: sides joined by relations. :func:`parse_math` parses each side on its
own, so a side in unsupported notation (the ``\\sum`` here) is recorded as an
error without losing the others. Before splitting, the text is trimmed:

* after the last top-level ``\\implies`` / ``\\Rightarrow`` / ``\\iff`` only
  the conclusion is kept (``d/s^2 = 1 \\implies s = \\sqrt d``);
* a leading label is dropped (``\\text{Total: } O(d^2)``, ``\\textbf{Answer:} 42``,
  ``Answer: 42``);
* at the first top-level ``\\forall``, ``\\text{ for ...}`` or other prose the
  rest is dropped (``\\text{sim}(q,k) > 0 \\quad \\forall q, k``), and so is a
  qualifier such as ``\\in \\mathbb{R}``; but ``x \\in (0, 1)`` or
  ``x \\in \\{1, 2\\}`` is a membership relation (``in``);
* trailing ``.`` and ``,`` are dropped.

Each side notes what it was written with: decimals, a percent sign, degrees,
a trailing unit word (``5\\,\\text{m}``), its brackets (a bare list, or one
pair that may be an interval), and ``\\pm`` (a side with ``\\pm`` or ``\\mp`` is
the set of both values: ``1 \\pm \\sqrt 2`` is ``{1 + sqrt 2, 1 - sqrt 2}``). A side with
an integral or a limit, which the grammar does not cover, is read by
:mod:`~evalkit.latex.library`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, replace
from typing import Any

import sympy

from evalkit.latex.lexer import LatexSyntaxError, Token, normalize_unicode, tokenize
from evalkit.latex.library import TRIGGERS, read_with_library
from evalkit.latex.parser import ExpressionParser
from evalkit.latex.symbols import SymbolTable
from evalkit.latex.units import DEGREE_WORDS, PERCENT_WORDS, normalize_unit

__all__ = ["RELATIONS", "ParsedMath", "ParsedSide", "parse_math", "parse_tokens", "prepare", "top_level"]

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
    "approx": "≈",
    "sim": "~",
    "simeq": "~",
    "propto": "propto",
    "<<": "<<",
    "ll": "<<",
    ">>": ">>",
    "gg": ">>",
    "in": "in",
    "notin": "notin",
}
_IMPLICATIONS = frozenset("implies Rightarrow Longrightarrow iff Leftrightarrow therefore".split())
_CUTS = frozenset("forall subset subseteq".split())
_PROSE = frozenset("for if where when or and since with as so because i.e. e.g. s.t. for all".split())
_TRAILING_SPACE = re.compile(r"(?:\\(?:q?quad|[,;:! ])|\s)+$")
_OPEN = frozenset(["(", "[", "{", "\\{"])
_CLOSE = frozenset([")", "]", "}", "\\}"])
_SET_STARTS = frozenset(["(", "[", "\\{"])
# Words after a value that are operators or names, never units.
_NOT_UNITS = frozenset("d sim softmax argmax argmin relu sigmoid var cov e o".split())


@dataclass(frozen=True)
class ParsedSide:
    """One side of a chain: its source text and either a sympy value or the parse error.

    ``brackets`` is ``""`` for a bare comma list, ``"()"`` or ``"[]"`` for one
    bracketed list, else None; ``unit`` is a trailing unit word, normalised.
    """

    source: str
    value: Any = None
    error: str | None = None
    has_decimal: bool = False
    percent: bool = False
    degrees: bool = False
    unit: str | None = None
    brackets: str | None = None
    plus_minus: bool = False

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


def top_level(tokens: list[Token]) -> list[int]:
    """Bracket depth before each token (matrix environments count as brackets)."""
    depths, depth = [], 0
    for tok in tokens:
        if tok.kind == "END" or (tok.kind == "CHAR" and tok.text in _CLOSE):
            depth = max(0, depth - 1)
        depths.append(depth)
        if tok.kind == "BEGIN" or (tok.kind == "CHAR" and tok.text in _OPEN):
            depth += 1
    return depths


def _is_membership(tokens: list[Token], k: int) -> bool:
    """Whether the ``\\in`` at ``k`` states a membership (``x \\in (0, 1)``), not a qualifier
    (``\\mu \\in \\mathbb{R}``)."""
    after = tokens[k + 1] if k + 1 < len(tokens) else None
    if after is None:
        return False
    if after.kind == "CHAR" and after.text in _SET_STARTS:
        return True
    if after.is_cmd("mathbb") and k == 1:  # the whole answer: x \\in \\mathbb{R} (not a shape R^{n})
        rest = tokens[k + 2 :]
        return not rest or not any(t.is_char("^") for t in rest[:4])
    return after.is_cmd("emptyset", "varnothing")


def _strip_label(tokens: list[Token], table: SymbolTable) -> list[Token]:
    """Drop a leading ``\\text{Total: }``, ``\\textbf{Answer:}`` or ``Total time:`` label."""
    if len(tokens) < 2:
        return tokens
    if tokens[0].kind == "WORD" and tokens[0].text.endswith(":"):
        return tokens[1:]
    for k, tok in enumerate(tokens[:4]):
        if tok.is_char(":"):
            head = tokens[:k]
            words = all(t.kind in ("WORD", "IDENT") and t.text.replace(" ", "").isalpha() for t in head)
            named = any(len(t.text) >= 3 and not table.is_declared(t.text) for t in head)
            return tokens[k + 1 :] if head and words and named and k + 1 < len(tokens) else tokens
    return tokens


def _trim(tokens: list[Token], table: SymbolTable) -> list[Token]:
    """Keep the conclusion of implications, drop labels, trailing prose and punctuation."""
    depths = top_level(tokens)
    for k in range(len(tokens) - 1, -1, -1):
        if depths[k] == 0 and tokens[k].kind == "CMD" and tokens[k].text in _IMPLICATIONS:
            tokens = tokens[k + 1 :]
            break
    tokens = _strip_label(tokens, table)
    depths = top_level(tokens)
    for k, tok in enumerate(tokens):
        if depths[k] != 0 or k == 0:
            continue
        qualifier = tok.is_cmd("in", "notin") and not _is_membership(tokens, k)
        if (tok.kind == "CMD" and tok.text in _CUTS) or qualifier or _is_prose(tok):
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


def _written_in(group: list[Token]) -> tuple[list[Token], dict[str, Any]]:
    """Strip a trailing unit, ``percent`` or ``degrees`` word; say which it was."""
    if len(group) < 2 or group[-1].kind not in ("WORD", "IDENT"):
        return group, {}
    last = group[-1]
    word = last.text.strip().lower()
    if word in PERCENT_WORDS:
        return group[:-1], {"percent": True}
    if word in DEGREE_WORDS:
        return group[:-1], {"degrees": True}
    if last.kind == "WORD" and word not in _NOT_UNITS and top_level(group)[-1] == 0:
        unit = normalize_unit(last.text)
        if unit is not None:
            return group[:-1], {"unit": unit}
    return group, {}


def _parse_group(group: list[Token], source: str, end: int, table: SymbolTable, little_o: bool) -> ParsedSide:
    eof = Token("EOF", "", end, False)
    parser = ExpressionParser([*group, eof], source, table, little_o=little_o)
    value = parser.parse_side()
    return ParsedSide(
        "",
        value,
        has_decimal=parser.has_decimal,
        percent=parser.percent,
        degrees=parser.degrees,
        brackets=parser.brackets,
    )


def _signs(group: list[Token], sign: str) -> list[Token]:
    """``group`` with ``\\pm`` read as ``sign`` and ``\\mp`` as the opposite sign."""
    other = "-" if sign == "+" else "+"
    return [
        Token("CHAR", sign if t.is_cmd("pm") else other, t.pos, t.space_before) if t.is_cmd("pm", "mp") else t
        for t in group
    ]


def _parse_side(group: list[Token], source: str, end: int, table: SymbolTable, little_o: bool) -> ParsedSide:
    group, written = _written_in(group)
    try:
        if any(t.is_cmd("pm", "mp") for t in group):
            plus = _parse_group(_signs(group, "+"), source, end, table, little_o)
            minus = _parse_group(_signs(group, "-"), source, end, table, little_o)
            values = [plus.value, minus.value]
            if any(isinstance(v, sympy.MatrixBase | sympy.Set) for v in values):
                raise LatexSyntaxError("'\\pm' is only supported in a single value")
            side = replace(plus, value=sympy.FiniteSet(*values), plus_minus=True, brackets=None)
        else:
            side = _parse_group(group, source, end, table, little_o)
    except LatexSyntaxError as err:
        if not any(t.is_cmd(*TRIGGERS) for t in group):
            return ParsedSide("", error=str(err))
        try:  # an integral or a limit: the general-purpose parser reads it
            side = ParsedSide("", read_with_library(group, source, table))
        except LatexSyntaxError as library_err:
            return ParsedSide("", error=f"{err} ({library_err})")
    except (ValueError, TypeError, ArithmeticError, RecursionError) as err:
        return ParsedSide("", error=f"cannot evaluate: {err}")
    if written.get("percent") and isinstance(side.value, sympy.Expr):
        side = replace(side, value=side.value / 100)
    return replace(
        side,
        percent=side.percent or written.get("percent", False),
        degrees=side.degrees or written.get("degrees", False),
        unit=written.get("unit"),
    )


def prepare(text: str) -> tuple[str, list[Token]]:
    """The answer's source (boxes and Unicode folded) and its tokens, EOF excluded."""
    source = _unbox(normalize_unicode(text))
    return source, tokenize(source)[:-1]


def parse_tokens(
    tokens: list[Token], source: str, table: SymbolTable, *, little_o: bool = False
) -> ParsedMath:
    """Parse one chain from tokens of ``source`` (see :func:`parse_math`)."""
    ends = {id(tok): nxt.pos for tok, nxt in itertools.pairwise(tokens)}
    tokens = _trim(tokens, table)
    if not tokens:
        raise LatexSyntaxError("no math found in the answer")
    groups: list[list[Token]] = [[]]
    relations: list[str] = []
    for tok, depth in zip(tokens, top_level(tokens), strict=True):
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
        start = group[0].pos
        end = ends.get(id(group[-1]), len(source))
        side_source = _TRAILING_SPACE.sub("", source[start:end]).strip()
        side = _parse_side(group, source, end, table, little_o)
        sides.append(replace(side, source=side_source))
    return ParsedMath(source, tuple(sides), tuple(relations))


def parse_math(text: str, table: SymbolTable, *, little_o: bool = False) -> ParsedMath:
    """Parse an answer into a chain of sides.

    Raises :class:`LatexSyntaxError` only when the text cannot be tokenized or
    holds no math; a side that does not parse carries its error instead.

    Example::

        parsed = parse_math(r"\\mathbb{E}[q^\\top k] = d\\mu^2", SymbolTable())
        parsed.last.value        # d*mu**2
        parsed.relations         # ('=',)
    """
    source, tokens = prepare(text)
    return parse_tokens(tokens, source, table, little_o=little_o)
