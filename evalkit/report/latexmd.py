"""Markdown with TeX math (tokens from :func:`evalkit.report.markdown.parse`) written as LaTeX.

Everything the text says is escaped (:func:`~evalkit.report.texescape.escape_text`);
math goes through the allow-list of :mod:`evalkit.report.texmath`; code is
typeset by Pygments in an ``fvextra`` Verbatim that breaks long lines. The
macros used here (``\\ekheading``, ``\\ekdisplay``, ``\\ekurl``,
``\\ekunichar``, the L/C/R column types) are defined by ``report.tex.j2``.

``margin=True`` writes for a macro argument such as ``\\marginpar``, where
Verbatim and tables cannot go: code becomes ``\\texttt`` lines, tables rows of text.
``lead`` is TeX the caller built (a margin note) put where the text's first
line is, so a note sits beside the passage it is about.

Example::

    to_latex("**Part (a)** $\\\\boxed{d\\\\mu^2}$")
    # '\\textbf{Part (a)} $\\boxed{d\\mu ^{2}}$'
"""

from __future__ import annotations

import re

from markdown_it.token import Token

from evalkit.report.markdown import code_lexer, parse, safe_href
from evalkit.report.texescape import escape_text, escape_verbatim_unicode
from evalkit.report.texmath import MathTooComplex, sanitize_math

__all__ = ["code_style_defs", "math_latex", "to_latex"]

_MAX_LIST_DEPTH = 4  # LaTeX allows 4 nested lists (and 6 list-like environments in all)
_BREAK_AFTER = set("_./,(=")
_CODE_STYLE = "default"
_OPENERS = {
    "strong_open": r"\textbf{",
    "em_open": r"\emph{",
    "s_open": r"\ekstrike{",
    "sub_open": r"\textsubscript{",
    "sup_open": r"\textsuperscript{",
}


def code_style_defs() -> str:
    """The Pygments macro definitions the preamble needs."""
    from pygments.formatters import LatexFormatter

    return str(LatexFormatter(style=_CODE_STYLE).get_style_defs())


def math_latex(tex: str, display: bool = False) -> str:
    """A formula as safe LaTeX math (``$...$`` or ``\\ekdisplay{...}``), or its source as text."""
    try:
        body = sanitize_math(tex, "latex")
    except MathTooComplex:
        delim = "$$" if display else "$"
        return r"\texttt{" + _code_text(delim + tex + delim) + "}"
    if not body:
        return ""
    return f"\\ekdisplay{{{body}}}" if display else f"${body}$"


def _code_text(text: str) -> str:
    """Inline code: escaped, with places to break long identifiers (after ``_`` only in long ones)."""
    out = []
    for word in re.split(r"(\s+)", text):
        if not word:
            continue
        if word.isspace():
            out.append(r"\ ")
            continue
        breaks = _BREAK_AFTER if len(word) > 18 else _BREAK_AFTER - {"_"}
        for char in word:
            out.append(escape_text(char))
            if char in breaks:
                out.append(r"\allowbreak{}")
    return "".join(out)


