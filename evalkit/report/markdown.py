"""Model and user text as Markdown with TeX math: parsing, and rendering to safe HTML.

:func:`parse` is markdown-it (CommonMark with tables and strikethrough) plus
math: ``$...$`` and ``\\(...\\)`` inline, ``$$...$$``, ``\\[...\\]`` and
``\\begin{align}...`` blocks. Raw HTML is never passed on: the inline tags of
:data:`~evalkit.report.allowlist.HTML_TAGS` (``<code>d_model</code>`` in a
table), closed within their paragraph, become the Markdown they mean (bold,
code, ...), without attributes; every other tag is text. The LaTeX writer in
:mod:`evalkit.report.latexmd` renders the same tokens.

:func:`to_html` renders math to MathML on the server, code with Pygments,
tables as tables; links only for ``http``, ``https`` and ``mailto``; images
as their alt text (a report never fetches anything when it is viewed).

Example::

    to_html("**Part (a)** $\\\\boxed{d\\\\mu^2}$")
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup

from evalkit.report.allowlist import HTML_TAGS
from evalkit.report.mathml import to_mathml

__all__ = ["MAX_TEXT_CHARS", "code_lexer", "parse", "safe_href", "to_html", "to_html_inline"]

MAX_TEXT_CHARS = 200_000  # a longer message is cut (and says so)
MAX_HIGHLIGHT_CHARS = 60_000  # longer code is shown without colours
_MATH_ENVS = r"(?:equation|align|aligned|gather|gathered|multline|eqnarray|alignat|flalign)\*?"
_BEGIN_ENV = re.compile(r"\\begin\{(" + _MATH_ENVS + r")\}")


# --- math in markdown-it ----------------------------------------------------------------------------


def _math_inline(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if src.startswith("\\(", pos) or src.startswith("\\[", pos):
        close = "\\)" if src[pos + 1] == "(" else "\\]"
        end = src.find(close, pos + 2)
        if end < 0:
            return False
        content, display, stop = src[pos + 2 : end], close == "\\]", end + 2
    elif src.startswith("$$", pos):
        end = src.find("$$", pos + 2)
        if end < 0 or not src[pos + 2 : end].strip():
            return False
        content, display, stop = src[pos + 2 : end], True, end + 2
    elif src[pos] == "$":
        # pandoc's rule: no space after the opening $, none before the closing one, no digit after
        # it; and the next unescaped $ must be that closing one ("costs $5 and $10" is not math)
        if pos + 1 >= state.posMax or src[pos + 1].isspace():
            return False
        end = pos + 1
        while True:
            end = src.find("$", end)
            if end < 0 or end >= state.posMax:
                return False
            if src[end - 1] != "\\":
                break
            end += 1
        if src[end - 1].isspace() or (end + 1 < len(src) and src[end + 1].isdigit()):
            return False
        content, display, stop = src[pos + 1 : end], False, end + 1
    else:
        return False
    if not silent:
        token = state.push("math_inline", "math", 0)
        token.content = content
        token.meta = {"display": display}
    state.pos = stop
    return True


def _math_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    if state.is_code_block(start):
        return False
    begin = state.bMarks[start] + state.tShift[start]
    first = state.src[begin : state.eMarks[start]]
    env = _BEGIN_ENV.match(first)
    if first.startswith("$$"):
        opener, closer = "$$", "$$"
    elif first.startswith("\\["):
        opener, closer = "\\[", "\\]"
    elif env:
        opener, closer = "", f"\\end{{{env.group(1)}}}"
    else:
        return False
    text = first[len(opener) :]
    line = start
    while True:
        at = text.find(closer)
        if at >= 0:
            if text[at + len(closer) :].strip():
                return False  # text after the closing delimiter: leave it to the inline rule
            break
        line += 1
        if line >= end:
            return False
        text += "\n" + state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]]
    if silent:
        return True
    content = text[:at] if opener else text[: at + len(closer)]
    if not opener:
        content = first[: len(opener)] + content
    token = state.push("math_block", "math", 0)
    token.content = content.strip()
    token.map = [start, line + 1]
    token.meta = {"display": True}
    state.line = line + 1
    return True


# --- inline HTML: the allow-listed subset as Markdown tokens, the rest as text ----------------------

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)(?:\s[^<>]*?)?\s*(/?)>\Z", re.DOTALL)


def _tag(token: Token) -> tuple[str | None, bool, bool]:
    """What an ``html_inline`` token is: its kind in HTML_TAGS (None: not allowed), closing, self-closing."""
    m = _TAG.match(token.content)
    if m is None:
        return None, False, False
    return HTML_TAGS.get(m.group(2).lower()), bool(m.group(1)), bool(m.group(3))


def _text_token(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _source(token: Token) -> str:
    if token.type in ("text", "code_inline", "html_inline"):
        return token.content
    if token.type in ("softbreak", "hardbreak"):
        return " "
    if token.type == "math_inline":
        return f"${token.content}$"
    return token.markup


def _inline_html(children: list[Token]) -> list[Token]:
    """``children`` with allowed tags as tokens; a tag that is not allowed, not closed within the
    paragraph, or not nested with the Markdown around it becomes text."""
    out: list[Token] = []
    opened: list[tuple[str, Token, int]] = []  # kind, its token in ``out``, Markdown depth at it
    depth, i = 0, 0
    while i < len(children):
        token = children[i]
        i += 1
        if token.type != "html_inline":
            depth += token.nesting
            while opened and depth < opened[-1][2]:  # Markdown closed around an open tag: it stays text
                _revert(opened.pop()[1])
            out.append(token)
            continue
        kind, closing, empty = _tag(token)
        if kind == "br":
            out.append(Token("hardbreak", "br", 0))
        elif kind == "code" and not closing:
            end = next((j for j in range(i, len(children)) if _tag(children[j])[:2] == ("code", True)), None)
            if end is None:
                out.append(_text_token(token.content))
                continue
            code = Token("code_inline", "code", 0, markup="`")
            code.content = "".join(_source(t) for t in children[i:end])
            out.append(code)
            i = end + 1
        elif kind is None or kind == "code" or empty:
            out.append(_text_token(token.content))
        elif not closing:
            opener = Token(f"{kind}_open", kind, 1, markup=token.content)
            opened.append((kind, opener, depth))
            out.append(opener)
        elif opened and opened[-1][0] == kind and opened[-1][2] == depth:
            opened.pop()
            out.append(Token(f"{kind}_close", kind, -1, markup=token.content))
        else:
            out.append(_text_token(token.content))
    for _, opener, _ in opened:
        _revert(opener)
    return out


def _revert(opener: Token) -> None:
    """An HTML opener that never closed: shown as the text it was."""
    opener.type, opener.tag, opener.nesting, opener.content = "text", "", 0, opener.markup


def _html_subset(state: StateCore) -> None:
    for token in state.tokens:
        if token.type == "inline" and token.children:
            token.children = _inline_html(token.children)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt(
        "commonmark",
        {"html": True, "linkify": False, "typographer": False, "maxNesting": 20, "breaks": False},
    )
    md.enable(["table", "strikethrough"])
    md.disable("html_block")  # a line of HTML stays a paragraph, its Markdown read and its tags sifted
    md.core.ruler.push("html_subset", _html_subset)
    md.inline.ruler.before("escape", "math_inline", _math_inline)
    md.block.ruler.before(
        "fence", "math_block", _math_block, {"alt": ["paragraph", "reference", "blockquote", "list"]}
    )
    return md


def clip(text: str) -> str:
    """``text`` cut to :data:`MAX_TEXT_CHARS`, saying so."""
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[:MAX_TEXT_CHARS] + f"\n\n*[… {len(text) - MAX_TEXT_CHARS:,} more characters not shown]*"


def parse(text: str) -> list[Token]:
    """The markdown-it tokens of ``text`` (with ``math_inline`` and ``math_block`` tokens)."""
    return _parser().parse(clip(text))


# --- shared by both renderers ------------------------------------------------------------------------

_SAFE_SCHEMES = ("http://", "https://", "mailto:")


def safe_href(href: str) -> str | None:
    """``href`` if it is an http(s) or mailto link, else None (the link is shown as text)."""
    href = href.strip()
    return href if href.lower().startswith(_SAFE_SCHEMES) and not re.search(r"[\s<>\"']", href) else None


def code_lexer(info: str, code: str) -> Any:
    """The Pygments lexer for a fence's info string (plain text if unknown or too long to colour)."""
    from pygments.lexers import TextLexer, get_lexer_by_name
    from pygments.util import ClassNotFound

    name = re.sub(r"[^\w+#.-]", "", (info or "").split()[0] if info and info.split() else "")
    if not name or len(code) > MAX_HIGHLIGHT_CHARS:
        return TextLexer()
    try:
        return get_lexer_by_name(name.lower())
    except ClassNotFound:
        return TextLexer()


