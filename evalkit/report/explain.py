"""A checker's explanation as text, code and math: what the report shows beside a verdict.

Checks explain in words and write math two ways: as the model wrote it
(``O\\left(d^2 + bd + \\frac{bnd}{h}\\right) is the same class as ...``) and as
sympy prints it (``d mu^2 is equivalent to the expected answer``,
``O(N^2(D + M))``, ``sqrt(2) x_i``). :func:`explanation_pieces` finds those
spans and gives each one as TeX, so both reports typeset it (MathML in HTML,
math mode in the PDF); a backtick span is code; a quoted one
(``could not read 'O(n^2'``, a regex's pattern) is raw text, as is the rest. A span counts
as math only when something marks it so (a script, a TeX command, a Greek
letter, a known function, an operator with a letter beside it): ``[h, d, q]``
and ``3/4 claims`` stay text. A long explanation is cut between pieces, never
inside a formula or a piece of code.

Example::

    [(p.kind, p.tex or p.text) for p in explanation_pieces("formula: d mu^2 is equivalent")]
    # [('text', 'formula: '), ('math', 'd \\\\mu^2'), ('text', ' is equivalent')]
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Literal

from markupsafe import Markup

from evalkit.report.allowlist import GREEK
from evalkit.report.latexmd import math_latex
from evalkit.report.mathml import to_mathml
from evalkit.report.texescape import escape_text

__all__ = ["MAX_EXPLANATION_CHARS", "Piece", "explanation_html", "explanation_latex", "explanation_pieces"]

MAX_EXPLANATION_CHARS = 2000  # the margin and the verdict table show this much; the rest is "…"

_GREEK = set(GREEK.split())
_TEX_FUNCS = set("exp log ln sin cos tan tanh sinh cosh max min det arg lim sup inf".split())
_CLASSES = {"O", "Θ", "Ω", "o", "ω"}  # growth classes: O(...) is math whatever its argument
_SHORT_WORDS = set("is as of in on at by to be or an if it so no we up do".split())
_OPS = ("<=", ">=", "!=", "==", "**", "+", "-", "*", "/", "=", "<", ">", "≤", "≥", "≠", "·", "×")
_CLOSE = {"(": ")", "[": "]", "{": "}"}
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*|[α-ωΑ-Ω]")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")  # 41, 0.5, 1e-06
_COMMAND = re.compile(r"\\(?:[A-Za-z]+|[^A-Za-z\s])")
_CODE = re.compile(r"`([^`\n]+)`")
_QUOTED = re.compile(r"(?<!\w)'[^'\n]*'(?!\w)")  # 'O(n^2', a regex: what the check quotes, raw
_MAX_DEPTH = 12


@dataclass(frozen=True)
class Piece:
    """Part of an explanation: ``text``, ``code`` or ``math`` (``tex`` is the formula; ``text`` as written)."""

    kind: Literal["text", "code", "math"]
    text: str
    tex: str = ""


# --- finding math ---------------------------------------------------------------------------------


def _prose(word: str) -> bool:
    """A word of the sentence, not a product of symbols (``the``, ``is``; not ``bnd`` or ``ND``)."""
    return word.lower() in _SHORT_WORDS or (len(word) >= 3 and bool(re.search(r"[aeiouy]", word, re.I)))


class _Reader:
    """Reads one formula-like span at a position: operands joined by operators or juxtaposition."""

    def __init__(self, text: str) -> None:
        self.s = text

    def group(self, i: int, depth: int) -> tuple[int, bool] | None:
        """A bracketed group at ``i`` holding only math: its end and whether its content marks math."""
        close = _CLOSE[self.s[i]]
        got = self.sequence(i + 1, depth + 1, commas=True)
        end, signal = got if got else (i + 1, False)
        end = self._spaces(end)
        if end < len(self.s) and self.s[end] == close:
            return end + 1, signal
        if end == i + 1 and i + 1 < len(self.s) and self.s[i + 1] == close:
            return i + 2, False
        return None

    def _spaces(self, i: int) -> int:
        while i < len(self.s) and self.s[i] == " ":
            i += 1
        return i

    def _script(self, i: int, depth: int) -> int | None:
        """The script after ``^`` or ``_`` at ``i - 1``: a group, a number, a word, a sign and a number."""
        s = self.s
        if i < len(s) and s[i] in _CLOSE:
            got = self.group(i, depth)
            return got[0] if got else None
        if i < len(s) and s[i] == "-":
            i += 1
        m = _NUMBER.match(s, i) or re.compile(r"[A-Za-z]+|[α-ωΑ-Ω]").match(s, i) or _COMMAND.match(s, i)
        return m.end() if m else None

    def operand(self, i: int, depth: int) -> tuple[int, bool] | None:
        """One operand at ``i`` (a word, number, command, call or group, with its scripts)."""
        if depth > _MAX_DEPTH or i >= len(self.s):
            return None
        s, signal = self.s, False
        if (m := _COMMAND.match(s, i)) is not None:
            end, signal = m.end(), True
            if m.group(0) in (r"\left", r"\right") and end < len(s):
                end += 1 if s[end] in ("([|." if m.group(0) == r"\left" else ")]|.") else 0
            while end < len(s) and s[end] == "{":
                got = self.group(end, depth)
                if got is None:
                    break
                end = got[0]
        elif (m := _WORD.match(s, i)) is not None:
            word, end = m.group(0), m.end()
            base, _, sub = word.partition("_")
            if sub:  # x_i, Q_i, mu_k: a subscript; d_model, split_heads: a name
                if not (len(base) == 1 or base in _GREEK) or not re.fullmatch(r"[A-Za-z0-9]{1,3}", sub):
                    return None
                signal = True
            called = end < len(s) and s[end] in "(["
            if not sub and not called and len(word) > 1 and word not in _GREEK and _prose(word):
                return None
            signal = signal or word in _GREEK or bool(re.fullmatch(r"[α-ωΑ-Ω]", word))
            if called:
                got = self.group(end, depth)
                if got is not None:
                    known = word in _CLASSES or word in _GREEK or word in _TEX_FUNCS or word == "sqrt"
                    end, signal = got[0], signal or got[1] or known or len(word) > 1
                elif len(word) > 1 and _prose(word):
                    return None
        elif (m := _NUMBER.match(s, i)) is not None:
            end = m.end()
        elif s[i] in _CLOSE:
            got = self.group(i, depth)
            if got is None:
                return None
            end, signal = got
        else:
            return None
        while end < len(s) and s[end] in "^_":
            after = self._script(end + 1, depth)
            if after is None:
                break
            end, signal = after, True
        return end, signal

    def sequence(self, i: int, depth: int, commas: bool = False) -> tuple[int, bool] | None:
        """Operands from ``i`` joined by operators, spaces or (in a group) commas; its end and signal."""
        first = self.operand(i, depth)
        if first is None:
            return None
        end, signal = first
        letters = bool(re.search(r"[A-Za-zα-ωΑ-Ω\\]", self.s[i:end]))
        while True:
            j = self._spaces(end)
            op = next((o for o in _OPS if self.s.startswith(o, j)), None)
            if op is None and commas and self.s.startswith(",", j):
                op = ","
            k = self._spaces(j + len(op)) if op else j
            nxt = self.operand(k, depth)
            if nxt is None:
                return end, signal
            start, (end, more) = k, nxt
            has_letter = bool(re.search(r"[A-Za-zα-ωΑ-Ω\\]", self.s[start:end]))
            signal = signal or more or (op not in (None, ",") and (letters or has_letter))
            letters = letters or has_letter


def _spans(text: str) -> list[Piece]:
    """``text`` (no code in it) cut into text and math pieces; what it quotes stays text."""
    out: list[Piece] = []
    at = 0
    for m in _QUOTED.finditer(text):
        out += _unquoted(text[at : m.start()])
        out.append(Piece("text", m.group(0)))
        at = m.end()
    return out + _unquoted(text[at:])


def _unquoted(text: str) -> list[Piece]:
    reader, i = _Reader(text), 0
    out: list[Piece] = []
    plain: list[str] = []
    while i < len(text):
        boundary = i == 0 or not (
            text[i - 1].isalnum()
            or text[i - 1] in "_\\"
            or (text[i - 1] == "'" and text[i - 2 : i - 1].isalpha())
        )  # not inside a word: 'split_heads', "isn't"
        got = reader.sequence(i, 0) if boundary else None
        if got is not None and got[1]:
            if plain:
                out.append(Piece("text", "".join(plain)))
                plain = []
            source = text[i : got[0]]
            out.append(Piece("math", source, _tex(source)))
            i = got[0]
            continue
        m = re.compile(r"[A-Za-z0-9_]+").match(text, i)
        step = m.end() if m and boundary else i + 1
        plain.append(text[i:step])
        i = step
    if plain:
        out.append(Piece("text", "".join(plain)))
    return out


# --- sympy's ASCII as TeX -------------------------------------------------------------------------

_ASCII = re.compile(
    r"(?P<word>[A-Za-z]+)|(?P<num>\d+(?:\.\d+)?)|(?P<op><=|>=|!=|==|->|\*\*)|(?P<ch>.)", re.DOTALL
)
_ASCII_OPS = {"<=": r"\le ", ">=": r"\ge ", "!=": r"\ne ", "==": "=", "->": r"\to ", "**": "^", "*": r"\,"}


def _matching(tokens: list[str], i: int) -> int | None:
    """The index of the bracket closing ``tokens[i]``."""
    depth = 0
    for j in range(i, len(tokens)):
        depth += tokens[j] in _CLOSE
        depth -= tokens[j] in _CLOSE.values()
        if depth == 0:
            return j
    return None


def _tex(source: str) -> str:
    """A span as TeX: TeX as written, sympy's ASCII (``sqrt(d)``, ``mu^2``, ``h*v``) translated."""
    if "\\" in source:
        return source
    tokens = [m.group(0) for m in _ASCII.finditer(source)]
    return _tex_tokens(tokens)