class _Writer:
    def __init__(self, margin: bool, lead: str = "") -> None:
        self.margin = margin
        self.lead = lead  # emitted once, on the first line of text (or before a first block of another kind)
        self.out: list[str] = []
        self.lists: list[str] = []  # open list environments ("" when nested too deep to open one)
        self.quotes = 0
        self.table: list[list[tuple[str, str]]] = []
        self.cell: list[str] | None = None
        self.align = "L"
        self.header_cell = False
        self.heading = False
        self.links: list[str | None] = []

    def emit(self, text: str) -> None:
        (self.cell if self.cell is not None else self.out).append(text)

    # block tokens ------------------------------------------------------------------------------
    def block(self, tokens: list[Token]) -> str:
        handlers = {
            "paragraph_close": lambda t: self.emit("\n" if t.hidden else "\n\n"),
            "heading_open": lambda t: self.heading_open(int(t.tag[1])),
            "heading_close": lambda t: self.heading_close(),
            "bullet_list_open": lambda t: self.list_open("itemize", ""),
            "ordered_list_open": lambda t: self.list_open("enumerate", str(t.attrs.get("start", ""))),
            "bullet_list_close": lambda t: self.list_close(),
            "ordered_list_close": lambda t: self.list_close(),
            "list_item_open": lambda t: self.item(t),
            "blockquote_open": lambda t: self.quote(True),
            "blockquote_close": lambda t: self.quote(False),
            "hr": lambda t: self.emit("\\par\\noindent\\rule{\\linewidth}{0.4pt}\\par\n"),
            "fence": lambda t: self.code(t),
            "code_block": lambda t: self.code(t),
            "math_block": lambda t: self.emit(math_latex(t.content, display=not self.margin) + "\n\n"),
            "table_open": lambda t: self.table.clear(),
            "tr_open": lambda t: self.table.append([]),
            "th_open": lambda t: self.cell_open(t),
            "td_open": lambda t: self.cell_open(t),
            "th_close": lambda t: self.cell_close(),
            "td_close": lambda t: self.cell_close(),
            "table_close": lambda t: self.table_close(),
            "inline": lambda t: self.inline(t.children or []),
        }
        for token in tokens:
            if self.lead and token.type in ("fence", "code_block", "math_block", "table_open", "hr"):
                self.emit(self.lead + "%\n")  # in vertical mode: beside the block's first line
                self.lead = ""
            handler = handlers.get(token.type)
            if handler is not None:
                handler(token)
        if self.lead:
            self.emit(self.lead)
        return "".join(self.out).strip()

    def heading_open(self, level: int) -> None:
        self.heading = True
        self.emit(r"\par\textbf{" if self.margin else f"\\ekheading{{{min(level, 4)}}}{{")

    def heading_close(self) -> None:
        self.heading = False
        self.emit("}\\par " if self.margin else "}\n\n")

    def list_open(self, env: str, start: str) -> None:
        depth = sum(1 for e in self.lists if e)
        if self.margin or depth >= _MAX_LIST_DEPTH or depth + self.quotes >= 5:
            self.lists.append("")
            return
        option = f"[start={int(start)}]" if start.isdigit() and env == "enumerate" else ""
        self.lists.append(env)
        self.emit(f"\\begin{{{env}}}{option}\n")

    def list_close(self) -> None:
        env = self.lists.pop() if self.lists else ""
        if env:
            self.emit(f"\\end{{{env}}}\n")

    def item(self, token: Token) -> None:
        if self.lists and self.lists[-1]:
            self.emit(r"\item ")
        else:  # too deep, or in a margin note: a bullet at the start of a line
            self.emit(r"\par\noindent\textbullet\ ")

    def quote(self, opening: bool) -> None:
        if self.margin:
            return
        if opening:
            self.quotes += 1
            if self.quotes + len([e for e in self.lists if e]) <= 5:
                self.emit("\\begin{quote}\n")
        else:
            if self.quotes + len([e for e in self.lists if e]) <= 5:
                self.emit("\\end{quote}\n")
            self.quotes -= 1

    def code(self, token: Token) -> None:
        code = token.content.rstrip("\n")
        if self.margin:
            lines = [r"\texttt{" + _code_text(line) + "}" for line in code.split("\n")]
            self.emit(r"\par " + r"\\ ".join(lines) + r"\par ")
            return
        from pygments import highlight
        from pygments.formatters import LatexFormatter

        formatter = LatexFormatter(style=_CODE_STYLE)
        self.emit(
            "\n" + escape_verbatim_unicode(highlight(code, code_lexer(token.info, code), formatter)) + "\n"
        )

    def cell_open(self, token: Token) -> None:
        self.cell = [r"\textbf{"] if token.type == "th_open" else []
        self.header_cell = token.type == "th_open"
        style = str(token.attrs.get("style", ""))
        self.align = "R" if "right" in style else "C" if "center" in style else "L"

    def cell_close(self) -> None:
        text = "".join(self.cell or [])
        if self.header_cell:  # a body cell may start with bold of its own
            text += "}"
        self.cell = None
        if not self.table:
            self.table.append([])
        self.table[-1].append((self.align, text))

    def table_close(self) -> None:
        rows = [row for row in self.table if row]
        self.table = []
        if not rows:
            return
        if self.margin:
            for row in rows:
                self.emit(r"\par " + " \\textbar{} ".join(text for _, text in row))
            self.emit(r"\par ")
            return
        width = max(len(r) for r in rows)
        spec = "".join(align for align, _ in rows[0]) + "L" * (width - len(rows[0]))
        lines = []
        for i, row in enumerate(rows):
            cells = [text for _, text in row] + [""] * (width - len(row))
            lines.append(" & ".join(cells) + r" \\" + (r" \midrule" if i == 0 else ""))
        body = "\n".join(lines)
        self.emit(
            f"\\par\\smallskip{{\\small\\noindent\\begin{{tabularx}}{{\\linewidth}}{{@{{}}{spec}@{{}}}}"
            f"\\toprule\n{body}\n\\bottomrule\\end{{tabularx}}}}\\par\\smallskip\n"
        )

    # inline tokens -----------------------------------------------------------------------------
    def inline(self, children: list[Token]) -> None:
        if self.lead:
            self.emit("\\leavevmode" + self.lead)
            self.lead = ""
        for token in children:
            kind = token.type
            if kind == "text":
                self.emit(escape_text(token.content))
            elif kind == "softbreak":
                self.emit("\n")
            elif kind == "hardbreak":
                self.emit("\\hfil\\break\n")
            elif kind == "code_inline":
                self.emit(r"\texttt{" + _code_text(token.content) + "}")
            elif kind in _OPENERS:
                self.emit(_OPENERS[kind])
            elif kind in ("strong_close", "em_close", "s_close", "sub_close", "sup_close"):
                self.emit("}")
            elif kind == "link_open":
                self.links.append(safe_href(str(token.attrs.get("href", ""))))
            elif kind == "link_close":
                href = self.links.pop() if self.links else None
                if href:
                    self.emit(r"\ekurl{" + _code_text(href) + "}")
            elif kind == "image":
                alt = "".join(c.content for c in token.children or [])
                self.emit(r"[image: " + escape_text(alt) + "]")
            elif kind == "math_inline":
                display = bool(token.meta.get("display")) and not (
                    self.margin or self.heading or self.cell is not None
                )
                self.emit(math_latex(token.content, display=display))
            elif kind in ("html_inline", "html_block"):
                self.emit(escape_text(token.content))


def to_latex(text: str, *, margin: bool = False, lead: str = "") -> str:
    """``text`` (Markdown with TeX math) as LaTeX that runs no command the text names; ``lead`` (TeX)
    goes on its first line."""
    return _Writer(margin, lead).block(parse(text))