# --- HTML ---------------------------------------------------------------------------------------------


def _render_math(tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    display = bool(token.meta.get("display")) or token.type == "math_block"
    mathml = to_mathml(token.content, display=display)
    if mathml is None:
        delim = "$$" if display else "$"
        source = html.escape(f"{delim}{token.content}{delim}")
        tag = "pre" if token.type == "math_block" else "code"
        return f'<{tag} class="math-source" title="formula shown as written">{source}</{tag}>'
    if token.type == "math_block":
        return f'<div class="math-display">{mathml}</div>\n'
    if display:
        return f'<span class="math-display">{mathml}</span>'
    return mathml


def _render_fence(tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter

    token = tokens[idx]
    code = token.content
    lexer = code_lexer(token.info, code)
    body = highlight(code, lexer, HtmlFormatter(cssclass="hl", wrapcode=True))
    return body


def _render_image(tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    alt = "".join(child.content for child in token.children or [])
    return f'<span class="image-alt">[image: {html.escape(alt)}]</span>'


def _prepare_html(tokens: list[Token]) -> None:
    """Shift headings below the report's own, wrap tables, and neuter unsafe links."""
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + 3)}"
        for child in token.children or []:
            if child.type == "link_open":
                href = safe_href(str(child.attrs.get("href", "")))
                if href is None:
                    child.tag, child.attrs = "span", {"class": "link-text"}
                    child.meta["blocked"] = True
                else:
                    child.attrs = {"href": href, "rel": "noopener noreferrer nofollow"}
        # a link_close must close what its link_open opened
        stack: list[Token] = []
        for child in token.children or []:
            if child.type == "link_open":
                stack.append(child)
            elif child.type == "link_close" and stack:
                child.tag = stack.pop().tag


@lru_cache(maxsize=1)
def _html_renderer() -> RendererHTML:
    renderer = RendererHTML()
    rules: dict[str, Any] = {
        "math_inline": _render_math,
        "math_block": _render_math,
        "fence": _render_fence,
        "code_block": _render_fence,
        "image": _render_image,
        "html_inline": lambda tokens, idx, *a: html.escape(tokens[idx].content),  # never left, but never raw
        "html_block": lambda tokens, idx, *a: html.escape(tokens[idx].content),
        "table_open": lambda *a: '<div class="table-wrap"><table>\n',
        "table_close": lambda *a: "</table></div>\n",
    }
    renderer.rules.update(rules)
    return renderer


def to_html(text: str) -> Markup:
    """``text`` (Markdown with TeX math) as safe HTML."""
    tokens = parse(text)
    _prepare_html(tokens)
    return Markup(_html_renderer().render(tokens, _parser().options, {}))


def to_html_inline(text: str) -> Markup:
    """Like :func:`to_html`, without the paragraph around a one-paragraph text (a table cell, a margin line)."""
    tokens = parse(text)
    _prepare_html(tokens)
    if [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"]:
        tokens = tokens[1:2]
    return Markup(_html_renderer().render(tokens, _parser().options, {}))