def _tex_tokens(tokens: list[str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok == "sqrt" and nxt == "(" and (end := _matching(tokens, i + 1)) is not None:
            out.append(r"\sqrt{" + _tex_tokens(tokens[i + 2 : end]) + "}")
            i = end + 1
            continue
        if tok in ("^", "**", "_") and nxt:
            mark = "_" if tok == "_" else "^"
            if nxt == "(" and (end := _matching(tokens, i + 1)) is not None:
                out.append(mark + "{" + _tex_tokens(tokens[i + 2 : end]) + "}")
                i = end + 1
            elif nxt == "-" and i + 2 < len(tokens):
                out.append(mark + "{-" + _tex_tokens([tokens[i + 2]]) + "}")
                i += 3
            else:
                out.append(mark + "{" + _tex_tokens([nxt]) + "}")
                i += 2
            continue
        if tok in _GREEK or tok in _TEX_FUNCS:
            out.append(f"\\{tok} ")
        elif len(tok) > 1 and tok.isalpha() and nxt == "(" and tok not in _CLASSES:
            out.append(r"\operatorname{" + tok + "}")
        else:
            out.append(_ASCII_OPS.get(tok, tok))
        i += 1
    return "".join(out)


# --- pieces, and the two renderings ---------------------------------------------------------------


def explanation_pieces(text: str, limit: int = MAX_EXPLANATION_CHARS) -> tuple[Piece, ...]:
    """``text`` as pieces of text, code and math, cut to about ``limit`` characters between pieces."""
    text = " ".join(str(text).split())
    pieces: list[Piece] = []
    at = 0
    for m in _CODE.finditer(text):
        pieces += _spans(text[at : m.start()])
        pieces.append(Piece("code", m.group(1)))
        at = m.end()
    pieces += _spans(text[at:])
    kept: list[Piece] = []
    used = 0
    for piece in pieces:
        size = len(piece.text)
        if used + size > limit:
            room = limit - used
            if piece.kind == "text" and room > 0:
                cut = piece.text[:room].rsplit(" ", 1)[0] if " " in piece.text[:room] else ""
                kept.append(Piece("text", cut.rstrip(" ,;:") + "…"))
            else:
                kept.append(Piece("text", " …" if kept else "…"))
            break
        kept.append(piece)
        used += size
    return tuple(kept)


def explanation_html(text: str, limit: int = MAX_EXPLANATION_CHARS) -> Markup:
    """An explanation as safe HTML: math as MathML, code as ``<code>``."""
    out = []
    for piece in explanation_pieces(text, limit):
        if piece.kind == "code":
            out.append(f"<code>{html.escape(piece.text)}</code>")
            continue
        mathml = to_mathml(piece.tex) if piece.kind == "math" else None
        out.append(mathml if mathml is not None else html.escape(piece.text, quote=False))
    return Markup("".join(out))


_BREAK_AFTER = set("_./,(=-")


def _breakable(text: str) -> str:
    """Escaped text whose long words may break (after ``_./,(=-``, or every 10 characters if none)."""
    out = []
    for word in re.split(r"(\s+)", text):
        if len(word) <= 18:
            out.append(escape_text(word))
            continue
        run = 0
        for char in word:
            out.append(escape_text(char))
            run += 1
            if char in _BREAK_AFTER or run >= 10:
                out.append(r"\allowbreak{}")
                run = 0
    return "".join(out)


def explanation_latex(text: str, limit: int = MAX_EXPLANATION_CHARS) -> str:
    """An explanation as LaTeX that wraps: math in math mode, code in ``\\texttt``, long words breakable."""
    out = []
    for piece in explanation_pieces(text, limit):
        if piece.kind == "math":
            out.append(math_latex(piece.tex))
        elif piece.kind == "code":
            out.append(r"\texttt{" + _breakable(piece.text) + "}")
        else:
            out.append(_breakable(piece.text))
    return "".join(out)
