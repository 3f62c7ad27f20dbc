"""Where math and code sit in a reply: delimiters, boxes, code spans and fences, and math in plain text.

Every finder returns :class:`Span` objects with offsets into the text it was
given, so callers can mask what they have already read (``mask``) and report
lines. ``canonical`` gives a spelling-insensitive key for the name of a
quantity, so ``\\mathbb{E}[q^\\top k]``, ``E[qᵀk]`` and ``\\text{E}(q^T k)``
compare equal.

Example::

    display, inline = math_blocks("So $$s = \\sqrt{d}$$ as $d$ grows.")
    [s.content for s in display], [s.content for s in inline]      # (['s = \\sqrt{d}'], ['d'])
    [s.content for s in plain_math("Answer: s = sqrt(d), so Var = 1")]   # ['s = sqrt(d)', 'Var = 1']
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "Span",
    "boxes",
    "canonical",
    "code_spans",
    "concluded",
    "equation_sides",
    "fence_ranges",
    "last_segment",
    "mask",
    "math_blocks",
    "plain_markup",
    "plain_math",
]


@dataclass(frozen=True)
class Span:
    """A piece of a text: ``text[start:end]`` holds it; ``content`` is what is inside its delimiters."""

    start: int
    end: int
    content: str
    kind: str  # boxed | display math | inline math | inline code | plain math | line


def mask(text: str, spans: list[Span] | list[tuple[int, int]]) -> str:
    """``text`` with each span blanked out (offsets kept; newlines kept so lines still count)."""
    chars = list(text)
    for span in spans:
        start, end = (span.start, span.end) if isinstance(span, Span) else span
        for i in range(start, end):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?(?:^[ \t]*\1[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)


def fence_ranges(text: str) -> list[tuple[int, int]]:
    """The fenced code blocks of ``text`` as (start, end) offsets."""
    return [(m.start(), m.end()) for m in _FENCE.finditer(text)]


def balanced_end(text: str, open_at: int) -> int:
    """Index just after the brace group opening at ``text[open_at]``, or -1 if unbalanced."""
    depth = 0
    i = open_at
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def boxes(text: str) -> list[Span]:
    """Every ``\\boxed{...}`` (or ``\\fbox``) as a span whose content is inside the braces."""
    out = []
    for match in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        end = balanced_end(text, match.end() - 1)
        if end > 0:
            out.append(Span(match.start(), end, text[match.end() : end - 1], "boxed"))
    return out


_DISPLAY = re.compile(
    r"\$\$(?P<a>.+?)\$\$|\\\[(?P<b>.+?)\\\]"
    r"|\\begin\{(?P<env>equation|align|aligned|gather|multline|displaymath|eqnarray)(?P<star>\*?)\}"
    r"(?P<c>.+?)\\end\{(?P=env)(?P=star)\}",
    re.DOTALL,
)
_INLINE = re.compile(r"(?<![\\$])\$(?!\$)(?P<a>[^$\n]+?)(?<!\\)\$(?!\d)|\\\((?P<b>.+?)\\\)", re.DOTALL)


def math_blocks(text: str) -> tuple[list[Span], list[Span]]:
    """Display (``$$``, ``\\[``, environments) and inline (``$``, ``\\(``) math, outside code fences."""
    hidden = mask(text, fence_ranges(text))
    display = []
    for m in _DISPLAY.finditer(hidden):
        group = next(g for g in ("a", "b", "c") if m.group(g) is not None)
        display.append(Span(m.start(), m.end(), text[m.start(group) : m.end(group)], "display math"))
    inline = []
    for m in _INLINE.finditer(mask(hidden, display)):
        group = "a" if m.group("a") is not None else "b"
        inline.append(Span(m.start(), m.end(), text[m.start(group) : m.end(group)], "inline math"))
    return display, inline


_CODE = re.compile(r"(?<!`)`(?!`)([^`\n]+)`(?!`)|<code>(.+?)</code>")


def code_spans(text: str) -> list[Span]:
    """Inline code spans (`` `x` `` and ``<code>x</code>``), outside code fences."""
    hidden = mask(text, fence_ranges(text))
    return [
        Span(m.start(), m.end(), m.group(1) if m.group(1) is not None else m.group(2), "inline code")
        for m in _CODE.finditer(hidden)
    ]


# -- math in plain text ----------------------------------------------------------------------------

_MATH_CHARS = set("=+*/^_()[]|<>≤≥≠≈√‖·×²³⁴ᵀ⊤∈ℝ∑∏∞−±∝→⇒{}\\'&")
_GREEK = set("αβγδεζηθικλμνξπρστυφχψωΘΛΣΦΨΩϕ")
_FUNCS = re.compile(r"^(?:sqrt|log|ln|exp|max|min|softmax|sim|phi|Var|var|Cov|E|O|Theta|Omega|tr|det|sum)\(")
_MATH_WORDS = {
    "mu", "sigma", "pi", "alpha", "beta", "lambda", "theta", "phi", "sqrt", "eta", "tau", "inf",
    "log", "ln", "exp", "sin", "cos", "tan", "max", "min", "lim", "det", "tr", "mod",
}  # fmt: skip
_WORD = re.compile(r"^[A-Za-z]{2,}[.,;:!?]?$")
_ARTICLES = {"a", "A", "I"}
_CONNECTORS = {
    "=",
    "+",
    "-",
    "*",
    "/",
    "^",
    "·",
    "×",
    "≤",
    "≥",
    "<",
    ">",
    "≈",
    "→",
    "&",
    "≠",
    "±",
    "−",
    "=>",
    "<=",
    ">=",
    "...",  # '1 + 1 + ... + 1 = d': an ellipsis inside a run of math is part of it
    "…",
    "⋯",
}


_LABEL_TOKEN = re.compile(r"^\(?(?:[a-hA-H]|i{1,3}|iv|vi{0,3})\)[.,:]?$|^[a-hA-H]\.$")


def _mathish(token: str) -> bool:
    core = token.strip('.,;:!?"“”')
    if not core:
        return False
    if re.search(r"[A-Za-z]'[A-Za-z]", core):  # doesn't, it's
        return False
    if re.fullmatch(r"[-+−][A-Za-z0-9]{1,3}", core) or re.fullmatch(r"[\w.]+(?::[\w.]+)+", core):
        return True  # '-x', '-3z', '+a'; a ratio 'a:b'

    inner = core.strip("()[]{}")
    if re.fullmatch(r"[A-Za-z]{2,}", inner) and re.search(r"[aeiouyAEIOUY]", inner):
        if inner.lower() not in _MATH_WORDS and not _FUNCS.match(core):
            return False  # a word in brackets: '(If', 'vector)'
    if any(ch in _MATH_CHARS or ch in _GREEK or ch.isdigit() for ch in core) or _FUNCS.match(core):
        return True
    if core.lower() in _MATH_WORDS or (len(core) == 1 and core.isalpha()):
        return True
    # a run of letters without a vowel is a product of symbols (bnd, nd), not an English word
    return core.isalpha() and len(core) <= 5 and not re.search(r"[aeiouyAEIOUY]", core)


def plain_math(text: str) -> list[Span]:
    """Runs of math written without delimiters (``s = sqrt(d)``, ``O(N^2 D)``, ``dμ²``) in ``text``.

    A run is a sequence of math-looking tokens (operators, digits, Greek and
    math symbols, LaTeX commands, function calls, single letters, vowel-less
    letter runs such as ``bnd``); prose words end it, and so does sentence
    punctuation outside brackets. A lone article (``a``, ``I``) before a word is not math.
    """
    out: list[Span] = []
    offset = 0
    for line in text.splitlines(keepends=True):  # math in plain text does not run across lines
        spans = _joined(line, _plain_line(line))
        out += [Span(s.start + offset, s.end + offset, s.content, s.kind) for s in spans]
        offset += len(line)
    return out


# what may stand between two pieces of one answer: '1, 2, 3', '2 : 3', 'x = 1 or x = 2', '28 percent'
_JOINER = re.compile(
    r"\s*(?:[,;:&]|\band\b|\bor\b|\bto\b|\\text\s*\{[^{}]{0,12}\}|\\(?:q?quad|,|;))\s*",
    re.IGNORECASE,
)
_AFTER_NUMBER = re.compile(r"\s*(?:percent|per cent|%|degrees?|°)(?![A-Za-z])", re.IGNORECASE)


def _joined(line: str, spans: list[Span]) -> list[Span]:
    """Join the pieces of one answer that list punctuation or 'and'/'or' separate, when the whole
    line is that answer (nothing but math and joiners on it)."""
    if len(spans) < 2:
        return _with_unit(line, spans)
    gaps = [line[a.end : b.start] for a, b in itertools.pairwise(spans)]
    lead, tail = line[: spans[0].start], line[spans[-1].end :]
    if all(_JOINER.fullmatch(g) for g in gaps) and not lead.strip(" \t>*-•") and not tail.strip(" \t.,;\n"):
        start, end = spans[0].start, spans[-1].end
        return _with_unit(line, [Span(start, end, line[start:end], "plain math")])
    return _with_unit(line, spans)


def _with_unit(line: str, spans: list[Span]) -> list[Span]:
    """A number's word unit is part of it: '28 percent', '90 degrees'."""
    out = []
    for span in spans:
        unit = _AFTER_NUMBER.match(line, span.end)
        if unit and re.search(r"\d\s*$", span.content):
            span = Span(span.start, unit.end(), line[span.start : unit.end()], span.kind)
        out.append(span)
    return out


def _plain_line(text: str) -> list[Span]:
    out: list[Span] = []
    # a '\\text{Total: }' group is one token, spaces and all
    tokens = [(m.start(), m.end(), m.group(0)) for m in re.finditer(r"\\[A-Za-z]+\{[^{}\n]*\}\S*|\S+", text)]
    run: list[tuple[int, int, str]] = []

    def close() -> None:
        while run and run[-1][2] in _CONNECTORS:
            run.pop()
        while run and run[0][2] in _CONNECTORS - {"-", "−"}:
            run.pop(0)
        if run:
            start, end = run[0][0], run[-1][1]
            content = _trim_unbalanced(text[start:end].rstrip(".,;:!?"))
            offset = text.find(content, start) if content else -1
            if content and offset >= 0 and re.search(r"[\w∞√‖∅\\]", content):  # '**' or '->' alone is no math
                out.append(Span(offset, offset + len(content), content, "plain math"))
        run.clear()

    for i, (start, end, token) in enumerate(tokens):
        if token in _CONNECTORS:
            if run:
                run.append((start, end, token))
            elif (
                token in ("-", "−")
                and i + 1 < len(tokens)
                and _mathish(tokens[i + 1][2])
                and text[text.rfind("\n", 0, start) + 1 : start].strip()  # a '- ' opening a line is a bullet
            ):
                run.append((start, end, token))
            continue
        closes_bracket = token.rstrip(".,;:!?").endswith(")") and not _balanced(run)
        after_operator = bool(run) and run[-1][2] in _CONNECTORS  # '= d.' ends an equation, labels no part
        if not _mathish(token) or (_LABEL_TOKEN.match(token) and not closes_bracket and not after_operator):
            close()  # a word, or a part's label ('(a)', 'b)', 'c.'), not the ')' closing 'O(N^2 D)'
            continue
        if token in _ARTICLES and i + 1 < len(tokens) and _WORD.match(tokens[i + 1][2]):
            close()
            continue
        run.append((start, end, token))
        if (
            token[-1] in ".,;:!?"
            and not token.endswith("...")
            and _balanced(run)
            and not (token[-1] == "," and any("\\" in t for _, _, t in run))
        ):
            close()
    close()
    return out


def _balanced(run: list[tuple[int, int, str]]) -> bool:
    joined = "".join(t for _, _, t in run)
    return joined.count("(") <= joined.count(")") and joined.count("[") <= joined.count("]")


def _trim_unbalanced(content: str) -> str:
    """Drop an unmatched closing bracket at the end (``(which is sqrt(d))`` read from inside).

    Round and square brackets count together, so a half-open interval ``[0, 1)`` stays whole.
    """

    def opens(t: str) -> int:
        return t.count("(") + t.count("[")

    def closes(t: str) -> int:
        return t.count(")") + t.count("]")

    while content.endswith((")", "]")) and closes(content) > opens(content):
        content = content[:-1].rstrip()
    while content.startswith(("(", "[")) and opens(content) > closes(content):
        content = content[1:].lstrip()
    while opens(content) > closes(content):  # 'O(d^2 + n*d)  (4 projections ...': a remark opens after it
        unclosed = _unclosed(content)
        if not unclosed or not content[unclosed - 1].isspace():
            break
        content = content[:unclosed].rstrip()
    return content


def _unclosed(content: str) -> int | None:
    """Where the last bracket that ``content`` never closes opens (round and square count together)."""
    stack: list[int] = []
    for i, ch in enumerate(content):
        if ch in "([":
            stack.append(i)
        elif ch in ")]" and stack:
            stack.pop()
    return stack[-1] if stack else None


# -- sides and names -------------------------------------------------------------------------------

_IMPLIES = re.compile(
    r"\\(?:implies|Rightarrow|Longrightarrow|therefore|to)(?![a-zA-Z])|⟹|⇒|=>|→|⟶|\\quad\\text\{(?:so|hence|thus)\}"
)


def last_segment(content: str) -> str:
    """The last step of ``a = b \\implies c = d`` (the whole text when there is no implication)."""
    parts = [p for p in _IMPLIES.split(content) if p.strip()]
    return parts[-1].strip() if parts else content.strip()


def concluded(content: str) -> str:
    """What ``2bd^2 + 2bnd \\to O(bd^2 + bnd)`` concludes: the text after its last implication arrow
    outside any braces or brackets (``\\lim_{x \\to \\infty}`` holds none); the whole text without one."""
    cut = None
    for m in _IMPLIES.finditer(content):
        before = content[: m.start()]
        depth = sum(before.count(o) - before.count(c) for o, c in ("{}", "()", "[]"))
        if depth == 0 and content[m.end() :].strip():
            cut = m.end()
    return content[cut:].strip() if cut is not None else content


def equation_sides(content: str) -> list[str]:
    """The sides of ``A = B = C`` split at top-level ``=`` (not inside braces or brackets)."""
    sides, depth, start = [], 0, 0
    i = 0
    while i < len(content):
        ch = content[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif (
            ch == "="
            and depth == 0
            and content[i - 1 : i] not in ("<", ">", "!", ":")
            and content[i + 1 : i + 2] != "="
        ):
            sides.append(content[start:i])
            start = i + 1
        i += 1
    sides.append(content[start:])
    return [s.strip() for s in sides]


_CANON_REPLACE = [
    (r"\\(?:left|right|big|Big|bigg|Bigg)(?![a-zA-Z])", ""),
    (r"\\[,;:!> ]|\\quad|\\qquad|~", ""),
    (
        r"\\(?:mathbb|mathbf|mathrm|mathit|mathsf|text|textrm|textit|operatorname|boldsymbol|bm)\s*\{([^{}]*)\}",
        r"\1",
    ),
    (r"\^\s*\{?\s*(?:\\top|T|\\intercal|⊤|ᵀ)\s*\}?|ᵀ|⊤|\\top", "^T"),
    (r"\\cdot|·|⋅|\\times|×", "*"),
    (r"[{}\s]", ""),
    (r"[\[]", "("),
    (r"[\]]", ")"),
]
_GREEK_NAMES = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "η": "eta", "θ": "theta",
    "λ": "lambda", "μ": "mu", "ν": "nu", "π": "pi", "ρ": "rho", "σ": "sigma", "τ": "tau", "φ": "phi",
    "ϕ": "phi", "ψ": "psi", "ω": "omega", "𝔼": "E", "²": "^2", "³": "^3", "′": "'",
}  # fmt: skip


def canonical(name: str) -> str:
    """A spelling-insensitive key for a quantity's name (``\\mathbb{E}[q^\\top k]`` → ``E(q^Tk)``)."""
    text = "".join(_GREEK_NAMES.get(ch, ch) for ch in name)
    text = re.sub(
        r"\\(alpha|beta|gamma|delta|epsilon|varepsilon|eta|theta|lambda|mu|nu|pi|rho|sigma|tau|phi|varphi|psi|omega)(?![a-zA-Z])",
        lambda m: m.group(1).replace("var", ""),
        text,
    )
    for pattern, repl in _CANON_REPLACE:
        text = re.sub(pattern, repl, text)
    text = re.sub(r"^(?:Var|var|VAR)\(", "Var(", text)
    return text.replace("\\", "")


# -- HTML in replies --------------------------------------------------------------------------------

_TAGS = re.compile(
    r"</?(?:b|strong|i|em|u|br|p|div|span|sup|sub|code|pre|h[1-6]|ul|ol|li|hr)\b[^<>]{0,200}>", re.IGNORECASE
)


_RST_ROLE = re.compile(r":math:`([^`\n]+)`")
_RST_BLOCK = re.compile(r"^\.\. math::[ \t]*(\S[^\n]*)?\n((?:[ \t]*\n|[ \t]+\S[^\n]*\n?)+)", re.MULTILINE)


def _rst_math(text: str) -> str:
    """reStructuredText math (``:math:`x^2```, a ``.. math::`` block) as ``$x^2$`` and ``$$...$$``."""
    if ":math:" not in text and ".. math::" not in text:
        return text

    def block(m: re.Match[str]) -> str:
        body = "\n".join(
            line.strip() for line in [m.group(1) or "", *m.group(2).splitlines()] if line.strip()
        )
        return f"$$\n{body}\n$$\n\n"

    return _RST_ROLE.sub(lambda m: f"${m.group(1)}$", _RST_BLOCK.sub(block, text))


_QUOTED = re.compile(r"^[ \t]*>[ \t]?", re.MULTILINE)


def _unquote_code(text: str) -> str:
    """A blockquote that holds a code block (``> **Answer:**`` then ``> ```python``) without its ``>``
    marks, so the code reads as code; other blockquotes stay as written."""
    if "> ```" not in text and ">```" not in text and "> ~~~" not in text:
        return text
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if any(re.match(r"^[ \t]*>[ \t]?[ \t]*(?:```|~~~)", line) for line in run):
            out.extend(_QUOTED.sub("", line, count=1) for line in run)
        else:
            out.extend(run)
        run.clear()

    for line in text.splitlines(keepends=True):
        if re.match(r"^[ \t]*>", line):
            run.append(line)
            continue
        flush()
        out.append(line)
    flush()
    return "".join(out)


def _outside_fences(text: str, convert: Callable[[str], str]) -> str:
    """``convert`` applied to the text between fenced code blocks; the blocks stay as written."""
    pieces, last = [], 0
    for start, end in fence_ranges(text):
        pieces.append(convert(text[last:start]))
        pieces.append(text[start:end])
        last = end
    pieces.append(convert(text[last:]))
    return "".join(pieces)


# a reasoning model's thinking, shown in its reply: the answer is what follows it
_THINKING = re.compile(r"<(think|thinking|reasoning)>.*?</\1>[ \t]*\n?", re.DOTALL | re.IGNORECASE)
_DEFINITION = re.compile(r"^(?P<term>[^\s:>|`][^\n]*)\n(?P<defs>(?::[ \t]+[^\n]*(?:\n|$))+)", re.MULTILINE)


def _definition_lists(text: str) -> str:
    """Markdown definition lists (a term line, then ``:   definition`` lines) as a bold heading whose
    first definition is its answer: ``A (shape of W_q)`` / ``:   [h, d, q]`` reads as
    ``**A (shape of W_q)**`` / ``**Answer:** [h, d, q]``; later definitions are its explanation."""
    if "\n:" not in text:
        return text

    def heading(m: re.Match[str]) -> str:
        defs = [re.sub(r"^:[ \t]+", "", line) for line in m.group("defs").splitlines()]
        end = "\n" if m.group("defs").endswith("\n") else ""
        rest = "".join(f"\n\n{d}" for d in defs[1:])
        return f"**{m.group('term').strip().strip('*')}**\n\n**Answer:** {defs[0]}{rest}{end}"

    return _outside_fences(text, lambda chunk: _DEFINITION.sub(heading, chunk))


# -- other markups: struck-out text, org-mode, AsciiDoc --------------------------------------------

_STRUCK = re.compile(
    r"~~(?=\S)(?P<body>[^\n]*?\S)~~|<(?P<tag>del|s|strike)\b[^<>]*>.*?</(?P=tag)>", re.IGNORECASE
)


def _strikethrough(text: str) -> str:
    """Text struck out (``~~$s = d$~~ → $s = \\sqrt{d}$``, ``<del>…</del>``) removed: a model strikes
    what it takes back. A ``~~`` inside math (LaTeX spacing, ``$a~~b$``) is not a strike."""
    if (
        "~~" not in text
        and "<del" not in text.lower()
        and "<s>" not in text.lower()
        and "<strike" not in text.lower()
    ):
        return text

    def convert(chunk: str) -> str:
        display, inline = math_blocks(chunk)
        inside = [(m.start, m.end) for m in [*display, *inline]]

        def strike(m: re.Match[str]) -> str:
            if any(a < m.start() < b or a < m.end() - 1 < b for a, b in inside):
                return m.group(0)
            return ""

        return _STRUCK.sub(strike, chunk)

    return _outside_fences(text, convert)


_ORG_BLOCK = re.compile(
    r"^[ \t]*#\+begin_(?P<kind>src|example)(?:[ \t]+(?P<lang>[\w+-]+))?[^\n]*\n(?P<body>.*?)^[ \t]*#\+end_(?P=kind)[ \t]*$",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)
_ORG_HEADLINE = re.compile(r"^(\*+)[ \t]+(?=\S)", re.MULTILINE)
_ORG_TABLE_RULE = re.compile(r"^([ \t]*\|)([-+]+)(\|[ \t]*)$", re.MULTILINE)
_ORG_VERBATIM = re.compile(
    r"(?<![\w=~`$\\])(?P<d>[=~])(?=[^\s=~])(?P<body>[^\n=~`$]*?[^\s=~\\])(?P=d)(?![\w=~`$])"
)


def _org_mode(text: str) -> str:
    """An org-mode reply as Markdown: ``#+begin_src python`` blocks as fences, ``* Part (a)`` headlines
    as headings, ``=code=`` and ``~code~`` as code spans, ``|---+---|`` table rules as ``|---|---|``.
    Only a reply with an org block (``#+begin_src``/``#+begin_example``) or an org table rule is read so."""
    if not re.search(
        r"^[ \t]*#\+begin_(?:src|example)\b", text, re.IGNORECASE | re.MULTILINE
    ) and not re.search(r"^[ \t]*\|-+\+[-+]*\|[ \t]*$", text, re.MULTILINE):
        return text
    text = _ORG_BLOCK.sub(lambda m: f"```{m.group('lang') or ''}\n{m.group('body')}```", text)

    def convert(chunk: str) -> str:
        chunk = _ORG_HEADLINE.sub(lambda m: "#" * min(len(m.group(1)) + 1, 6) + " ", chunk)
        chunk = _ORG_TABLE_RULE.sub(lambda m: m.group(1) + m.group(2).replace("+", "|") + m.group(3), chunk)
        display, inline = math_blocks(chunk)
        inside = [(m.start, m.end) for m in [*display, *inline]]

        def verbatim(m: re.Match[str]) -> str:
            if any(a <= m.start() < b for a, b in inside):
                return m.group(0)
            return f"`{m.group('body')}`"

        return _ORG_VERBATIM.sub(verbatim, chunk)

    return _outside_fences(text, convert)


_ADOC_LISTING = re.compile(
    r"^(?:\[source(?:,[ \t]*(?P<lang>[\w+-]+))?[^\]\n]*\][ \t]*\n)?(?P<fence>-{4,}|\.{4,})[ \t]*\n(?P<body>.*?)^(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
_ADOC_TABLE = re.compile(r"^\|===[ \t]*\n(?P<body>.*?)^\|===[ \t]*$", re.MULTILINE | re.DOTALL)


def _adoc_table(m: re.Match[str]) -> str:
    """An AsciiDoc table (``|===``, cells ``|a |b``, the first row its header) as a Markdown table."""
    rows = [line.strip() for line in m.group("body").splitlines() if line.strip().startswith("|")]
    cells = [[c.strip() for c in row[1:].split("|")] for row in rows]
    if not cells:
        return m.group(0)
    width = max(len(c) for c in cells)
    lines = [f"| {' | '.join(c + [''] * (width - len(c)))} |" for c in cells]
    lines.insert(1, "|" + "---|" * width)
    return "\n".join(lines)


def _asciidoc(text: str) -> str:
    """An AsciiDoc reply as Markdown: ``[source,python]`` + ``----`` listings (and bare ``----`` ones)
    as fences, ``== Question 3`` headings as ``##``, ``|===`` tables as Markdown tables. Only a reply
    with a ``[source…]`` block, a ``|===`` table, or ``==`` headings and a ``----`` listing is read so."""
    has_headings = len(re.findall(r"^={2,6}[ \t]+\S", text, re.MULTILINE)) >= 1
    if not (
        re.search(r"^\[source\b", text, re.MULTILINE)
        or re.search(r"^\|===[ \t]*$", text, re.MULTILINE)
        or (has_headings and re.search(r"^-{4,}[ \t]*$", text, re.MULTILINE))
    ):
        return text
    text = _ADOC_LISTING.sub(lambda m: f"```{m.group('lang') or ''}\n{m.group('body')}```", text)

    def convert(chunk: str) -> str:
        chunk = _ADOC_TABLE.sub(_adoc_table, chunk)
        chunk = re.sub(
            r"^\[(?:cols|options|%header|source)[^\]\n]*\][ \t]*$\n?", "", chunk, flags=re.MULTILINE
        )
        return re.sub(
            r"^(={1,6})[ \t]+(?=\S)", lambda m: "#" * len(m.group(1)) + " ", chunk, flags=re.MULTILINE
        )

    return _outside_fences(text, convert)


def plain_markup(text: str) -> str:
    """A reply written in HTML (``<b>Part 1:</b>``, ``d&mu;<sup>2</sup>``, ``<br>``), with
    reStructuredText math roles or Markdown definition lists as the Markdown and math the readers
    understand, without a ``<think>`` block; other text is returned as it is. Code blocks stay as written."""
    text = _strikethrough(_asciidoc(_org_mode(_THINKING.sub("", text))))
    text = _definition_lists(_unquote_code(text))
    if not _TAGS.search(text) and "&" not in text and ":math:" not in text and ".. math::" not in text:
        return text
    import html

    def convert(chunk: str) -> str:
        chunk = re.sub(r"<br\s*/?>", "\n", chunk, flags=re.IGNORECASE)
        chunk = re.sub(r"</?p\b[^<>]*>|</?div\b[^<>]*>|<hr\s*/?>", "\n\n", chunk, flags=re.IGNORECASE)
        chunk = re.sub(
            r"<h([1-6])\b[^<>]*>(.*?)</h\1>",
            lambda m: "\n" + "#" * int(m.group(1)) + " " + m.group(2) + "\n",
            chunk,
            flags=re.IGNORECASE | re.DOTALL,
        )
        chunk = re.sub(r"<li\b[^<>]*>", "\n- ", chunk, flags=re.IGNORECASE)
        chunk = re.sub(
            r"<(?:b|strong)\b[^<>]*>(.*?)</(?:b|strong)>", r"**\1**", chunk, flags=re.IGNORECASE | re.DOTALL
        )
        chunk = re.sub(r"<(?:i|em)\b[^<>]*>(.*?)</(?:i|em)>", r"*\1*", chunk, flags=re.IGNORECASE | re.DOTALL)
        chunk = re.sub(r"<sup>(.*?)</sup>", r"^{\1}", chunk, flags=re.IGNORECASE | re.DOTALL)
        chunk = re.sub(r"<sub>(.*?)</sub>", r"_{\1}", chunk, flags=re.IGNORECASE | re.DOTALL)
        chunk = re.sub(r"<code>(.*?)</code>", r"`\1`", chunk, flags=re.IGNORECASE | re.DOTALL)
        chunk = _TAGS.sub("", chunk)
        return _rst_math(html.unescape(chunk) if "&" in chunk else chunk)

    return _outside_fences(text, convert)  # code blocks stay as written
